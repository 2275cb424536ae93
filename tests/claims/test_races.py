"""Two people (or two clicks) acting on one claim at once: each transition is one conditional UPDATE, so the one
that comes second is refused with a 409 that shows the claim as it is now, never a 500 or a second transition.

Races are played one request after the other: the second POST carries the version its page was shown at (now
out of date), or the rival's UPDATE is made behind the service's back so the conditional UPDATE itself decides."""
from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from tracker import locking
from tracker.claims import service
from tracker.extensions import db
from tracker.models import Allocation, AuditEvent, Claim, ClaimSubmission
from tests.pages import hidden


@pytest.fixture
def draft(make):
    """A signed-off draft Q1 claim of £1,000.00 on a £75,000.00 allocation."""
    year = make.year("2025-26")
    stream = make.stream("Home Office VRU core grant")
    make.allocation(year=year, stream=stream, pence=75_000_00)
    make.budget_line(year=year, stream=stream, amount_pence=75_000_00)
    claim = make.claim(year=year, stream=stream, period=1, claimed_pence=1_000_00, signed_off_by="A. Khan, CFO")
    db.session.commit()
    return claim


def shown_version(client, claim_id: int) -> str:
    """The version the claim page puts in its forms (what a browser would send back)."""
    page = client.get(f"/claims/{claim_id}").text
    return hidden(page, "version")


def fresh(claim_id: int) -> Claim:
    db.session.expire_all()
    return db.session.get(Claim, claim_id)


def paid_events(claim_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "Claim", AuditEvent.object_id == claim_id, AuditEvent.summary.like("% paid:%")))


def test_save_then_a_submit_from_the_same_page_is_refused_and_nothing_is_sent(client, auth, draft):
    auth.login("finance")
    version = shown_version(client, draft.id)
    saved = client.post(f"/claims/{draft.id}", data={"claimed": "2,000", "signed_off_by": "A. Khan, CFO",
                                                     "version": version})
    assert saved.status_code == 303
    submitted = client.post(f"/claims/{draft.id}/submit", data={"submitted_on": "14/07/2025", "version": version})
    assert submitted.status_code == 409
    assert "your submission was not made" in submitted.text and "£2,000.00" in submitted.text
    claim = fresh(draft.id)
    assert (claim.status, claim.claimed_pence, claim.version) == ("draft", 2_000_00, 0)
    assert db.session.scalar(select(func.count()).select_from(ClaimSubmission)) == 0


def test_submit_then_a_save_from_the_same_page_is_refused_and_the_schedule_is_the_locked_amount(client, auth, draft):
    auth.login("finance")
    version = shown_version(client, draft.id)
    assert client.post(f"/claims/{draft.id}/submit", data={"submitted_on": "14/07/2025",
                                                           "version": version}).status_code == 303
    saved = client.post(f"/claims/{draft.id}", data={"claimed": "2,000", "signed_off_by": "A. Khan, CFO",
                                                     "version": version})
    assert saved.status_code == 409
    claim = fresh(draft.id)
    submission = db.session.scalars(select(ClaimSubmission)).one()
    assert claim.status == "submitted" and claim.claimed_pence == submission.claimed_pence == 1_000_00
    sheet = load_workbook(io.BytesIO(client.get(f"/claims/{draft.id}/schedule.xlsx").data))["Claim"]
    facts = {r[0]: r[1] for r in sheet.iter_rows(min_row=3, values_only=True) if r[0]}
    assert facts["Claimed this period"] == 1000


def test_a_save_landing_between_a_submits_read_and_its_write_stops_the_submit(app, draft):
    """The rival save commits after the submit read the claim: the submit's conditional UPDATE finds another
    version and moves nothing, so the £1,000.00 it read is never sent as the claim now says £2,000.00."""
    claim = service.get_claim_or_404(draft.id)
    assert claim.claimed_pence == 1_000_00
    db.session.execute(update(Claim).where(Claim.id == claim.id)
                       .values(claimed_pence=2_000_00, row_version=Claim.row_version + 1)
                       .execution_options(synchronize_session=False))
    with pytest.raises(locking.Stale) as lost:
        service.submit(claim, None, date(2025, 7, 14))
    assert lost.value.record.status == "draft"
    assert db.session.scalar(select(func.count()).select_from(ClaimSubmission)) == 0


def test_two_payments_at_once_record_one_paid_transition(client, auth, draft):
    auth.login("finance")
    client.post(f"/claims/{draft.id}/submit", data={"submitted_on": "14/07/2025",
                                                    "version": shown_version(client, draft.id)})
    version = shown_version(client, draft.id)
    payment = {"paid_on": "08/08/2025", "received": "1,000", "remittance_reference": "HO-1", "version": version}
    assert client.post(f"/claims/{draft.id}/payment", data=payment).status_code == 303
    second = client.post(f"/claims/{draft.id}/payment", data={**payment, "remittance_reference": "HO-2"})
    assert second.status_code == 409 and "your payment was not made" in second.text
    claim = fresh(draft.id)
    assert (claim.status, claim.remittance_reference) == ("paid", "HO-1")
    assert paid_events(draft.id) == 1


