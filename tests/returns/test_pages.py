"""The returns archive, preparing a return, the confirmation before issuing, issuing (notes saved with it, a reason
for corrections), the on-screen view of what was frozen, byte-identical downloads, who may do what, bad input."""
from __future__ import annotations

import hashlib
import io
import json
import re
from datetime import date

import openpyxl

from tests.factories import Factories
from tracker.extensions import db
from tracker.models import AuditEvent, ForecastSnapshot, PccReturn

PREPARE = "/returns/prepare?year=2025-26&quarter=2"
ISSUE = "/returns/2025-26/q2/issue"


def issue_v(client, narrative: str = "", reason: str = "", version: int = 1):
    """Issue as the confirmation page does: the version checked, the notes shown, the reason typed."""
    return client.post(ISSUE, data={"version": str(version), "narrative": narrative, "correction_reason": reason})


def test_prepare_page_shows_the_same_figures_as_the_workbook(small, client, auth):
    auth.login("finance")
    page = client.get(PREPARE)
    assert page.status_code == 200
    html = page.text
    for text in ("£26,099.85", "-£18,900.15", "£82,434.40", "-£27,565.60", "VRU-A-001", "£12,500.25", "Evaluation plan"):
        assert text in html, text
    assert "-21.0%" in html
    assert "Check and issue version 1" in html and 'hx-post="/returns/2025-26/q2/notes/autosave"' in html


def test_htmx_change_swaps_only_the_body(small, client, auth):
    auth.login("manager")
    r = client.get("/returns/prepare?year=2025-26&quarter=1", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="return-body">') and "<html" not in r.text
    assert "Q1 (Apr-Jun)" in r.text


def test_check_and_issue_saves_the_typed_notes_then_shows_the_confirmation(small, client, auth):
    auth.login("finance")
    r = client.post("/returns/2025-26/q2/notes",
                    data={"narrative": "Recruitment delayed: £8,765.44 underspend on SVD.", "action": "issue"})
    assert r.status_code == 303 and r.headers["Location"].endswith(ISSUE)
    page = client.get(ISSUE)
    assert page.status_code == 200
    html = page.text
    assert "Recruitment delayed: £8,765.44 underspend on SVD." in html  # the notes as they will appear
    # Headline figures per stream and the warnings: spend on no line; red lines the notes do not mention.
    assert "Core grant" in html and "£90,000.00" in html and "£71,099.85" in html
    assert "£99.99 of spend and £0.00 of contracts are not on a budget line" in html
    assert "Red budget lines the notes do not mention" in html and "Mentoring" in html
    assert "The notes are empty" not in html
    assert "Reason for the correction" not in html  # version 1 needs none
    assert "Issue version 1" in html


def test_confirmation_warns_of_empty_notes_and_over_committed_lines(small, client, auth, make):
    make.commission("VRU-A-009", small.l3, value_pence=30_000_00, status="live", title="Big contract")
    db.session.commit()
    auth.login("manager")
    html = client.get(ISSUE).text
    assert "The notes are empty" in html
    assert re.search(r"SVD services \(Serious Violence Duty\) is over-committed: £30,000.00 committed against a "
                     r"budget of £20,000.00", html)


def test_issue_keeps_the_notes_shown_freezes_figures_and_forecasts_and_downloads_are_byte_identical(small, client, auth):
    user = auth.login("manager")
    r = issue_v(client, "Recruitment delayed.\r\nPlan: re-profile into Q3.")
    assert r.status_code == 303
    db.session.expire_all()
    record = db.session.scalar(db.select(PccReturn).where(PccReturn.status == "issued"))
    assert r.headers["Location"].endswith(f"/returns/issued/{record.id}")
    assert (record.version, record.issued_by_id, record.quarter) == (1, user.id, 2)
    assert record.narrative == "Recruitment delayed.\nPlan: re-profile into Q3."
    assert record.issued_at is not None and len(record.sha256) == 64
    assert "/static/" not in record.stored_path and not record.stored_path.startswith("/")
    # Each line's and stream's figures as stated, to the penny.
    snaps = {(s.kind, s.name): s for s in db.session.scalars(db.select(ForecastSnapshot))}
    core = snaps[("stream", "Core grant")]
    assert (core.actual_to_date_pence, core.committed_pence, core.forecast_pence, core.variance_pence) == (
        26_099_85, 36_000_00, 71_099_85, -18_900_15)
    assert snaps[("line", "SVD services")].profile == [0, 10_000_00, 5_000_00, 5_000_00]
    assert snaps[("not_on_a_line", "Not on a budget line")].forecast_pence == 99_99
    assert json.loads(record.frozen)["narrative"] == record.narrative

    first = client.get(f"/returns/issued/{record.id}.xlsx")
    assert first.status_code == 200
    assert hashlib.sha256(first.data).hexdigest() == record.sha256 == first.headers["X-Content-SHA256"]
    assert len(first.data) == record.size_bytes
    notes = openpyxl.load_workbook(io.BytesIO(first.data))["Notes"]
    assert [notes["A4"].value, notes["A5"].value] == ["Recruitment delayed.", "Plan: re-profile into Q3."]
    # The figures change after issue; neither the issued file nor its on-screen view does.
    Factories(db.session).ledger_line(date(2025, 8, 20), 1_000_00, budget_line=db.session.get(type(small.l2), small.l2.id))
    db.session.commit()
    assert client.get(f"/returns/issued/{record.id}.xlsx").data == first.data
    view = client.get(f"/returns/issued/{record.id}").text
    assert "£26,099.85" in view and "£27,099.85" not in view and "Recruitment delayed." in view
    assert "Check this file" in view and record.sha256 in view
    assert "£27,099.85" in client.get(PREPARE).text  # the live figures did move
    wb = openpyxl.load_workbook(io.BytesIO(first.data))
    cover = {r[0]: r[1] for r in wb["Cover"].iter_rows(min_row=3, max_col=2, values_only=True) if r[0]}
    assert cover["Status"] == "Issued" and cover["Version"] == 1 and cover["Prepared by"] == user.name
    assert "Reason for correction" not in cover
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.realm == "returns", AuditEvent.kind == "create"))


