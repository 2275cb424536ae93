"""The import pipeline without a browser: each sample end to end, preview classification, located problems,
totals, all-or-nothing commits, leaving rows out, idempotence, mapping memory, withdrawal, closed years."""
from __future__ import annotations

import io
import os
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.factories import Factories
from tests.imports.helpers import (
    BUDGET, COMMISSIONS, LEDGER, OXFORD_CSV, OXFORD_XLSX, count_sheet_parses, draft_of, table_counts,
)
from tracker import figures
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.imports import committing, service
from tracker.models import (
    AuditEvent, BudgetLine, ColumnMapping, Commission, FundingYear, ImportBatch, LedgerTransaction, Provider,
)

HEAD = "Transaction Ref,Posting Date,Supplier ID,Supplier Name,PO No,Narrative,Net\n"


def ledger_csv(*rows: str) -> bytes:
    return (HEAD + "\n".join(rows) + "\n").encode()


def csv_draft(data: bytes, name: str = "ledger.csv", **kw) -> service.Draft:
    return draft_of(name, data=data, **kw)


@pytest.fixture
def demo(app):
    seed_demo(DEMO_TODAY)
    db.session.commit()


def lines(**where) -> int:
    q = select(func.count(LedgerTransaction.id))
    for k, v in where.items():
        q = q.where(getattr(LedgerTransaction, k) == v)
    return db.session.scalar(q)


def test_ledger_sample_previews_then_commits_every_line(demo):
    before = lines()
    draft = draft_of(LEDGER)
    assert (draft.kind, draft.sheet, draft.header_row) == ("ledger", "Transactions", 4)
    p = service.preview(draft)
    assert p["counts"]["add"] == 420 and p["counts"]["error"] == 0
    assert p["counts"]["totals"] == 1 and p["counts"]["blank"] == 2
    assert "Transactions, row 427: totals row left out" in p["notes"]
    assert p["file_pence"] == p["totals_row_pence"] == p["import_pence"]
    assert lines() == before  # a preview writes nothing
    batch = service.commit(draft)
    assert batch.status == "committed" and batch.counts["add"] == 420
    assert lines(import_batch_id=batch.id) == 420
    total = db.session.scalar(select(func.sum(LedgerTransaction.net_pence)).where(LedgerTransaction.import_batch_id == batch.id))
    assert total == p["totals_row_pence"]
    # PO numbers link lines to the register's commissions.
    po_line = db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.import_batch_id == batch.id,
                                                                LedgerTransaction.po_number == "PO4500102"))
    assert po_line.match_method == "po" and po_line.commission.po_number == "PO4500102"
    # The line keeps its own coding (no account rule: none); the figures engine routes it to the contract's share.
    assert po_line.budget_line_id is None
    share = Factories.line_of(po_line.commission)
    assert figures.paid_by_share(po_line.commission_id)[(share.funding_year_id, share.id)] == \
        figures.paid_by_contract([po_line.commission_id])[po_line.commission_id]
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.realm == "imports")) == 1


def test_the_file_is_parsed_once_from_headings_to_commit(demo, monkeypatch):
    """Finding the headings, the preview and the commit share one parse of the sheet (the kept workbook, then
    the preview's checked rows), and the parsed sheet is let go once the preview has read it."""
    from tracker.spreadsheets import reader

    parses = count_sheet_parses(monkeypatch)
    draft = draft_of(LEDGER)
    service.preview(draft)
    assert reader._kept is None
    batch = service.commit(draft)
    assert batch.counts["add"] == 420
    assert parses == ["Read me", "Transactions"]  # the headings are looked for on every visible sheet


def test_same_file_twice_is_refused_with_the_earlier_batch(demo):
    batch = service.commit(draft_of(LEDGER))
    with pytest.raises(service.ImportRefused) as refused:
        draft_of(LEDGER)
    assert refused.value.status == 409 and refused.value.batch.id == batch.id
    assert f"import {batch.id}" in refused.value.message


