"""Ledger periods and journal lines: the posting date decides the period and quarter; a period column is checked
against it (P13-P16 count in the ``adjustment_period`` setting, P0 is refused) and a line with no supplier imports
and waits unassigned."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.imports.helpers import draft_of
from tracker import settings
from tracker.admin.service import AdminRuleError, update_setting
from tracker.extensions import db
from tracker.imports import service
from tracker.models import LedgerTransaction

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
def test_adjustment_periods_count_in_p12_and_are_stored_as_p12(year, period):
    draft = ledger(f"J{period},31/03/2026,{period},,,Year-end accrual,1234.56")
    assert service.preview(draft)["counts"]["add"] == 1
    service.commit(draft)
    line = stored(f"J{period}")
    assert (line.period, line.posting_date, line.net_pence) == (12, date(2026, 3, 31), 123456)


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
