"""Issue 25, credits and claims: accrual reversals are a type of their own, left out of a defrayed claim, and a
period's net negative claimable carries into the stream's next claim (grid, claims.xlsx and claim schedule)."""
from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.imports.helpers import draft_of
from tracker.claims import rules
from tracker.extensions import db
from tracker.imports import service as imports
from tracker.imports.kinds.ledger import _transaction_type
from tracker.models import Claim, ClaimSubmission, LedgerTransaction


# --- Reversals -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["Reversal", "Accrual reversal", "Rev", "REV", "Acc Rev", "Reversing journal",
                                  "ACCRUAL-REVERSAL", " reversal "])
def test_the_ledgers_reversal_texts_are_reversals_whatever_the_sign(text):
    assert _transaction_type(text, True) == "reversal"
    assert _transaction_type(text, False) == "reversal"


@pytest.mark.parametrize("text, negative, kind", [
    ("Credit", True, "credit"), ("Credit note", True, "credit"), ("Invoice", False, "invoice"),
    ("Journal", False, "journal"), ("Accrual", False, "accrual"), ("Revenue", False, "invoice"),
    ("", True, "credit"), ("", False, "invoice")])
def test_other_types_read_as_before(text, negative, kind):
    assert _transaction_type(text, negative) == kind


def test_a_defrayed_claim_leaves_reversals_out_and_an_accrued_one_counts_them():
    assert not rules.counts("defrayed", "reversal") and not rules.counts("defrayed", "accrual")
    assert rules.counts("accrued", "reversal") and rules.counts("defrayed", "credit")


HEAD = "Transaction Ref,Posting Date,Supplier ID,Supplier Name,Account Code,Narrative,Net,Type\n"


def test_an_imported_reversal_is_kept_as_one_and_left_out_of_the_defrayed_claim(app, make, client, auth):
    """Q1: invoices £250,000.00, an agreed credit −£5,000.00, an accrual £40,000.00 on 30 June; Q2: the accrual's
    reversal typed "Reversal" (−£40,000.00, once read as a credit) and the real invoice of £40,000.00."""
    year = make.year("2025-26")
    stream = make.stream("Home Office VRU core grant", claim_basis="defrayed")
    make.allocation(year=year, stream=stream, pence=1_200_000_00)
    line = make.budget_line(year=year, stream=stream, amount_pence=1_200_000_00)
    db.session.commit()
    rows = ["T1,01/05/2025,S1,Acme,5010,Work,250000,Invoice", "T2,10/06/2025,S1,Acme,5010,Credit note,-5000,Credit",
            "T3,30/06/2025,S1,Acme,5010,Accrued,40000,Accrual", "T4,01/07/2025,S1,Acme,5010,Accrued,-40000,Reversal",
            "T5,15/07/2025,S1,Acme,5010,Work,40000,Invoice", "T6,20/07/2025,S1,Acme,5010,Rev,-1000,Rev"]
    draft = draft_of("ledger.csv", data=(HEAD + "\n".join(rows) + "\n").encode())
    found = imports.preview(draft)
    assert found["counts"]["add"] == 6, found["problems"]
    imports.commit(draft)
    types = dict(db.session.execute(select(LedgerTransaction.reference, LedgerTransaction.transaction_type)).all())
    assert types == {"T1": "invoice", "T2": "credit", "T3": "accrual", "T4": "reversal", "T5": "invoice",
                     "T6": "reversal"}
    # No contract or account rule matched them: put them on the budget line, as finance would on the unmatched page.
    db.session.execute(LedgerTransaction.__table__.update().values(budget_line_id=line.id))
    db.session.commit()
    auth.login("finance")
    page = client.get(f"/funding/years/{year.id}")
    assert page.status_code == 200
    sheet = load_workbook(io.BytesIO(client.get(f"/funding/years/{year.id}/claims.xlsx").data)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    # Columns: stream, period, due, spend, brought forward, claimable, carried forward, claimed, ...
    assert [r[5] for r in rows] == [245000, 40000, 0, 0, 285000]  # the periods, then the stream's Total row


# --- A negative period carries into the next claim ---------------------------------------------------------------

def test_carry_forward_nets_a_negative_period_off_the_next_claim():
    netted = rules.carry_forward([245_000_00, -10_000_00, 50_000_00, 0])
    assert [c.claimable for c in netted] == [245_000_00, 0, 40_000_00, 0]
    assert [c.carried_forward for c in netted] == [0, -10_000_00, 0, 0]
    assert [c.brought_forward for c in netted] == [0, 0, -10_000_00, 0]
    for c in netted:
        assert c.spend + c.brought_forward == c.claimable + c.carried_forward
    # A negative bigger than the next period's spend keeps going; what the year cannot net off is left at the end.
    netted = rules.carry_forward([-30_00, 10_00, 5_00, 100_00])
    assert [(c.claimable, c.carried_forward) for c in netted] == [(0, -30_00), (0, -20_00), (0, -15_00), (85_00, 0)]
    # A period already claimed is not undone: the last period's negative is left over, and the year's claimable
    # plus it is still the net spend.
    netted = rules.carry_forward([10_00, -20_00])
    assert [(c.claimable, c.carried_forward) for c in netted] == [(10_00, 0), (0, -20_00)]
    assert sum(c.claimable for c in netted) + netted[-1].carried_forward == -10_00


@pytest.fixture
def carried(make):
    """Q1 claimable £245,000.00; Q2 an invoice £15,000.00 and an agreed credit −£25,000.00 (net −£10,000.00);
    Q3 £50,000.00. Defrayed, so an accrual and its reversal in Q2 change nothing."""
    year = make.year("2025-26")
    stream = make.stream("Home Office VRU core grant", claim_due_days=20, claim_basis="defrayed")
    make.allocation(year=year, stream=stream, pence=1_200_000_00)
    line = make.budget_line(year=year, stream=stream, amount_pence=1_200_000_00)
    make.ledger_line(date(2025, 5, 1), 250_000_00, budget_line=line)
    make.ledger_line(date(2025, 6, 10), -5_000_00, budget_line=line, transaction_type="credit")
    make.ledger_line(date(2025, 8, 1), 15_000_00, budget_line=line)
    make.ledger_line(date(2025, 9, 12), -25_000_00, budget_line=line, transaction_type="credit")
    make.ledger_line(date(2025, 9, 30), 7_000_00, budget_line=line, transaction_type="accrual")
    make.ledger_line(date(2025, 9, 30), -7_000_00, budget_line=line, transaction_type="reversal")
    make.ledger_line(date(2025, 11, 3), 50_000_00, budget_line=line)
    db.session.commit()
    return year, stream, line


def _schedule_rows(client, year):
    sheet = load_workbook(io.BytesIO(client.get(f"/funding/years/{year.id}/claims.xlsx").data)).active
    headings = [c.value for c in sheet[1]]
    # The periods (the stream's Total row, last, is checked apart).
    return [dict(zip(headings, r)) for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] != "Total"]