def test_lines_already_present_are_not_counted_twice_and_changes_show(demo):
    service.commit(csv_draft(ledger_csv("T1,01/05/2025,S1,Acme Ltd,,Rent,100.00",
                                        "T2,02/05/2025,S1,Acme Ltd,,Rent,200.00")))
    draft = csv_draft(ledger_csv("T1,01/05/2025,S1,Acme Ltd,,Rent,100.00",
                                 "T2,02/05/2025,S1,Acme Ltd,,Rent for May,200.00",
                                 "T3,03/05/2025,S1,Acme Ltd,,Rent,300.00"), "again.csv")
    c = service.preview(draft)["counts"]
    assert (c["add"], c["unchanged"], c["changed"], c["error"]) == (1, 1, 1, 0)
    batch = service.commit(draft)
    assert lines(reference="T1") == 1 and lines(reference="T3") == 1
    assert db.session.scalar(select(LedgerTransaction.narrative).where(LedgerTransaction.reference == "T2")) == "Rent for May"
    # Withdrawing the second batch removes T3 and puts T2 back as it was.
    service.withdraw(batch)
    db.session.commit()
    assert lines(reference="T3") == 0
    assert db.session.scalar(select(LedgerTransaction.narrative).where(LedgerTransaction.reference == "T2")) == "Rent"


def test_every_problem_is_located_and_explained(demo):
    draft = csv_draft(ledger_csv("T1,01/05/2025,S1,Acme,,Rent,\"£1,2,3\"",
                                 "T2,12/13/2025,S1,Acme,,Rent,10",
                                 ",01/05/2025,S1,Acme,,Rent,10",
                                 "T4,01/05/2025,S1,Acme,,=HYPERLINK(\"x\"),10",
                                 "T4,01/05/2025,S1,Acme,,Again,10"))
    p = service.preview(draft)
    texts = [service.problem_text(q) for q in p["problems"]]
    assert "ledger, row 2, Net: '£1,2,3' is not an amount" in texts
    assert any(t.startswith("ledger, row 3, Posting Date: '12/13/2025' is not") for t in texts)
    assert "ledger, row 4, Transaction Ref: is blank" in texts
    assert any("row 6, Transaction Ref: 'T4' repeats row 5" in t for t in texts)
    assert p["counts"]["error"] == 4 and p["counts"]["add"] == 1
    workbook = service.problems_workbook(p["problems"])
    import openpyxl
    ws = openpyxl.load_workbook(io.BytesIO(workbook)).active
    assert [c.value for c in ws[1]] == ["Sheet", "Row", "Column", "Column letter", "Value", "Problem"]
    assert ws.max_row == 5


def test_rows_with_errors_block_the_commit_unless_left_out(demo):
    before = table_counts()
    draft = csv_draft(ledger_csv("T1,01/05/2025,S1,Acme,,Rent,oops", "T2,01/05/2025,S1,Acme,,=cmd|' /C calc'!A0,10"))
    with pytest.raises(service.ImportRefused) as refused:
        service.commit(draft)
    assert "1 row has problems" in refused.value.message
    assert table_counts() == before
    batch = service.commit(draft, leave_out=True)
    assert batch.counts["left_out"] == 1 and batch.excluded_rows[0]["row"] == 2
    # Text that looks like a formula is kept as plain text, never evaluated.
    assert db.session.scalar(select(LedgerTransaction.narrative).where(LedgerTransaction.reference == "T2")) == "=cmd|' /C calc'!A0"


