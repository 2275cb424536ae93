"""Ledger periods and journal lines: the posting date decides the period and quarter; a period column is checked
against it (P13-P16 are kept as the ledger gives them and count in the ``adjustment_period`` setting, P0 is refused)
and a line with no supplier imports and waits unassigned."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.imports.helpers import draft_of
from tracker import settings
from tracker.admin.service import AdminRuleError, update_setting
from tracker.extensions import db
from tracker.imports import service
from tracker.models import AccountRule, LedgerTransaction
from tracker.periods import month_of_ledger_line, quarter_of_ledger_line

HEAD = "Transaction Ref,Posting Date,Period,Supplier ID,Supplier Name,Narrative,Net\n"


def ledger(*rows: str) -> service.Draft:
    return draft_of("ledger.csv", data=(HEAD + "\n".join(rows) + "\n").encode())


@pytest.fixture
def year(app, make):
    y = make.year("2025-26", status="open")
    db.session.commit()
    return y


def stored(reference: str) -> LedgerTransaction:
    return db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.reference == reference))


def test_the_period_comes_from_the_posting_date_and_a_matching_column_is_accepted(year):
    draft = ledger("T1,15/05/2025,2,S1,Acme,Rent,100", "T2,31/03/2026,12,S1,Acme,Rent,50", "T3,01/01/2026,,S1,Acme,Rent,5")
    found = service.preview(draft)
    assert found["counts"]["add"] == 3, found["problems"]
    service.commit(draft)
    assert [stored(r).period for r in ("T1", "T2", "T3")] == [2, 12, 10]


def test_a_period_that_disagrees_with_the_posting_date_is_a_located_problem(year):
    draft = ledger("T1,15/05/2025,2,S1,Acme,Rent,100", "T2,15/05/2025,7,S1,Acme,Rent,100")
    found = service.preview(draft)
    assert found["counts"]["error"] == 1 and found["counts"]["add"] == 1
    p = found["problems"][0]
    assert (p["sheet"], p["row"], p["column"], p["letter"], p["value"]) == (draft.sheet, 3, "Period", "C", "7")
    assert p["message"] == ("says P7, but the posting date 15/05/2025 is in P2 (May); correct the period or the date")


@pytest.mark.parametrize("period", [13, 14, 15, 16])
def test_adjustment_periods_are_stored_as_the_ledger_gives_them(year, period):
    draft = ledger(f"J{period},31/03/2026,{period},,,Year-end accrual,1234.56")
    assert service.preview(draft)["counts"]["add"] == 1
    service.commit(draft)
    line = stored(f"J{period}")
    # The ledger's own period is kept (it used to be stored as 12, and the ledger's P13 was lost) ...
    assert (line.period, line.posting_date, line.net_pence) == (period, date(2026, 3, 31), 123456)
    # ... and it still counts in P12 (March) and Q4.
    assert (quarter_of_ledger_line(line.period, 3), month_of_ledger_line(line.period, 3)) == (4, 12)


def test_a_period_13_line_is_read_back_as_p13_and_counted_in_q4_and_march(year, make, client, auth):
    """Through the documented ledger import, then read back from the ledger download, the budget download and the
    claims schedule: the line says P13 and its money is in Q4 (and March, for a monthly claim)."""
    stream = make.stream("Serious Violence Duty", claim_frequency="monthly")
    make.allocation(year=year, stream=stream, pence=100_000_00)
    line = make.budget_line(year=year, stream=stream, amount_pence=50_000_00)
    db.session.add(AccountRule(account_code="5100", funding_year_id=year.id, budget_line_id=line.id))
    db.session.commit()
    head = "Transaction Ref,Posting Date,Period,Account Code,Supplier Name,Narrative,Net\n"
    data = (head + "T1,15/05/2025,2,5100,Acme,Rent,100.00\nJ13,31/03/2026,13,5100,,Year-end accrual,777.00\n")
    draft = draft_of("ledger.csv", data=data.encode())
    assert service.preview(draft)["counts"]["add"] == 2
    service.commit(draft)
    assert (stored("J13").period, stored("J13").budget_line_id) == (13, line.id)
    auth.login("finance")

    text = client.get("/exports/ledger.csv?year=2025-26&quarter=4").data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["Transaction reference"], r["Period"], r["Net"]) for r in rows] == [("J13", "13", "777.00")]
    assert client.get("/exports/ledger.csv?quarter=1").data.decode("utf-8-sig").count("\r\n") == 2  # T1 only
    text = client.get("/exports/ledger.csv?period=13").data.decode("utf-8-sig")
    assert [r["Transaction reference"] for r in csv.DictReader(io.StringIO(text))] == ["J13"]

    text = client.get("/exports/budget.csv?year=2025-26&quarter=3").data.decode("utf-8-sig")
    assert [r["Actual to date"] for r in csv.DictReader(io.StringIO(text))][-1] == "100.00"  # not yet in Q3
    text = client.get("/exports/budget.csv?year=2025-26&quarter=4").data.decode("utf-8-sig")
    assert [r["Actual to date"] for r in csv.DictReader(io.StringIO(text))][-1] == "877.00"

    book = load_workbook(io.BytesIO(client.get(f"/funding/years/{year.id}/claims.xlsx").data)).active
    claimable = {r[1]: r[3] for r in book.iter_rows(min_row=2, values_only=True)}
    assert claimable["May 2025"] == 100 and claimable["March 2026 (final)"] == 777


def test_a_file_without_a_period_column_keeps_the_period_the_ledger_gave(year):
    service.commit(ledger("J13,31/03/2026,13,,,Year-end accrual,10"))
    data = b"Transaction Ref,Posting Date,Narrative,Net\nJ13,31/03/2026,Year-end accrual (corrected),10\n"
    draft = draft_of("journals.csv", data=data)
    assert service.preview(draft)["counts"]["changed"] == 1
    service.commit(draft)
    assert (stored("J13").period, stored("J13").narrative) == (13, "Year-end accrual (corrected)")


def test_an_adjustment_period_dated_outside_its_period_is_a_problem(year):
    found = service.preview(ledger("J1,15/02/2026,13,,,Accrual,10"))
    assert found["counts"]["error"] == 1
    assert found["problems"][0]["message"] == (
        "says P13 (a year-end adjustment, counted in P12), but the posting date 15/02/2026 is in P11 (February); "
        "correct the period or the date")


def test_the_adjustment_period_is_a_setting(year):
    update_setting("adjustment_period", "11")
    db.session.commit()
    assert settings.get("adjustment_period") == 11
    draft = ledger("J1,15/02/2026,13,,,Accrual,10", "J2,31/03/2026,13,,,Accrual,10")
    found = service.preview(draft)
    assert found["counts"]["add"] == 1 and found["problems"][0]["row"] == 3
    with pytest.raises(AdminRuleError):
        update_setting("adjustment_period", "13")
    with pytest.raises(AdminRuleError):
        update_setting("adjustment_period", "0")


@pytest.mark.parametrize("period", ["0", "17", "-1", "P3"])
def test_period_zero_and_periods_that_do_not_exist_are_problems_not_q4(year, period):
    found = service.preview(ledger(f"T1,15/03/2026,{period},S1,Acme,Rent,100"))
    assert found["counts"]["error"] == 1 and found["counts"]["add"] == 0
    p = found["problems"][0]
    assert (p["row"], p["column"]) == (2, "Period")
    assert "not" in p["message"]


def test_a_line_with_no_supplier_imports_and_waits_unassigned(year, make):
    provider = make.provider("Acme")
    make.commission("C1", provider=provider, year=year, start_date=date(2025, 4, 1), end_date=date(2026, 3, 31))
    db.session.commit()
    draft = ledger("R1,31/03/2026,12,,,Rounding difference,0.01", "A1,31/03/2026,13,,,Year-end accrual,-250.00",
                   "T1,15/05/2025,2,,Acme,Rent,100")
    found = service.preview(draft)
    assert found["counts"]["add"] == 3 and found["counts"]["error"] == 0
    service.commit(draft)
    for ref in ("R1", "A1"):
        line = stored(ref)
        assert (line.supplier_name, line.supplier_id, line.commission_id, line.budget_line_id) == ("", "", None, None)
    assert stored("T1").commission_id is not None


def test_a_ledger_without_a_supplier_column_is_still_a_ledger(year):
    data = b"Transaction Ref,Posting Date,Narrative,Net\nJ1,31/03/2026,Accrual,10\n"
    draft = draft_of("journals.csv", data=data)
    assert draft.kind == "ledger" and draft.missing_required == []
    assert service.preview(draft)["counts"]["add"] == 1
