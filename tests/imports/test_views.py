"""The import pages: every bad file refused in the page with a 4xx and the database unchanged, the full browser
flow on the samples (plain and HTMX), the progress component, history, withdrawal and unmatched lines."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.imports.helpers import BAD, BUDGET, COMMISSIONS, LEDGER, OXFORD_CSV, OXFORD_XLSX, table_counts, upload
from tests.factories import DEMO_TODAY
from tests.pages import hidden
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.models import ImportBatch, LedgerTransaction, SupplierAlias

REFUSALS = {
    "not-a-workbook.xlsx": "looks like CSV text",
    "truncated.xlsx": "damaged or incomplete",
    "empty.xlsx": "no rows of data",
    "missing-columns.xlsx": "needs columns for Net",
    "xml-bomb.xlsx": "DOCTYPE or ENTITY",
    "zip-bomb.xlsx": "too large to import safely",
}


def chosen(html: str) -> dict:
    """The mapping page's current choices, as the browser would send them back."""
    import re

    form = {}
    for name, body in re.findall(r'<select class="input" name="(field-\w+)"[^>]*>(.*?)</select>', html, re.S):
        hit = re.search(r'<option value="(\d+)" selected', body)
        form[name] = hit.group(1) if hit else ""
    return form


@pytest.fixture
def finance(app, auth):
    seed_demo(DEMO_TODAY)
    db.session.commit()
    return auth.login("finance")


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_each_bad_file_is_refused_in_the_page(client, finance, name):
    before = table_counts()
    response = upload(client, BAD / name)
    assert response.status_code == 422
    assert REFUSALS[name] in response.text and "There is a problem" in response.text
    assert "<title>Error: " in response.text
    db.session.expire_all()
    assert table_counts() == before


def test_an_encrypted_workbook_is_refused(client, finance):
    before = table_counts()
    response = upload(client, "secret.xlsx", data=b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4088)
    assert response.status_code == 422 and "password-protected" in response.text
    assert table_counts() == before


def test_formula_injection_file_cannot_be_committed_with_its_errors(client, finance):
    before = table_counts()
    response = upload(client, BAD / "formula-injection.xlsx")
    assert response.status_code == 303
    mapping = response.location
    response = client.post(mapping, data={})  # keep the automatic choices? no: an empty form chooses nothing
    assert response.status_code == 422 and "Choose the column" in response.text
    page = client.get(mapping)
    token = mapping.split("/")[-2]
    response = client.post(mapping, data=chosen(page.text))
    assert response.status_code == 303
    preview = client.get(response.location)
    assert "formula with no saved result" in preview.text
    response = client.post(f"/imports/drafts/{token}/commit", data={})
    assert response.status_code == 422 and "have problems" in response.text
    db.session.expire_all()
    assert table_counts() == before


def test_an_upload_over_the_size_limit_gets_413_and_the_apps_page(app, client, finance):
    app.config["MAX_CONTENT_LENGTH"] = 2048
    response = upload(client, LEDGER)
    assert response.status_code == 413
    assert "File too large" in response.text and "VRU Tracker" in response.text


def test_wrong_extension_and_missing_file_are_form_errors(client, finance):
    response = upload(client, "notes.txt", data=b"hello")
    assert response.status_code == 422 and ".xlsx or .xlsm" in response.text
    response = client.post("/imports/upload", data={"kind": ""})
    assert response.status_code == 422 and "Choose the spreadsheet to upload" in response.text


def _commit_through_pages(client, path, htmx=False, **fields):
    headers = {"HX-Request": "true"} if htmx else {}
    response = upload(client, path, htmx=htmx, **fields)
    if htmx:
        assert response.status_code == 204
        mapping = response.headers["HX-Redirect"]
    else:
        assert response.status_code == 303, response.text
        mapping = response.location
    page = client.get(mapping)
    assert page.status_code == 200 and "Sample values" in page.text
    response = client.post(mapping, data=chosen(page.text), headers=headers)
    preview = response.headers["HX-Redirect"] if htmx else response.location
    page = client.get(preview)
    assert page.status_code == 200 and "Rows to add" in page.text
    data = {"leave_out": "y"}
    if "takes budget lines over their budgets" in page.text:  # the register's over-budget question: confirmed
        data.update(confirm_over_budget="y", over_budget_seen=hidden(page.text, "over_budget_seen"))
    response = client.post(preview + "/commit", data=data, headers=headers)
    target = response.headers["HX-Redirect"] if htmx else response.location
    assert "/imports/" in target
    return client.get(target)


@pytest.mark.parametrize("path,fields", [(LEDGER, {}), (COMMISSIONS, {}), (BUDGET, {"year": "2025-26"}),
                                         (OXFORD_CSV, {}), (OXFORD_XLSX, {})],
                         ids=["ledger", "commissions", "budget", "oxford-csv", "oxford-xlsx"])