def test_a_failure_part_way_leaves_nothing_and_marks_the_batch_failed(demo, monkeypatch):
    before = lines()
    calls = []
    real = service.insert_ledger_chunk

    def failing(rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        real(rows)

    monkeypatch.setattr(committing, "insert_ledger_chunk", failing)
    monkeypatch.setattr(committing, "CHUNK", 100)
    with pytest.raises(service.ImportRefused) as refused:
        service.commit(draft_of(LEDGER))
    assert len(calls) == 2
    db.session.expire_all()
    assert lines() == before
    batch = db.session.get(ImportBatch, refused.value.batch.id)
    assert batch.status == "failed" and "disk full" in batch.error
    # A failed batch does not block trying the same file again.
    monkeypatch.setattr(committing, "insert_ledger_chunk", real)
    assert service.commit(draft_of(LEDGER)).status == "committed"


def test_background_commit_writes_in_its_own_session(demo):
    batch = service.commit_in_background(draft_of(LEDGER))
    batch.thread.join(60)
    db.session.expire_all()
    done = db.session.get(ImportBatch, batch.id)
    assert done.status == "committed" and lines(import_batch_id=batch.id) == 420
    assert service.progress_of(done) == (420, 420)


def test_mapping_is_remembered_for_the_next_file_with_the_same_headers(demo):
    data = ledger_csv("T1,01/05/2025,S1,Acme,,Rent,100.00")
    draft = csv_draft(data)
    assert draft.mapping_source == "automatic"
    # The user says the narrative column is really the invoice number.
    choices = {name: str(col) for name, col in draft.mapping.items()}
    choices["invoice_number"] = choices.pop("narrative")
    assert service.set_mapping(draft, choices) == {}
    service.commit(draft)
    assert db.session.scalar(select(func.count(ColumnMapping.id))) == 1
    again = csv_draft(ledger_csv("T9,01/06/2025,S1,Acme,,INV-9,5"), "june.csv")
    assert again.mapping_source == "remembered" and again.mapping == draft.mapping
    service.commit(again)
    assert db.session.scalar(select(LedgerTransaction.invoice_number).where(LedgerTransaction.reference == "T9")) == "INV-9"


def test_mapping_choices_are_checked(demo):
    draft = csv_draft(ledger_csv("T1,01/05/2025,S1,Acme,,Rent,1"))
    errors = service.set_mapping(draft, {"reference": "", "posting_date": "0", "supplier_name": "0", "net": "99"})
    assert errors["supplier_name"].startswith("Column A is already chosen")
    assert errors["reference"] == "Choose the column that holds the transaction reference"
    assert errors["net"] == "Choose one of the file's columns"


@pytest.mark.parametrize("path", [OXFORD_CSV, OXFORD_XLSX], ids=["csv", "libreoffice-xlsx"])
def test_the_oxford_ledger_imports_once_its_year_exists(app, make, path):
    draft = draft_of(path)
    p = service.preview(draft)
    assert p["counts"]["error"] == 3908
    assert "no funding year 2015-16 is set up" in p["problems"][0]["message"]
    make.year("2015-16", status="open")
    db.session.commit()
    p = service.preview(draft)
    assert p["counts"]["read"] == p["counts"]["add"] == 3908
    batch = service.commit(draft)
    assert lines(import_batch_id=batch.id) == 3908
    line = db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.reference == "46288359_1"))
    assert (line.posting_date, line.net_pence, line.period) == (date(2016, 1, 12), 712857, 10)
    assert line.supplier_id == "20000000_46288359"


def test_ledger_lines_in_a_closed_year_are_errors(app, make):
    make.year("2025-26", status="closed")
    db.session.commit()
    p = service.preview(csv_draft(ledger_csv("T1,01/05/2025,S1,Acme,,Rent,1")))
    assert p["counts"]["error"] == 1
    assert "2025-26, which is closed" in p["problems"][0]["message"]


