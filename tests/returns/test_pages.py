"""The returns page, notes, drafts, issuing and byte-identical downloads, versions, who may do what, bad input."""
from __future__ import annotations

import hashlib
import io

import openpyxl

from tracker.extensions import db
from tracker.models import AuditEvent, PccReturn

PAGE = "/returns/?year=2025-26&quarter=2"


def test_page_shows_the_same_figures_as_the_workbook(small, client, auth):
    auth.login("finance")
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.text
    for text in ("£26,099.85", "-£18,900.15", "£82,434.40", "-£27,565.60", "VRU-A-001", "£12,500.25", "Evaluation plan"):
        assert text in html, text
    assert "-21.0%" in html


def test_htmx_change_swaps_only_the_body(small, client, auth):
    auth.login("manager")
    r = client.get("/returns/?year=2025-26&quarter=1", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="return-body">') and "<html" not in r.text
    assert "Q1 (Apr-Jun)" in r.text


def test_notes_issue_and_byte_identical_downloads(small, client, auth):
    user = auth.login("manager")
    r = client.post("/returns/2025-26/q2/notes", data={"narrative": "Recruitment delayed: £8,765.44 underspend on SVD."})
    assert r.status_code == 303
    draft = client.get("/returns/2025-26/q2/draft.xlsx")
    assert draft.status_code == 200 and draft.mimetype.endswith("spreadsheetml.sheet")
    notes = openpyxl.load_workbook(io.BytesIO(draft.data))["Notes"]
    assert notes["A4"].value.startswith("Recruitment delayed")

    r = client.post("/returns/2025-26/q2/issue")
    assert r.status_code == 303
    db.session.expire_all()
    record = db.session.scalar(db.select(PccReturn).where(PccReturn.status == "issued"))
    assert (record.version, record.issued_by_id, record.quarter) == (1, user.id, 2)
    assert record.issued_at is not None and len(record.sha256) == 64
    assert "/static/" not in record.stored_path and not record.stored_path.startswith("/")

    first = client.get(f"/returns/issued/{record.id}.xlsx")
    assert first.status_code == 200
    assert hashlib.sha256(first.data).hexdigest() == record.sha256 == first.headers["X-Content-SHA256"]
    assert len(first.data) == record.size_bytes
    # The figures change after issue; the issued file does not.
    from tests.factories import Factories
    from datetime import date

    Factories(db.session).ledger_line(date(2025, 8, 20), 1_000_00, budget_line=db.session.get(type(small.l2), small.l2.id))
    db.session.commit()
    again = client.get(f"/returns/issued/{record.id}.xlsx")
    assert again.data == first.data
    wb = openpyxl.load_workbook(io.BytesIO(first.data))
    cover = {r[0]: r[1] for r in wb["Cover"].iter_rows(min_row=3, max_col=2, values_only=True) if r[0]}
    assert cover["Status"] == "Issued" and cover["Version"] == 1 and cover["Prepared by"] == user.name
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.realm == "returns", AuditEvent.kind == "create"))


def test_a_correction_is_the_next_version_and_earlier_versions_stay(small, client, auth):
    auth.login("finance")
    client.post("/returns/2025-26/q2/notes", data={"narrative": "First."})
    client.post("/returns/2025-26/q2/issue")
    client.post("/returns/2025-26/q2/notes", data={"narrative": "Corrected."})
    client.post("/returns/2025-26/q2/issue")
    db.session.expire_all()
    versions = db.session.scalars(db.select(PccReturn).order_by(PccReturn.version)).all()
    assert [(v.version, v.status, v.narrative) for v in versions] == [(1, "issued", "First."), (2, "issued", "Corrected.")]
    for v in versions:
        r = client.get(f"/returns/issued/{v.id}.xlsx")
        assert hashlib.sha256(r.data).hexdigest() == v.sha256
        assert f"v{v.version}.xlsx" in r.headers["Content-Disposition"]
    page = client.get(PAGE).text
    assert "Issue version 3" in page and "v1.xlsx" in page and "v2.xlsx" in page


def test_viewers_see_and_download_issued_returns_only(small, client, auth, make):
    finance = make.user(role="finance")
    db.session.commit()
    from tracker.returns import service

    service.save_notes(small.year, 2, "Draft words", finance)
    draft = service.get_draft(small.year, 2)
    db.session.commit()
    auth.login("viewer")
    page = client.get(PAGE)
    assert page.status_code == 200 and "not been issued" in page.text and "Draft words" not in page.text
    assert "Download the draft" not in page.text
    assert client.get("/returns/2025-26/q2/draft.xlsx").status_code == 403
    assert client.get(f"/returns/issued/{draft.id}.xlsx").status_code == 404
    assert client.post("/returns/2025-26/q2/issue").status_code == 403
    assert client.post("/returns/2025-26/q2/notes", data={"narrative": "x"}).status_code == 403
    service.issue(small.year, 2, finance)
    db.session.commit()
    page = client.get(PAGE)
    assert "v1.xlsx" in page.text
    r = client.get(f"/returns/issued/{draft.id}.xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"


def test_issuing_in_a_closed_year_is_allowed(small, client, auth):
    small.year.status = "closed"
    db.session.commit()
    auth.login("manager")
    assert client.post("/returns/2025-26/q4/issue").status_code == 303
    db.session.expire_all()
    assert db.session.scalar(db.select(PccReturn.status)) == "issued"


def test_bad_query_strings_and_urls_get_a_message(small, client, auth):
    auth.login("finance")
    r = client.get("/returns/?year=2025-26&quarter=9")
    assert r.status_code == 400 and "choose 1, 2, 3 or 4" in r.text
    r = client.get("/returns/?year=nope")
    assert r.status_code == 400 and "must look like 2025-26" in r.text
    r = client.get("/returns/?year=2031-32")
    assert r.status_code == 404 and "no funding year 2031-32" in r.text
    assert client.get("/returns/2025-26/q7/draft.xlsx").status_code == 400
    assert client.get("/returns/issued/999.xlsx").status_code == 404


def test_notes_too_long_are_refused_with_422_and_nothing_changes(small, client, auth):
    auth.login("manager")
    r = client.post("/returns/2025-26/q2/notes", data={"narrative": "x" * 20_001})
    assert r.status_code == 422 and "There is a problem" in r.text and "<title>Error:" in r.text
    assert db.session.scalar(db.select(db.func.count(PccReturn.id))) == 0
