"""Claims, conditions, match funding and virements through HTTP: the finance journey without JavaScript, bad input
(422, nothing changed), roles, frozen downloads and query counts."""
from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tracker.claims import service
from tracker.extensions import db
from tracker.models import (
    Allocation, AuditEvent, BudgetLine, Claim, ClaimSubmission, GrantCondition, MatchContribution, Virement,
)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def year_with_spend(make):
    year = make.year("2025-26")
    stream = make.stream("Home Office VRU core grant", claim_due_days=20)
    make.allocation(year=year, stream=stream, pence=1_200_000_00)
    line = make.budget_line(year=year, stream=stream, amount_pence=1_200_000_00)
    make.ledger_line(date(2025, 5, 1), 250_000_00, budget_line=line)
    make.ledger_line(date(2025, 6, 10), -5_000_00, budget_line=line, transaction_type="credit")
    make.ledger_line(date(2025, 6, 30), 40_000_00, budget_line=line, transaction_type="accrual")
    db.session.commit()
    return year, stream, line


def test_finance_prepares_submits_and_records_payment_of_a_q1_claim(client, auth, year_with_spend):
    year, stream, _line = year_with_spend
    auth.login("finance")
    page = client.get(f"/funding/years/{year.id}")
    assert page.status_code == 200
    assert "£245,000.00" in page.text and "20/07/2025" in page.text and "Sunday" in page.text
    response = client.post(f"/funding/years/{year.id}/claims/prepare", data={"stream_id": stream.id, "period": 1})
    assert response.status_code == 303
    claim = db.session.scalars(select(Claim)).one()
    page = client.get(response.location)
    assert "leaves out accruals and their reversals" in page.text and "£245,000.00" in page.text
    assert client.post(f"/claims/{claim.id}", data={"claimed": "245,000", "signed_off_by": "A. Khan, CFO",
                                                    "note": ""}).status_code == 303
    assert client.post(f"/claims/{claim.id}/submit", data={"submitted_on": "14/07/2025"}).status_code == 303
    first = client.get(f"/claims/{claim.id}/schedule.xlsx")
    again = client.get(f"/claims/{claim.id}/schedule.xlsx")
    assert first.status_code == 200 and first.data == again.data
    wb = load_workbook(io.BytesIO(first.data))
    facts = {r[0]: r[1] for r in wb["Claim"].iter_rows(min_row=3, values_only=True) if r[0]}
    assert facts["Claimed this period"] == 245000 and facts["Version"] == "1"
    assert client.post(f"/claims/{claim.id}/payment", data={"paid_on": "08/08/2025", "received": "245,000.00",
                                                            "remittance_reference": "HO-REM-0001"}).status_code == 303
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert (claim.status, claim.received_pence, claim.paid_on, claim.remittance_reference) == (
        "paid", 245_000_00, date(2025, 8, 8), "HO-REM-0001")
    page = client.get(f"/funding/years/{year.id}")
    assert "Paid" in page.text
    schedule = load_workbook(io.BytesIO(client.get(f"/funding/years/{year.id}/claims.xlsx").data)).active
    rows = list(schedule.iter_rows(min_row=2, values_only=True))
    assert rows[0][:11] == ("Home Office VRU core grant", "Q1 (Apr-Jun)", rows[0][2], 245000, 0, 245000, 0, 245000,
                            245000, 0, "Paid")
    assert rows[0][2].date() == date(2025, 7, 20) and rows[0][13] == "HO-REM-0001"
    assert rows[3][1] == "Q4 (Jan-Mar) (final)"
    # The grid's Total row, the same figures as the year page's (``StreamClaims.total``).
    sc = next(sc for sc in service.year_claims(year) if sc.stream.id == stream.id)
    assert rows[4][:11] == ("Home Office VRU core grant", "Total", None, sc.total("spend") / 100, 0,
                            sc.total("claimable") / 100, 0, sc.total("claimed") / 100, sc.total("received") / 100,
                            sc.total("outstanding") / 100, None)
    assert rows[4][7:9] == (245000, 245000) and len(rows) == 5
    assert f"{sc.total('claimable') / 100:,.2f}" in page.text