def test_commissions_register_updates_by_reference_and_withdraws(demo):
    c1 = db.session.scalar(select(Commission).where(Commission.reference == "VRU-25-001"))
    value_before = c1.value_pence
    commissions_before = db.session.scalar(select(func.count(Commission.id)))
    draft = draft_of(COMMISSIONS)
    p = service.preview(draft)
    assert p["counts"]["read"] == 20 and p["counts"]["error"] == 0
    batch = service.commit(draft)
    db.session.expire_all()
    assert db.session.get(Commission, c1.id).value_pence == 300_500_00
    service.withdraw(batch)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Commission, c1.id).value_pence == value_before
    assert db.session.scalar(select(func.count(Commission.id))) == commissions_before
    assert db.session.get(ImportBatch, batch.id).status == "withdrawn"


def test_commissions_import_creates_commissions_and_providers(app, make):
    make.year("2025-26")
    for name in ("Sexual Violence", "Serious Youth Violence", "Drugs and Alcohol", "Cross-cutting"):
        make.strand(name)
    db.session.commit()
    draft = draft_of(COMMISSIONS)
    p = service.preview(draft)
    # The funding streams are not set up: each row says so, at its column.
    assert p["counts"]["error"] == 20
    assert p["problems"][0]["column"] == "Funding Stream" and "not a funding stream" in p["problems"][0]["message"]
    for name in ("Home Office VRU core grant", "Serious Violence Duty", "Young Futures", "PCC contribution"):
        make.stream(name)
    db.session.commit()
    p = service.preview(draft)
    assert p["counts"]["add"] == 20, p["problems"][:3]
    batch = service.commit(draft)
    assert db.session.scalar(select(func.count(Commission.id))) == 20
    providers = db.session.scalar(select(func.count(Provider.id)))
    assert providers == len(batch.undo["created"]["Provider"]) > 0
    service.withdraw(batch)
    db.session.commit()
    assert db.session.scalar(select(func.count(Commission.id))) == 0
    assert db.session.scalar(select(func.count(Provider.id))) == 0


def test_exported_commissions_list_imports_back_unchanged(demo):
    from tracker.returns import exports

    commissions = db.session.scalars(select(Commission).order_by(Commission.reference)).all()
    data = exports.export_rows(exports.COMMISSION_COLUMNS, exports.commission_rows(commissions), "xlsx")
    draft = draft_of("commissions.xlsx", data=data)
    assert draft.kind == "commissions"
    p = service.preview(draft)
    assert p["counts"]["unchanged"] == len(commissions), p["problems"][:3]
    assert p["counts"]["add"] == p["counts"]["changed"] == p["counts"]["error"] == 0


def test_budget_import_checks_profiles_and_years(demo):
    year = db.session.scalar(select(FundingYear).where(FundingYear.label == "2025-26"))
    with pytest.raises(service.ImportRefused, match="Choose the funding year"):
        draft_of(BUDGET)
    draft = draft_of(BUDGET, year_label="2025-26")
    p = service.preview(draft)
    assert p["counts"]["read"] == 11 and p["counts"]["error"] == 0
    bad = ("Funding stream,Category,Strand,Allocation,Q1,Q2,Q3,Q4\n"
           "Young Futures,Training,Serious Youth Violence,100,25,25,25,24\n"
           "Young Futures,Training,Sexual Violence,100,25,25,25,25\n"
           "Nonsense,Training,Sexual Violence,100,25,25,25,25\n").encode()
    d = draft_of("budget.csv", data=bad, year_label="2025-26")
    p = service.preview(d)
    texts = [service.problem_text(q) for q in p["problems"]]
    assert "budget, row 2, Allocation: '100' does not equal the Q1-Q4 profile, which adds up to £99.00" in texts
    assert "budget, row 4, Funding stream: 'Nonsense' is not a funding stream set up in the tracker" in texts
    batch = service.commit(d, leave_out=True)
    line = db.session.scalar(select(BudgetLine).where(BudgetLine.id == batch.undo["created"]["BudgetLine"][0]))
    assert line.amount_pence == line.original_amount_pence == 100_00 and line.profile == [25_00] * 4
    service.withdraw(batch)
    db.session.commit()
    assert db.session.get(BudgetLine, line.id) is None
    year.status = "closed"
    db.session.commit()
    p = service.preview(draft_of(BUDGET, year_label="2025-26"))
    assert p["counts"]["error"] == 11 and "closed" in p["problems"][0]["message"]