def test_a_correction_needs_a_reason_shown_on_the_cover_and_in_the_list(small, client, auth):
    auth.login("finance")
    assert issue_v(client, "First.").status_code == 303
    page = client.get(ISSUE)
    assert "Reason for the correction" in page.text and "Issue version 2" in page.text
    r = issue_v(client, "Corrected.", version=2)
    assert r.status_code == 422 and "Enter the reason for the correction" in r.text and "<title>Error:" in r.text
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(PccReturn.id)).where(PccReturn.status == "issued")) == 1
    assert issue_v(client, "Corrected.", reason="Q2 ledger re-run: SVD credit was missing.", version=2).status_code == 303
    db.session.expire_all()
    versions = db.session.scalars(db.select(PccReturn).order_by(PccReturn.version)).all()
    assert [(v.version, v.status, v.narrative, v.correction_reason) for v in versions] == [
        (1, "issued", "First.", ""), (2, "issued", "Corrected.", "Q2 ledger re-run: SVD credit was missing.")]
    for v in versions:
        r = client.get(f"/returns/issued/{v.id}.xlsx")
        assert hashlib.sha256(r.data).hexdigest() == v.sha256
        assert f"v{v.version}.xlsx" in r.headers["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(client.get(f"/returns/issued/{versions[1].id}.xlsx").data))
    cover = {r[0]: r[1] for r in wb["Cover"].iter_rows(min_row=3, max_col=2, values_only=True) if r[0]}
    assert cover["Reason for correction"] == "Q2 ledger re-run: SVD credit was missing."
    archive = client.get("/returns/").text
    assert "Q2 ledger re-run: SVD credit was missing." in archive and "v1.xlsx" in archive and "v2.xlsx" in archive
    assert "Check and issue version 3" in client.get(PREPARE).text
    # Issuing a version someone else has just issued is refused, and nothing changes.
    r = issue_v(client, "Late.", reason="Mine", version=2)
    assert r.status_code == 409 and "was issued while you were checking" in r.text


def test_forecast_movement_since_the_last_issued_return(small, client, auth, make):
    auth.login("finance")
    issue_v(client, "Q2.")
    # After the return, a new contract is awarded on the SVD line: its forecast moves.
    make.commission("VRU-A-010", small.l3, value_pence=15_000_00, status="awarded", title="More youth work")
    db.session.commit()
    from tracker.returns.builder import build_return

    rows = {r[0]: r for r in build_return(small.year, 2).table("Summary by funding stream").rows}
    columns = [c.key for c in build_return(small.year, 2).table("Summary by funding stream").columns]
    movement = columns.index("movement")
    assert rows["Serious Violence Duty"][movement] == 4_999_99 + 1  # 11,234.56 -> 16,234.56
    assert rows["Core grant"][movement] == 0


def test_archive_for_every_role_and_viewers_never_see_drafts(small, client, auth, make):
    finance = make.user(role="finance")
    db.session.commit()
    from tracker.returns import service

    service.save_notes(small.year, 2, "Draft words", finance)
    draft = service.get_draft(small.year, 2)
    db.session.commit()
    auth.login("viewer")
    page = client.get("/returns/")
    assert page.status_code == 200 and "No return has been issued" in page.text
    assert "Draft words" not in page.text and "Prepare" not in page.text and "/returns/prepare" not in page.text
    assert client.get(PREPARE).status_code == 403
    assert client.get("/returns/2025-26/q2/draft.xlsx").status_code == 403
    assert client.get(f"/returns/issued/{draft.id}.xlsx").status_code == 404
    assert client.get(f"/returns/issued/{draft.id}").status_code == 404
    assert client.get(ISSUE).status_code == 403
    assert issue_v(client).status_code == 403
    assert client.post("/returns/2025-26/q2/notes", data={"narrative": "x"}).status_code == 403
    service.issue(small.year, 2, finance)
    db.session.commit()
    page = client.get("/returns/")
    assert "v1.xlsx" in page.text and f'href="/returns/issued/{draft.id}"' in page.text
    assert client.get(f"/returns/issued/{draft.id}").status_code == 200
    r = client.get(f"/returns/issued/{draft.id}.xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    assert client.get("/returns/?year=2025-26&quarter=1").text.count("v1.xlsx") == 0


def test_staff_see_drafts_being_prepared_on_the_archive(small, client, auth):
    auth.login("manager")
    client.post("/returns/2025-26/q2/notes", data={"narrative": "Started.", "action": "save"})
    page = client.get("/returns/").text
    assert "Being prepared" in page and "2025-26 Q2 (Jul-Sep), version 1 (draft)" in page


def test_autosave_keeps_the_notes_draft(small, client, auth):
    auth.login("finance")
    r = client.post("/returns/2025-26/q2/notes/autosave", data={"narrative": "Half-typed"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "Draft notes saved" in r.text and "<html" not in r.text
    db.session.expire_all()
    assert db.session.scalar(db.select(PccReturn.narrative)) == "Half-typed"
    r = client.post("/returns/2025-26/q2/notes/autosave", data={"narrative": "x" * 20_001}, headers={"HX-Request": "true"})
    assert r.status_code == 422 and "20,000 characters" in r.text
    db.session.expire_all()
    assert db.session.scalar(db.select(PccReturn.narrative)) == "Half-typed"


def test_issuing_in_a_closed_year_is_allowed(small, client, auth):
    small.year.status = "closed"
    db.session.commit()
    auth.login("manager")
    assert client.post("/returns/2025-26/q4/issue", data={"version": "1"}).status_code == 303
    db.session.expire_all()
    assert db.session.scalar(db.select(PccReturn.status)) == "issued"


def test_bad_query_strings_and_urls_get_a_message(small, client, auth):
    auth.login("finance")
    r = client.get("/returns/prepare?year=2025-26&quarter=9")
    assert r.status_code == 400 and "choose 1, 2, 3 or 4" in r.text
    r = client.get("/returns/?year=nope")
    assert r.status_code == 400 and "There is no funding year nope." in r.text
    r = client.get("/returns/?year=2031-32")
    assert r.status_code == 404 and "no funding year 2031-32" in r.text
    assert client.get("/returns/2025-26/q7/draft.xlsx").status_code == 400
    assert client.get("/returns/2025-26/q7/issue").status_code == 400
    assert client.get("/returns/issued/999.xlsx").status_code == 404
    assert client.get("/returns/issued/999").status_code == 404
    r = client.post(ISSUE, data={"narrative": "No version"})
    assert r.status_code == 400 and "Check and issue" in r.text
    assert db.session.scalar(db.select(db.func.count(PccReturn.id))) == 0


def test_notes_too_long_are_refused_with_422_and_nothing_changes(small, client, auth):
    auth.login("manager")
    r = client.post("/returns/2025-26/q2/notes", data={"narrative": "x" * 20_001, "action": "issue"})
    assert r.status_code == 422 and "There is a problem" in r.text and "<title>Error:" in r.text
    r = issue_v(client, "x" * 20_001)
    assert r.status_code == 422
    assert db.session.scalar(db.select(db.func.count(PccReturn.id))) == 0


def test_the_issued_return_on_screen_is_a_summary_with_each_sheet_opening_on_its_own(small, client, auth):
    """Each sheet is a disclosure of its own (the first open), so a wide table never makes the page wide: issue 27.
    The browser tests measure the widths at 390, 1,280 and 1,920 px."""
    auth.login("finance")
    issue_v(client, "Notes.")
    record = db.session.scalar(db.select(PccReturn).where(PccReturn.status == "issued"))
    view = client.get(f"/returns/issued/{record.id}").text
    sheets = re.findall(r'<details class="return-sheet"( open)?>\s*<summary><h2>([^<]+)</h2>', view)
    frozen = json.loads(record.frozen)
    assert [title for _, title in sheets] == [t["title"] for t in frozen["tables"]]
    assert [bool(opened) for opened, _ in sheets] == [True] + [False] * (len(sheets) - 1)
    with_rows = [t for t in frozen["tables"] if t["rows"] or t["totals"]]
    assert view.count('class="table table--return"') == len(with_rows)