def test_a_payment_racing_at_the_database_is_refused_by_the_conditional_update(app, draft):
    claim = service.get_claim_or_404(draft.id)
    service.submit(claim, None, date(2025, 7, 14))
    db.session.commit()
    claim = service.get_claim_or_404(draft.id)
    # The rival payment is written after this request read the claim.
    db.session.execute(update(Claim).where(Claim.id == claim.id)
                       .values(status="paid", row_version=Claim.row_version + 1)
                       .execution_options(synchronize_session=False))
    with pytest.raises(locking.Stale):
        service.record_payment(claim, date(2025, 8, 8), 1_000_00, "HO-2")
    assert paid_events(draft.id) == 0


@pytest.mark.parametrize("first", ["queried", "payment"])
def test_queried_and_a_payment_at_once_one_wins_the_other_is_a_409(client, auth, draft, first):
    auth.login("finance")
    client.post(f"/claims/{draft.id}/submit", data={"submitted_on": "14/07/2025",
                                                    "version": shown_version(client, draft.id)})
    version = shown_version(client, draft.id)
    query = ("decision", {"decision": "queried", "note": "Invoice of 20 June missing", "version": version})
    pay = ("payment", {"paid_on": "08/08/2025", "received": "1,000", "remittance_reference": "HO-1",
                       "version": version})
    winner, loser = (query, pay) if first == "queried" else (pay, query)
    assert client.post(f"/claims/{draft.id}/{winner[0]}", data=winner[1]).status_code == 303
    refused = client.post(f"/claims/{draft.id}/{loser[0]}", data=loser[1])
    assert refused.status_code == 409 and "Someone else changed this claim" in refused.text
    claim = fresh(draft.id)
    if first == "queried":
        assert claim.status == "queried" and "Invoice of 20 June missing" in claim.note and claim.paid_on is None
    else:
        assert claim.status == "paid" and "Invoice" not in claim.note


def test_a_stale_save_shows_what_is_saved_beside_what_was_typed(client, auth, draft):
    auth.login("finance")
    version = shown_version(client, draft.id)
    client.post(f"/claims/{draft.id}", data={"claimed": "2,000", "signed_off_by": "A. Khan, CFO",
                                             "version": version})
    stale = client.post(f"/claims/{draft.id}", data={"claimed": "3,000", "signed_off_by": "B. Jones",
                                                     "version": version})
    assert stale.status_code == 409
    assert "£2,000.00" in stale.text and "3,000" in stale.text and "B. Jones" in stale.text
    assert fresh(draft.id).claimed_pence == 2_000_00


def test_two_draft_claims_saved_at_once_stay_within_the_allocation(app, make, draft):
    """Claim 1 is raised to £50,000.00 by another request after this one read it at £1,000.00: the £50,000.00
    asked on claim 2 is checked against the database, not the out-of-date copy, and refused."""
    second = make.claim(year=draft.funding_year, stream=draft.funding_stream, period=2)
    db.session.commit()
    service.year_claims(draft.funding_year)  # this request holds both claims as they were
    db.session.execute(update(Claim).where(Claim.id == draft.id)
                       .values(claimed_pence=50_000_00, row_version=Claim.row_version + 1)
                       .execution_options(synchronize_session=False))
    with pytest.raises(service.Refused, match="£100,000.00, £25,000.00 over the allocation of £75,000.00"):
        service.update(second, 50_000_00, "CFO", "")


def test_an_allocation_cannot_be_revised_below_what_is_claimed(client, auth, draft):
    draft.claimed_pence = 40_000_00
    db.session.commit()
    allocation = db.session.scalars(select(Allocation)).one()
    auth.login("finance")
    response = client.post(f"/funding/allocations/{allocation.id}", data={
        "amount": "30,000", "reason": "Home Office clawback", "status": "confirmed"})
    assert response.status_code == 422 and "already claim £40,000.00" in response.text
    db.session.expire_all()
    assert db.session.get(Allocation, allocation.id).revised_pence == 75_000_00
    assert client.post(f"/funding/allocations/{allocation.id}", data={
        "amount": "40,000", "reason": "Home Office clawback", "status": "confirmed"}).status_code == 303


def test_two_prepares_of_one_period_open_one_claim(client, auth, draft):
    auth.login("finance")
    data = {"stream_id": draft.funding_stream_id, "period": 2}
    first = client.post(f"/funding/years/{draft.funding_year_id}/claims/prepare", data=data)
    second = client.post(f"/funding/years/{draft.funding_year_id}/claims/prepare", data=data)
    assert first.status_code == second.status_code == 303 and first.location == second.location
    assert db.session.scalar(select(func.count()).select_from(Claim).where(Claim.period == 2)) == 1