def test_withdrawing_a_ledger_batch_takes_its_spend_off_the_commission(demo):

    def spent(commission_id):
        return db.session.scalar(select(func.coalesce(func.sum(LedgerTransaction.net_pence), 0))
                                 .where(LedgerTransaction.commission_id == commission_id))

    c = db.session.scalar(select(Commission).where(Commission.po_number == "PO4500102"))
    before = spent(c.id)
    batch = service.commit(draft_of(LEDGER))
    assert spent(c.id) > before
    service.withdraw(batch)
    db.session.commit()
    assert spent(c.id) == before and lines(import_batch_id=batch.id) == 0
    with pytest.raises(service.ImportRefused):
        service.withdraw(batch)
    # Withdrawn, the same file may be imported again.
    assert draft_of(LEDGER).kind == "ledger"


def test_withdrawing_undoes_exactly_what_the_import_did(demo, make):
    """Its lines go, lines it changed are put back, the mapping it taught is forgotten; older lines, assignments
    made by hand and remembered rules are left exactly as they were."""
    from tracker.imports import matching

    c = db.session.scalar(select(Commission).where(Commission.reference == "VRU-25-001"))
    first = service.commit(csv_draft(ledger_csv("T1,01/05/2025,S1,Acme Ltd,,Rent,100.00",
                                                "T2,02/05/2025,S1,Acme Ltd,,Rent,200.00")))
    t1 = db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.reference == "T1"))
    matching.assign([t1], c)
    db.session.commit()
    mappings = db.session.scalar(select(func.count(ColumnMapping.id)))
    data = (b"Doc No,GL Date,Vendor ID,Vendor Name,PO Number,Memo,Net Amount\n"
            b"T2,02/05/2025,S1,Acme Ltd,,Rent for May,200.00\nT3,03/05/2025,S1,Acme Ltd,,Rent,300.00\n")
    second = service.commit(csv_draft(data, "other-headings.csv"))
    assert db.session.scalar(select(func.count(ColumnMapping.id))) == mappings + 1
    t2 = db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.reference == "T2"))
    assert t2.narrative == "Rent for May"
    service.withdraw(second)
    db.session.commit()
    db.session.expire_all()
    assert lines(import_batch_id=second.id) == 0 and lines(reference="T3") == 0
    t1, t2 = (db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.reference == r)) for r in ("T1", "T2"))
    assert (t2.narrative, t2.import_batch_id) == ("Rent", first.id)
    assert (t1.commission_id, t1.match_method) == (c.id, "manual")
    assert db.session.scalar(select(func.count(ColumnMapping.id))) == mappings


def test_the_preview_shows_what_is_coming(app, make, client, auth):
    """Sample rows as stored, the date range, matched against unmatched by rule, money per year, and a warning
    when a year's spend would pass its allocations."""
    year = make.year("2025-26", status="open")
    make.allocation(year=year, pence=250_00)
    provider = make.provider("Acme")
    c = make.commission("C-PO", provider=provider, year=year, po_number="PO1")
    db.session.commit()
    draft = csv_draft(ledger_csv("T1,01/05/2025,S1,Acme,PO1,Rent,100.00", "T2,20/06/2025,S2,Nobody,,Hall,200.00",
                                 "T3,02/05/2025,,,,Accrual,-10.00"))
    s = service.preview(draft)["summary"]
    assert (s["first"], s["last"]) == ("2025-05-01", "2025-06-20")
    assert s["by_method"] == {"po": {"lines": 1, "pence": 100_00}, "": {"lines": 2, "pence": 190_00}}
    assert s["years"] == {"2025-26": {"lines": 3, "pence": 290_00}}
    assert s["sample"][0] == {"reference": "T1", "posting_date": "2025-05-01", "period": 2, "supplier_name": "Acme",
                              "account_code": "", "po_number": "PO1", "narrative": "Rent", "net_pence": 100_00,
                              "commission_id": c.id, "budget_line_id": None, "match_method": "po"}
    draft.created_by_id = auth.login("finance").id
    draft.save()
    page = client.get(f"/imports/drafts/{draft.token}")
    assert page.status_code == 200
    for text in ("01/05/2025 to 20/06/2025", "PO number: 1 line, £100.00", "Unmatched: 2 lines, £190.00",
                 "2025-26: 3 lines, £290.00", "C-PO",
                 "With this file, spend in 2025-26 would be £290.00, £40.00 more than the year"):
        assert text in page.text, text
    batch = service.commit(draft)
    assert batch.counts["years"] == {"2025-26": {"lines": 3, "pence": 290_00}}