def test_bad_claim_input_is_refused_with_a_message_and_changes_nothing(client, auth, year_with_spend):
    year, stream, _line = year_with_spend
    auth.login("finance")
    for data in ({"stream_id": "x", "period": "1"}, {"stream_id": stream.id, "period": "9"}, {}):
        assert client.post(f"/funding/years/{year.id}/claims/prepare", data=data).status_code == 422
    assert client.post(f"/funding/years/{year.id}/claims/prepare",
                       data={"stream_id": 99999, "period": 1}).status_code == 404
    client.post(f"/funding/years/{year.id}/claims/prepare", data={"stream_id": stream.id, "period": 1})
    claim = db.session.scalars(select(Claim)).one()
    events = count(AuditEvent)
    for data, message in [({"claimed": "lots"}, "Enter an amount in pounds"),
                          ({"claimed": "1,300,000"}, "Over the grant: falls to the PCC"),
                          ({"claimed": "-5"}, "zero or more")]:
        response = client.post(f"/claims/{claim.id}", data={"signed_off_by": "CFO", **data})
        assert response.status_code == 422 and message in response.text, data
    response = client.post(f"/claims/{claim.id}/submit", data={"submitted_on": "14/07/2025"})
    assert response.status_code == 422 and "signed the claim off" in response.text
    response = client.post(f"/claims/{claim.id}/submit", data={"submitted_on": "31/02/2025"})
    assert response.status_code == 422 and "must be a real date" in response.text
    response = client.post(f"/claims/{claim.id}/payment", data={"paid_on": "08/08/2025", "received": "1",
                                                                "remittance_reference": "R"})
    assert response.status_code == 422 and "Only a submitted or approved claim" in response.text
    db.session.expire_all()
    assert (db.session.get(Claim, claim.id).status, count(ClaimSubmission), count(AuditEvent)) == ("draft", 0, events)


def test_a_submitted_claim_is_frozen_and_a_correction_is_version_2(client, auth, year_with_spend, make):
    year, stream, line = year_with_spend
    auth.login("finance")
    client.post(f"/funding/years/{year.id}/claims/prepare", data={"stream_id": stream.id, "period": 1})
    claim = db.session.scalars(select(Claim)).one()
    client.post(f"/claims/{claim.id}", data={"claimed": "245,000", "signed_off_by": "CFO"})
    client.post(f"/claims/{claim.id}/submit", data={"submitted_on": "14/07/2025"})
    v1 = client.get(f"/claims/{claim.id}/schedule.xlsx").data
    response = client.post(f"/claims/{claim.id}", data={"claimed": "1", "signed_off_by": "CFO"})
    assert response.status_code == 409 and "frozen" in response.text
    make.ledger_line(date(2025, 6, 20), 1_000_00, budget_line=line)
    db.session.commit()
    assert client.get(f"/claims/{claim.id}/schedule.xlsx").data == v1
    assert client.post(f"/claims/{claim.id}/decision", data={"decision": "queried", "decided_on": "16/07/2025",
                                                             "note": "Invoice of 20 June missing"}).status_code == 303
    client.post(f"/claims/{claim.id}", data={"claimed": "246,000", "signed_off_by": "CFO"})
    assert client.post(f"/claims/{claim.id}/submit", data={"submitted_on": "18/07/2025"}).status_code == 303
    v2 = client.get(f"/claims/{claim.id}/schedule.xlsx").data
    assert v2 != v1
    first = db.session.scalars(select(ClaimSubmission).where(ClaimSubmission.version == 1)).one()
    assert client.get(f"/claims/{claim.id}/schedule/v{first.version}.xlsx").data == v1
    assert client.get(f"/claims/{claim.id}/schedule/v2.xlsx").data == v2
    # Each version is linked from the claim page at its own address (issue 26: the old address now serves v2).
    page = client.get(f"/claims/{claim.id}").text
    assert f"/claims/{claim.id}/schedule/v1.xlsx" in page and f"/claims/{claim.id}/schedule/v2.xlsx" in page
    assert client.get(f"/claims/{claim.id}/schedule/v3.xlsx").status_code == 404


def test_viewers_read_claims_but_change_nothing(client, auth, make, year_with_spend):
    year, stream, _line = year_with_spend
    claim = make.claim(year=year, stream=stream, status="submitted", version=1)
    db.session.commit()
    auth.login("viewer")
    page = client.get(f"/claims/{claim.id}")
    assert page.status_code == 200 and "Save the claim" not in page.text
    assert client.post(f"/claims/{claim.id}", data={"claimed": "1"}).status_code == 403
    assert client.get("/claims/99999").status_code == 404