def test_each_sample_imports_end_to_end_from_the_browser(app, client, finance, make, path, fields):
    app.config["IMPORT_BACKGROUND_ROWS"] = 100_000  # the background path has its own test
    make.year("2015-16", status="open")
    db.session.commit()
    page = _commit_through_pages(client, path, **fields)
    assert page.status_code == 200 and "Committed" in page.text
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()))
    assert batch.status == "committed"
    history = client.get("/imports/")
    assert path.name in history.text
    assert client.get(f"/imports/{batch.id}/file").data == path.read_bytes()
    response = client.post(f"/imports/{batch.id}/withdraw")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).status == "withdrawn"


def test_htmx_flow_gets_fragments_and_redirect_headers(client, finance):
    page = _commit_through_pages(client, LEDGER, htmx=True)
    assert "Committed" in page.text
    response = upload(client, BAD / "truncated.xlsx", htmx=True)
    assert response.status_code == 422 and "<html" not in response.text and "damaged" in response.text


def test_the_same_file_again_links_to_the_earlier_import(client, finance):
    _commit_through_pages(client, LEDGER)
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()))
    response = upload(client, LEDGER)
    assert response.status_code == 409
    assert f'href="/imports/{batch.id}"' in response.text


def test_progress_component_polls_while_committing_then_sends_the_page(client, finance, make):
    batch = make.import_batch(status="committing", total_rows=1000, progress=250, sha256="a" * 64)
    db.session.commit()
    response = client.get(f"/imports/{batch.id}/progress", headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in response.text and "250 of 1000" in response.text
    assert "<html" not in response.text
    batch.status = "committed"
    db.session.commit()
    response = client.get(f"/imports/{batch.id}/progress", headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/imports/{batch.id}"


def test_large_files_commit_in_the_background(app, client, finance):
    app.config["IMPORT_BACKGROUND_ROWS"] = 10
    page = _commit_through_pages(client, LEDGER)
    assert page.status_code == 200
    import threading
    for thread in threading.enumerate():
        if thread.name.startswith("import-"):
            thread.join(60)
    db.session.expire_all()
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()))
    assert batch.status == "committed"
    assert db.session.scalar(select(func.count(LedgerTransaction.id)).where(LedgerTransaction.import_batch_id == batch.id)) == 420


def test_viewers_read_history_but_cannot_upload(client, auth, make):
    make.import_batch(status="committed", counts={"add": 3})
    db.session.commit()
    auth.login("viewer")
    assert client.get("/imports/").status_code == 200
    assert client.get("/imports/upload").status_code == 403
    assert client.post("/imports/1/withdraw").status_code == 403


def test_unmatched_lines_can_be_assigned_and_the_supplier_is_remembered(client, finance, make):
    from tracker.models import Commission

    commission = db.session.scalar(select(Commission).where(Commission.reference == "VRU-25-001"))
    a = make.ledger_line(supplier_id="NEW1", supplier_name="New Supplier Ltd", reference="U1")
    b = make.ledger_line(supplier_id="NEW1", supplier_name="New Supplier Ltd", reference="U2")
    db.session.commit()
    page = client.get("/imports/unmatched")
    assert "U1" in page.text and "U2" in page.text
    response = client.post("/imports/unmatched/assign", data={"lines": [a.id], "commission": 0})
    assert response.status_code == 422 and "Choose the commission" in response.text
    response = client.post("/imports/unmatched/assign", data={"lines": [a.id], "commission": commission.id, "remember": "y"})
    assert response.status_code == 200 and "U2" in response.text  # first it shows which lines the rule moves
    db.session.expire_all()
    assert db.session.get(LedgerTransaction, b.id).commission_id is None
    response = client.post("/imports/unmatched/assign", data={"lines": [a.id, b.id], "commission": commission.id,
                                                              "remember": "y", "confirm": "yes"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(LedgerTransaction, b.id).commission_id == commission.id  # the supplier's other line followed
    alias = db.session.scalar(select(SupplierAlias).where(SupplierAlias.value == "NEW1"))
    assert alias.commission_id == commission.id and alias.provider_id == commission.provider_id


def test_the_import_page_names_columns_by_their_labels_not_field_names(client, auth, make):
    batch = make.import_batch(status="committed", mapping={"columns": {"supplier_id": "Vendor", "po_number": "PO",
                                                                       "posting_date": "Paid Date"}})
    db.session.commit()
    auth.login("viewer")
    page = client.get(f"/imports/{batch.id}").text
    assert 'Supplier ID from "Vendor"' in page and 'PO number from "PO"' in page
    assert 'Posting date from "Paid Date"' in page
    assert "Supplier id" not in page and "Po number" not in page