def test_q2s_negative_is_carried_and_q3_claims_40000_so_claims_equal_net_defrayed(client, auth, carried):
    year, stream, _line = carried
    auth.login("finance")
    page = client.get(f"/funding/years/{year.id}")
    assert page.status_code == 200
    assert "Carried forward" in page.text and "Brought forward" in page.text and "-£10,000.00" in page.text
    rows = _schedule_rows(client, year)
    assert [(r["Spend"], r["Brought forward"], r["Claimable"], r["Carried forward"]) for r in rows] == [
        (245000, 0, 245000, 0), (-10000, 0, 0, -10000), (50000, -10000, 40000, 0), (0, 0, 0, 0)]
    for r in rows:  # every row adds up
        assert r["Spend"] + r["Brought forward"] == r["Claimable"] + r["Carried forward"]

    # Finance claims each quarter what the grid suggests: Q2 claims £0.00, Q3 £40,000.00.
    for period in (1, 2, 3):
        assert client.post(f"/funding/years/{year.id}/claims/prepare",
                           data={"stream_id": stream.id, "period": period}).status_code == 303
    claims = {c.period: c for c in db.session.scalars(select(Claim))}
    assert [claims[p].claimed_pence for p in (1, 2, 3)] == [245_000_00, 0, 40_000_00]
    rows = _schedule_rows(client, year)
    cumulative = sum(r["Claimed"] for r in rows)
    net_defrayed = sum(r["Spend"] for r in rows)
    assert cumulative == net_defrayed == 285000


def test_the_claim_schedule_shows_the_carry_and_its_figures_add_up(client, auth, carried):
    year, stream, _line = carried
    auth.login("finance")
    for period in (2, 3):
        client.post(f"/funding/years/{year.id}/claims/prepare", data={"stream_id": stream.id, "period": period})
    q2, q3 = sorted(db.session.scalars(select(Claim)), key=lambda c: c.period)
    page = client.get(f"/claims/{q2.id}")
    assert "Carried forward" in page.text and "-£10,000.00" in page.text
    for claim, expected in ((q2, (-10000, 0, -10000, 0)), (q3, (50000, -10000, 0, 40000))):
        wb = load_workbook(io.BytesIO(client.get(f"/claims/{claim.id}/schedule.xlsx").data))
        facts = {r[0]: r[1] for r in wb["Claim"].iter_rows(min_row=3, values_only=True) if r[0]}
        spend, brought, carried_on, claimable = (facts["Spend this period"],
                                                 facts["Brought forward from earlier periods"],
                                                 facts["Carried forward to the next period"],
                                                 facts["Claimable this period"])
        assert (spend, brought, carried_on, claimable) == expected
        assert spend + brought == claimable + carried_on
        # The lines counted are the period's spend: the reversal and the accrual are listed and not counted.
        lines = list(wb["Ledger lines"].iter_rows(min_row=2, values_only=True))
        counted = sum(r[6] for r in lines if r[7] == "Yes")
        assert counted == spend
        assert all(r[7] == "No" for r in lines if r[5] in ("accrual", "reversal"))


def test_a_submitted_claim_keeps_the_claimable_it_was_submitted_with(client, auth, carried):
    year, stream, _line = carried
    auth.login("finance")
    client.post(f"/funding/years/{year.id}/claims/prepare", data={"stream_id": stream.id, "period": 3})
    claim = db.session.scalars(select(Claim)).one()
    assert client.post(f"/claims/{claim.id}", data={"claimed": "40,000", "signed_off_by": "A. Khan, CFO",
                                                    "note": ""}).status_code == 303
    assert client.post(f"/claims/{claim.id}/submit", data={"submitted_on": "14/01/2026"}).status_code == 303
    assert db.session.scalars(select(ClaimSubmission)).one().claimable_pence == 40_000_00