@pytest.mark.parametrize("status", ["draft", "queried"])
def test_viewers_see_only_claims_sent_to_the_funder(client, auth, make, year_with_spend, status):
    """Issue 26: viewers downloaded draft claim schedules, though draft returns are hidden from them. A claim
    in preparation (draft) or being corrected (queried) does not exist for a viewer: page, schedule, versions
    and the year's grid; a sent one they read and download."""
    year, stream, _line = year_with_spend
    hidden = make.claim(year=year, stream=stream, period=1, status=status, claimed_pence=7_777_00)
    sent = make.claim(year=year, stream=stream, period=2, status="paid", claimed_pence=1_234_00)
    db.session.commit()
    auth.login("viewer")
    for url in (f"/claims/{hidden.id}", f"/claims/{hidden.id}/schedule.xlsx", f"/claims/{hidden.id}/schedule/v1.xlsx"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/claims/{sent.id}").status_code == 200
    assert client.get(f"/claims/{sent.id}/schedule.xlsx").status_code == 200
    grid = client.get(f"/funding/years/{year.id}").text
    assert f"/claims/{sent.id}\"" in grid and f"/claims/{hidden.id}\"" not in grid and "7,777.00" not in grid
    workbook = client.get(f"/funding/years/{year.id}/claims.xlsx")
    assert workbook.status_code == 200 and b"7777" not in _cells(workbook.data)
    # Staff see both.
    auth.logout()
    auth.login("finance")
    assert client.get(f"/claims/{hidden.id}/schedule.xlsx").status_code == 200
    assert f"/claims/{hidden.id}\"" in client.get(f"/funding/years/{year.id}").text


def _cells(xlsx: bytes) -> bytes:
    """Every cell value of a workbook, as text, to look for an amount in."""
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(xlsx))
    return " ".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row).encode()


