"""Sanity ranges on claims, match funding and transparency files (issue 26): a £10,000,000.00 payment on a £100.00
claim, £5,000.00 evidenced on a £100.00 pledge, claim dates in 2099 and a transparency file for 2030-01 were all
accepted. Now the first two need a ticked confirmation (recorded in the audit trail), the last two are refused; the
rules live in the services, so every caller (forms, the command line, the demo) meets them."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tracker.claims import service
from tracker.extensions import db
from tracker.models import AuditEvent, Claim, MatchContribution, Publication

PAYMENT = {"paid_on": "08/08/2025", "received": "10,000,000.00", "remittance_reference": "HO-REM-1"}


@pytest.fixture
def submitted_claim(make):
    year = make.year("2025-26")
    claim = make.claim(year=year, status="submitted", claimed_pence=100_00, version=1, submitted_on=date(2025, 7, 14),
                       signed_off_by="CFO")
    db.session.commit()
    return claim


def _summaries() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.summary)))


def test_a_payment_above_the_claim_needs_confirming(client, auth, submitted_claim):
    claim_id = submitted_claim.id
    auth.login("finance")
    response = client.post(f"/claims/{claim_id}/payment", data=PAYMENT)
    assert response.status_code == 422
    assert "£9,999,900.00 more than the £100.00 claimed" in response.text
    assert 'name="confirm_over"' in response.text  # the box to tick appears with the question
    db.session.expire_all()
    claim = db.session.get(Claim, claim_id)
    assert (claim.status, claim.received_pence, claim.paid_on) == ("submitted", 0, None)
    response = client.post(f"/claims/{claim_id}/payment", data={**PAYMENT, "confirm_over": "y"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Claim, claim_id).received_pence == 10_000_000_00
    assert any("more than the £100.00 claimed (confirmed)" in s for s in _summaries())


def test_the_service_refuses_it_too_unless_confirmed(submitted_claim):
    with pytest.raises(service.NeedsConfirmation):
        service.record_payment(submitted_claim, date(2025, 8, 8), 10_000_000_00, "HO-REM-1")
    service.record_payment(submitted_claim, date(2025, 8, 8), 100_00, "HO-REM-1")  # what was claimed: no question
    assert submitted_claim.status == "paid"


@pytest.mark.parametrize("url, data, field", [
    ("payment", {**PAYMENT, "received": "100.00", "paid_on": "08/08/2099"}, "payment date"),
])
def test_claim_dates_far_from_the_year_are_refused(client, auth, submitted_claim, url, data, field):
    claim_id = submitted_claim.id
    auth.login("finance")
    response = client.post(f"/claims/{claim_id}/{url}", data=data)
    assert response.status_code == 422
    assert f"The {field} must be between 01/04/2024 and 31/03/2027" in response.text.replace("&#39;", "'")
    db.session.expire_all()
    assert db.session.get(Claim, claim_id).status == "submitted"


def test_a_claim_submitted_in_2099_is_refused(client, auth, make):
    claim = make.claim(year=make.year("2025-26"), claimed_pence=0, signed_off_by="CFO")
    db.session.commit()
    claim_id = claim.id
    auth.login("finance")
    for when in ("14/07/2099", "14/07/2023"):
        response = client.post(f"/claims/{claim_id}/submit", data={"submitted_on": when})
        assert response.status_code == 422 and "The date submitted must be between 01/04/2024" in response.text
    db.session.expire_all()
    assert db.session.get(Claim, claim_id).status == "draft"
    # The year after is fine: a final claim is often sent after 31 March.
    assert client.post(f"/claims/{claim_id}/submit", data={"submitted_on": "20/04/2026"}).status_code == 303


def test_evidence_above_the_pledge_needs_confirming(client, auth, make):
    year = make.year("2025-26")
    stream = make.stream()
    make.allocation(year=year, stream=stream)
    letter = make.document(year=year, title="Council letter")
    db.session.commit()
    auth.login("finance")
    match = {"funding_stream_id": stream.id, "partner": "County council", "kind": "cash", "pledged": "100.00",
             "evidenced": "5,000.00", "document_id": letter.id, "note": ""}
    response = client.post(f"/funding/years/{year.id}/match/new", data=match)
    assert response.status_code == 422
    assert "£4,900.00 more than the £100.00 pledged" in response.text and 'name="confirm_over"' in response.text
    assert db.session.scalar(select(func.count()).select_from(MatchContribution)) == 0
    assert client.post(f"/funding/years/{year.id}/match/new", data={**match, "confirm_over": "y"}).status_code == 303
    contribution = db.session.scalars(select(MatchContribution)).one()
    assert contribution.evidenced_pence == 5_000_00
    assert any("evidenced above the pledge, confirmed" in s for s in _summaries())
    # Editing keeps asking while it is still over and not confirmed.
    edit = client.post(f"/match/{contribution.id}/edit", data={**match, "evidenced": "6,000.00"})
    assert edit.status_code == 422 and "£5,900.00 more than the £100.00 pledged" in edit.text
    db.session.expire_all()
    assert db.session.get(MatchContribution, contribution.id).evidenced_pence == 5_000_00


def test_no_transparency_file_for_a_period_not_yet_begun(client, auth):
    from tracker.procurement import transparency

    auth.login("finance")
    response = client.post("/publications/spend-monthly/issue", data={"period": "2030-01"})
    assert response.status_code == 400 and "January 2030 has not begun yet" in response.text
    assert client.get("/publications/spend-monthly?period=2030-01").status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 0
    with pytest.raises(transparency.IssueProblem, match="has not begun"):
        transparency.issue(db.session, transparency.get_kind("spend-monthly"),
                           transparency.parse_period("month", "2030-01"), None)
