"""Odd input never gives a 500 (issue 12, findings 7-9): control characters in forms and imports, numbers out
of range in addresses, and hostile upload file names."""
from __future__ import annotations

import io

import openpyxl
from sqlalchemy import func, select

from tests.imports.helpers import draft_of
from tests.imports.test_pipeline import ledger_csv
from tracker.extensions import db
from tracker.imports import service
from tracker.models import ImportBatch, Provider


# --- 7: control characters --------------------------------------------------------------------------------

def test_a_vertical_tab_in_a_form_is_refused_with_a_message(client, auth):
    auth.login("manager")
    for headers in ({}, {"HX-Request": "true"}):
        response = client.post("/providers/new", data={"name": "Swale\x0bBoxing"}, headers=headers)
        assert response.status_code == 400
        assert "vertical tab" in response.text and "&#39;name&#39;" in response.text
    assert db.session.scalar(select(func.count(Provider.id))) == 0
    # Tab and new lines (browsers send CR LF) are fine.
    ok = client.post("/providers/new", data={"name": "Swale Boxing", "notes": "one\r\ntwo\tthree"})
    assert ok.status_code == 303


def test_a_control_character_already_stored_does_not_break_the_monitoring_workbook(client, auth, make):
    provider = make.provider(name="Swale\x0bBoxing")  # stored before forms refused it
    commission = make.commission(provider=provider, title="Boxing\x0cclub")
    db.session.commit()
    auth.login("manager")
    response = client.get(f"/commissions/{commission.id}/outputs/workbook/1")
    assert response.status_code == 200
    cover = openpyxl.load_workbook(io.BytesIO(response.data))["Cover"]
    values = [c.value for row in cover.iter_rows() for c in row if isinstance(c.value, str)]
    assert "Swale\nBoxing" in values


def test_a_control_character_in_an_import_cell_is_a_located_problem(app, make):
    make.year("2025-26")
    db.session.commit()
    p = service.preview(draft_of("ledger.csv", data=ledger_csv("T1,01/05/2025,S1,Acme\x0bLtd,,Rent,1.00")))
    assert p["counts"]["error"] == 1
    text = service.problem_text(p["problems"][0])
    assert text.startswith("ledger, row 2, Supplier Name:") and "vertical tab (U+000B)" in text
    assert "\x0b" not in p["problems"][0]["value"]


# --- 8: numbers out of range in the address ---------------------------------------------------------------

def test_numbers_out_of_range_in_the_address_are_ignored_with_a_message(client, auth):
    auth.login("viewer")
    for url in ("/commissions/?page=99999999999999999999999", "/commissions/?provider=2147483648",
                "/commissions/?strand=-99999999999999999999", "/commissions/?stream=2147483648&page=2147483648"):
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, url
            assert "Ignored what could not be used" in response.text, url
    assert "Ignored what could not be used: provider “2147483648”" in client.get("/commissions/?provider=2147483648").text
    assert client.get("/providers/?page=99999999999999999999999").status_code == 200
    assert client.get("/admin/audit?object_id=99999999999999999999").status_code == 403  # the audit page is admins'
    auth.logout()
    auth.login("admin")
    audit = client.get("/admin/audit?object_id=99999999999999999999")
    assert audit.status_code == 422 and "record number" in audit.text.lower()


def test_ids_beyond_any_record_in_the_path_are_404(client, auth):
    auth.login("admin")
    for url in ("/commissions/2147483648", "/commissions/99999999999999999999999", "/imports/2147483648",
                "/funding/years/2147483648", "/monitoring/returns/99999999999999999999"):
        assert client.get(url).status_code == 404, url


# --- 9: upload file names ---------------------------------------------------------------------------------

HOSTILE = "ledger\r\nSet-Cookie: x=1\u202egpj." + "x" * 300 + ".csv"


def _multipart(data: bytes, name: str) -> bytes:
    """An upload whose name carries CR/LF: sent RFC 2231-encoded (filename*=), which is how it gets through."""
    from urllib.parse import quote

    return (b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n\r\n"
            b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''"
            + quote(name).encode() + b"\r\nContent-Type: text/csv\r\n\r\n" + data + b"\r\n--BOUNDARY--\r\n")


def test_hostile_upload_names_are_cleaned_and_their_downloads_work(client, auth, make):
    make.year("2025-26")
    db.session.commit()
    auth.login("finance")
    data = ledger_csv("T1,01/05/2025,S1,Acme,,Rent,1.00", "T2,01/05/2025,S1,Acme,,Rent,oops")
    response = client.post("/imports/upload", data=_multipart(data, HOSTILE),
                           content_type="multipart/form-data; boundary=BOUNDARY")
    assert response.status_code == 303, response.text
    token = response.location.split("/drafts/")[1].split("/")[0]
    draft = service.load_draft(token)
    assert "\r" not in draft.filename and "\n" not in draft.filename and "\u202e" not in draft.filename
    assert len(draft.filename) <= 255 and draft.filename.endswith(".csv")
    assert client.get(f"/imports/drafts/{token}/problems.xlsx").status_code == 200
    commit = client.post(f"/imports/drafts/{token}/commit", data={"leave_out": "y"})
    assert commit.status_code == 303
    batch = db.session.scalar(select(ImportBatch))
    assert batch.filename == draft.filename
    download = client.get(f"/imports/{batch.id}/file")
    assert download.status_code == 200 and download.data == data
    assert "\r" not in download.headers["Content-Disposition"] and "\u202e" not in download.headers["Content-Disposition"]
    assert client.get(f"/imports/{batch.id}/problems.xlsx").status_code == 200


def test_a_bad_name_stored_before_the_fix_still_downloads(client, auth, make, app):
    import os

    os.makedirs(os.path.join(app.config["DATA_DIR"], "imports"), exist_ok=True)
    with open(os.path.join(app.config["DATA_DIR"], "imports", "old.csv"), "wb") as fh:
        fh.write(b"a,b\n")
    batch = make.import_batch(status="committed", filename="old\r\nname.csv", stored_path="imports/old.csv")
    db.session.commit()
    auth.login("viewer")
    response = client.get(f"/imports/{batch.id}/file")
    assert response.status_code == 200 and response.data == b"a,b\n"