def test_the_commit_reuses_the_preview_s_checked_rows_when_nothing_changed(app, make, monkeypatch):
    make.year("2025-26", status="open")
    db.session.commit()
    draft = csv_draft(ledger_csv("T1,01/05/2025,S1,Acme,,Rent,100.00", "T2,02/05/2025,S1,Acme,,Rent,-0.01"))
    service.preview(draft)

    def no_second_read(*args, **kwargs):
        raise AssertionError("the file was read again")

    monkeypatch.setattr(committing, "analyse", no_second_read)
    batch = service.commit(draft)
    assert batch.status == "committed" and batch.counts["add"] == 2
    t2 = db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.reference == "T2"))
    assert (t2.posting_date, t2.net_pence, t2.period, t2.import_batch_id) == (date(2025, 5, 2), -1, 2, batch.id)


def test_the_commit_checks_again_when_the_database_changed_since_the_preview(app, make):
    year = make.year("2025-26", status="open")
    db.session.commit()
    draft = csv_draft(ledger_csv("T1,01/05/2025,S1,Acme,,Rent,100.00", "T2,02/05/2025,S1,Acme,,Rent,5.00"))
    assert service.preview(draft)["counts"]["add"] == 2
    # Someone imports T1 in the meantime: the commit must not add it twice.
    service.commit(csv_draft(ledger_csv("T1,01/05/2025,S1,Acme,,Rent,100.00"), "other.csv"))
    batch = service.commit(draft)
    assert (batch.counts["add"], batch.counts["unchanged"]) == (1, 1)
    assert lines(reference="T1") == 1
    # And a year closed since the preview refuses the commit rather than writing into it.
    other = csv_draft(ledger_csv("T3,03/05/2025,S1,Acme,,Rent,1.00"), "third.csv")
    service.preview(other)
    from tracker import audit

    year.status = "closed"
    audit.record("funding", "change", year, "Closed the year")
    db.session.commit()
    with pytest.raises(service.ImportRefused):
        service.commit(other)
    assert lines(reference="T3") == 0