def test_virement_across_the_ring_fence_needs_an_approval_reference(client, auth, make):
    year = make.year("2025-26")
    stream = make.stream("Serious Violence Duty", labour_split=True)
    make.allocation(year=year, stream=stream, pence=300_000_00)
    labour = make.budget_line(year=year, stream=stream, labour=True, amount_pence=200_000_00, description="Staff")
    other = make.budget_line(year=year, stream=stream, labour=False, amount_pence=100_000_00, description="Activities")
    db.session.commit()
    auth.login("finance")
    data = {"from_line_id": labour.id, "to_line_id": other.id, "amount": "10,000", "reason": "More activities"}
    response = client.post(f"/funding/years/{year.id}/virement", data=data)
    assert response.status_code == 422
    assert "needs the funder&#39;s approval" in response.text and "across the ring fence" in response.text
    db.session.expire_all()
    assert (db.session.get(BudgetLine, labour.id).amount_pence, count(Virement)) == (200_000_00, 0)
    for bad, message in [({"amount": "400,000"}, "only £200,000.00 to move"), ({"to_line_id": labour.id}, "two different"),
                         ({"amount": "ten"}, "Enter an amount"), ({"reason": ""}, "Say why")]:
        response = client.post(f"/funding/years/{year.id}/virement", data={**data, **bad})
        assert response.status_code == 422 and message in response.text, bad
    response = client.post(f"/funding/years/{year.id}/virement", data={**data, "approval_reference": "HO-SVD-14"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(BudgetLine, labour.id).amount_pence == 190_000_00
    assert "HO-SVD-14" in client.get(f"/funding/years/{year.id}").text


def test_conditions_and_contributions_forms(client, auth, make):
    year = make.year("2025-26")
    stream = make.stream()
    make.allocation(year=year, stream=stream, pence=1_000_000_00)
    evaluation = make.category("Evaluation")
    make.budget_line(year=year, stream=stream, category=evaluation, amount_pence=80_000_00)
    letter = make.document(year=year, title="Council letter")
    db.session.commit()
    auth.login("finance")
    base = {"funding_stream_id": stream.id, "kind": "category_share", "category_id": 0, "strand_id": 0,
            "minimum": "10", "labour": "", "note": ""}
    for bad, message in [({}, "Choose the category"), ({"category_id": evaluation.id, "minimum": "ten"}, "Enter a percentage"),
                         ({"category_id": evaluation.id, "minimum": "120"}, "from 0 to 100"),
                         ({"kind": "ring_fence"}, "Enter the amount ring-fenced")]:
        response = client.post(f"/funding/years/{year.id}/conditions/new", data={**base, **bad})
        assert response.status_code == 422 and message in response.text, bad
    assert count(GrantCondition) == 0
    assert client.post(f"/funding/years/{year.id}/conditions/new",
                       data={**base, "category_id": evaluation.id}).status_code == 303
    page = client.get(f"/funding/years/{year.id}")
    # As at Q4 of a year gone by the forecast is what was spent: nothing, so £100,000.00 short.
    assert "Evaluation: at least 10%" in page.text and "Not met" in page.text and "£100,000.00" in page.text
    match = {"funding_stream_id": stream.id, "partner": "County council", "kind": "cash", "pledged": "150,000",
             "evidenced": "120,000", "document_id": 0, "note": ""}
    response = client.post(f"/funding/years/{year.id}/match/new", data=match)
    assert response.status_code == 422 and "needs its evidence" in response.text
    assert count(MatchContribution) == 0
    assert client.post(f"/funding/years/{year.id}/match/new", data={**match, "document_id": letter.id}).status_code == 303
    contribution = db.session.scalars(select(MatchContribution)).one()
    assert (contribution.pledged_pence, contribution.evidenced_pence) == (150_000_00, 120_000_00)
    assert client.get(f"/match/{contribution.id}/edit").status_code == 200
    assert client.post(f"/match/{contribution.id}/delete").status_code == 303
    assert count(MatchContribution) == 0


def test_confirming_a_draft_allocation_records_the_grant_letter(client, auth, make):
    year = make.year("2026-27")
    allocation = make.allocation(year=year, status="draft", pence=100_000_00)
    line = make.budget_line(year=year, stream=allocation.funding_stream, amount_pence=100_000_00)
    make.ledger_line(date(2026, 5, 1), 12_000_00, budget_line=line)
    db.session.commit()
    auth.login("finance")
    page = client.get(f"/funding/years/{year.id}")
    assert "At risk until the grant agreement is signed" in page.text and "£12,000.00" in page.text
    data = {"amount": "100,000", "status": "confirmed", "reason": "Grant letter received"}
    response = client.post(f"/funding/allocations/{allocation.id}", data=data)
    assert response.status_code == 422 and "date of the grant letter" in response.text
    response = client.post(f"/funding/allocations/{allocation.id}", data={
        **data, "grant_letter_date": "16/06/2026", "grant_letter_reference": "HO/VRU/2026/07"})
    assert response.status_code == 303
    db.session.expire_all()
    a = db.session.get(Allocation, allocation.id)
    assert (a.status, a.grant_letter_date, a.grant_letter_reference) == ("confirmed", date(2026, 6, 16), "HO/VRU/2026/07")
    assert "At risk until the grant agreement is signed" not in client.get(f"/funding/years/{year.id}").text


def test_home_page_flags_conditions_at_risk(client, auth, make):
    year = make.year("2025-26")
    stream = make.stream()
    make.allocation(year=year, stream=stream, pence=1_000_000_00)
    make.condition(year=year, stream=stream, kind="match_share", minimum_basis_points=2000, category=None)
    make.contribution(year=year, stream=stream, pledged_pence=210_000_00, evidenced_pence=120_000_00)
    db.session.commit()
    auth.login("viewer")
    page = client.get("/?year=2025-26")
    assert "Grant conditions at risk" in page.text and "£80,000.00 short" in page.text


def _grow(make, year, stream, n: int) -> None:
    from tracker.models import FundingStream

    for i in range(n):
        s = make.stream(f"Stream {i} {n}")
        make.allocation(year=year, stream=s, pence=10_000_00)
        make.claim(year=year, stream=s, period=1, claimed_pence=1_00, status="submitted")  # a viewer sees it
        make.contribution(year=year, stream=s, pledged_pence=1_00, evidenced_pence=1_00)
        make.condition(year=year, stream=s, kind="match_share", category=None)
    assert FundingStream


def test_year_page_and_claim_page_queries_stay_constant_as_claims_and_contributions_grow(client, auth, make,
                                                                                       count_queries):
    year = make.year("2025-26")
    stream = make.stream()
    _grow(make, year, stream, 2)
    claim = make.claim(year=year, stream=stream, status="submitted")
    db.session.commit()
    year_url, claim_url = f"/funding/years/{year.id}", f"/claims/{claim.id}"  # read now: a commit expires them
    auth.login("viewer")
    client.get(year_url)
    with count_queries() as small:
        assert client.get(year_url).status_code == 200
    with count_queries() as small_claim:
        assert client.get(claim_url).status_code == 200
    _grow(make, year, stream, 15)
    db.session.commit()
    with count_queries() as big:
        page = client.get(year_url)
    with count_queries() as big_claim:
        assert client.get(claim_url).status_code == 200
    assert page.status_code == 200 and "Stream 14 15" in page.text
    from collections import Counter
    assert big.count == small.count, Counter(big.statements) - Counter(small.statements)
    assert big_claim.count == small_claim.count, big_claim.statements