def test_progress_is_kept_where_every_worker_sees_it(app, make, monkeypatch):
    """While a commit runs, another session (another worker) reads its progress; afterwards the batch row holds
    the final count and nothing is left behind."""
    from sqlalchemy.orm import Session

    make.year("2025-26", status="open")
    db.session.commit()
    rows = [f"T{i},0{1 + i % 9}/05/2025,S1,Acme,,Rent,{i + 1}.00" for i in range(12)]
    draft = csv_draft(ledger_csv(*rows))
    service.preview(draft)
    seen = []
    real = service.insert_ledger_chunk

    def watching(chunk):
        real(chunk)
        with Session(db.engine) as other:
            batch = other.scalar(select(ImportBatch).where(ImportBatch.status == "committing"))
            seen.append(service.progress_of(batch))

    monkeypatch.setattr(committing, "insert_ledger_chunk", watching)
    monkeypatch.setattr(committing, "CHUNK", 4)
    monkeypatch.setattr(committing, "PROGRESS_EVERY", 4)
    app.config["IMPORT_PROGRESS_MS"] = 0
    batch = service.commit(draft)
    assert seen == [(4, 12), (8, 12), (12, 12)]
    assert service.progress_of(batch) == (12, 12) and batch.progress == 12
    assert not [n for n in os.listdir(service.imports_dir()) if n.startswith("progress-")]

    # Reports are at most one each IMPORT_PROGRESS_MS: a commit quicker than that shows none until it ends.
    app.config["IMPORT_PROGRESS_MS"] = 3_600_000
    seen.clear()
    rows = [f"U{i},0{1 + i % 9}/05/2025,S1,Acme,,Rent,{i + 1}.00" for i in range(12)]
    again = service.commit(csv_draft(ledger_csv(*rows), "again.csv"))
    assert seen == [(0, 12), (0, 12), (0, 12)]
    assert service.progress_of(again) == (12, 12)


@pytest.mark.parametrize("value, start, end, problem", [
    ("0", "01/05/2025", "31/03/2026", "Contract Value: '0' must be more than £0.00"),
    ("100", "01/05/2025", "01/05/2025", "End Date: '01/05/2025' is not after the start date"),
    ("100", "01/05/2025", "30/04/2025", "End Date: '30/04/2025' is not after the start date"),
])
def test_the_register_import_keeps_the_form_s_rules_with_the_same_edges(app, make, value, start, end, problem):
    from tracker.commissions import rules

    make.year("2025-26", status="open")
    make.strand("Serious Youth Violence")
    db.session.commit()
    data = ("Contract Ref,Service,Provider,Strand,Contract Value,Start Date,End Date\n"
            f"C1,Mentoring,Acme,Serious Youth Violence,{value},{start},{end}\n").encode()
    found = service.preview(csv_draft(data, "register.csv", kind="commissions"))
    assert found["counts"]["error"] == 1
    assert problem in [service.problem_text(p) for p in found["problems"]][0]
    # The same edges as the form: a one-day contract and a £0.00 value are refused by both.
    assert not rules.end_after_start(date(2025, 5, 1), date(2025, 5, 1)) and not rules.value_above_zero(0)
    assert rules.end_after_start(date(2025, 5, 1), date(2025, 5, 2)) and rules.value_above_zero(1)


def test_a_column_of_new_values_stops_being_remembered_and_a_repeating_one_does_not(demo, monkeypatch):
    """After MEMORY_TRIAL rows, a column whose values were mostly new (the reference) parses each value straight
    away; one that repeated in those rows (the supplier) keeps its memory, even when new names come later; both
    give the same answers either way."""
    from tracker.imports import analysis
    from tracker.imports.kinds import KIND_CLASSES

    monkeypatch.setattr(analysis, "MEMORY_TRIAL", 20)

    def supplier(i: int) -> str:
        return f"Supplier {i % 3}" if i < 40 else f"Supplier {i}"

    draft = csv_draft(ledger_csv(*[f"R{i},01/05/2025,,{supplier(i)},,Rent,1.00" for i in range(100)]))
    kind = KIND_CLASSES["ledger"](draft)
    columns = {name: column for name, column, _required, _limit in kind.specs}
    parsed = [kind.parse(i + 2, {"reference": f"R{i}", "supplier_name": supplier(i),
                                 "posting_date": f"0{1 + i % 9}/05/2025", "net": f"{i + 1}.00"})[0]
              for i in range(100)]
    assert columns["reference"].direct and not columns["supplier_name"].direct
    assert not columns["posting_date"].direct  # nine dates, repeated
    assert [p["reference"] for p in parsed] == [f"R{i}" for i in range(100)]
    assert [p["supplier_name"] for p in parsed] == [supplier(i) for i in range(100)]
    assert parsed[99]["net"] == 10000
