"""Claims, conditions, match funding and virements against the database, on issue 14's hand-worked cases."""
from datetime import date, datetime

import pytest

from tracker import audit, files
from tracker.claims import rules, service
from tracker.claims.service import Refused
from tracker.extensions import db
from tracker.models import AuditEvent, Claim, GrantCondition


@pytest.fixture
def q1(make):
    """Allocation £1,200,000.00 on a defrayed basis, claims due 20 days after the quarter; the Q1 ledger has
    invoices of £250,000.00, a credit of -£5,000.00 and an accrual of £40,000.00 on 30 June; Q2 has the accrual's
    reversal on 1 July and the real invoice on 15 July."""
    year = make.year("2025-26")
    stream = make.stream("Home Office VRU core grant", claim_due_days=20, claim_basis="defrayed")
    make.allocation(year=year, stream=stream, pence=1_200_000_00)
    line = make.budget_line(year=year, stream=stream, amount_pence=1_200_000_00)
    make.ledger_line(date(2025, 5, 1), 150_000_00, budget_line=line)
    make.ledger_line(date(2025, 6, 2), 100_000_00, budget_line=line)
    make.ledger_line(date(2025, 6, 10), -5_000_00, budget_line=line, transaction_type="credit")
    make.ledger_line(date(2025, 6, 30), 40_000_00, budget_line=line, transaction_type="accrual")
    make.ledger_line(date(2025, 7, 1), -40_000_00, budget_line=line, transaction_type="accrual")
    make.ledger_line(date(2025, 7, 15), 40_000_00, budget_line=line)
    db.session.commit()
    return year, stream, line


def _row(year, stream):
    return next(sc for sc in service.year_claims(year, today=date(2025, 8, 1)) if sc.stream.id == stream.id)


def test_q1_claimable_is_245000_and_due_sunday_20_july(q1):
    year, stream, _line = q1
    sc = _row(year, stream)
    cell = sc.cells[0]
    assert cell.claimable == 245_000_00
    assert cell.due == date(2025, 7, 20)
    # Q2 leaves out the reversal and counts the real invoice of 15 July.
    assert sc.cells[1].claimable == 40_000_00


def test_on_an_accrued_basis_the_accrual_counts_and_its_reversal_nets_it_off(q1):
    year, stream, _line = q1
    stream.claim_basis = "accrued"
    db.session.commit()
    sc = _row(year, stream)
    assert [c.claimable for c in sc.cells[:2]] == [285_000_00, 0]


def test_preparing_a_claim_claims_the_claimable_within_the_grant(q1):
    year, stream, _line = q1
    claim = service.prepare(year, stream, 1)
    assert (claim.claimed_pence, claim.status, claim.frequency) == (245_000_00, "draft", "quarterly")
    assert service.prepare(year, stream, 1) is claim  # never two claims for one period


def test_over_the_grant_falls_to_the_pcc(make):
    year = make.year("2025-26")
    stream = make.stream("Serious Violence Duty")
    make.allocation(year=year, stream=stream, pence=1_200_000_00)
    line = make.budget_line(year=year, stream=stream, amount_pence=1_230_000_00)
    make.ledger_line(date(2025, 5, 1), 1_230_000_00, budget_line=line)
    db.session.commit()
    sc = _row(year, stream)
    assert sc.over_the_grant == 30_000_00
    claim = service.prepare(year, stream, 1)
    assert claim.claimed_pence == 1_200_000_00
    with pytest.raises(Refused, match="over the allocation"):
        service.update(claim, 1_230_000_00, "CFO", "")


def test_underspend_lost_after_the_final_claim(make, app):
    year = make.year("2025-26")
    stream = make.stream("Young Futures", claim_frequency="annual")
    make.allocation(year=year, stream=stream, pence=1_200_000_00)
    make.claim(year=year, stream=stream, period=1, claimed_pence=1_150_000_00, frequency="annual",
               signed_off_by="Chief finance officer")
    db.session.commit()
    sc = _row(year, stream)
    assert sc.underspend_lost is None  # not yet: the final claim is still a draft
    service.submit(db.session.get(Claim, sc.cells[0].claim.id), None, date(2026, 4, 20))
    db.session.commit()
    assert _row(year, stream).underspend_lost == 50_000_00


def test_underspend_at_risk_shows_from_q3_from_the_forecast(make):
    year = make.year("2025-26")
    stream = make.stream()
    make.allocation(year=year, stream=stream, pence=100_000_00)
    line = make.budget_line(year=year, stream=stream, amount_pence=80_000_00)  # £20,000.00 a quarter
    for month in (5, 8, 11):
        make.ledger_line(date(2025, month, 1), 20_000_00, budget_line=line)
    db.session.commit()
    assert service.year_claims(year, today=date(2025, 9, 30))[0].underspend_at_risk is None
    # As at Q3: £60,000.00 spent + £20,000.00 still planned in Q4 = £80,000.00 forecast, of £100,000.00.
    assert service.year_claims(year, today=date(2025, 10, 1))[0].underspend_at_risk == 20_000_00


def test_submitting_freezes_the_schedule_and_a_correction_is_a_new_version(q1, make):
    year, stream, line = q1
    claim = service.prepare(year, stream, 1)
    with pytest.raises(Refused, match="signed the claim off"):
        service.submit(claim, None, date(2025, 7, 14))
    service.update(claim, 245_000_00, "S. Patel, chief finance officer", "")
    first = service.submit(claim, None, date(2025, 7, 14), now=datetime(2025, 7, 14, 9, 30))
    db.session.commit()
    frozen = service.stored_schedule(first)
    # Later spend in Q1 does not change what was submitted.
    make.ledger_line(date(2025, 6, 20), 1_000_00, budget_line=line)
    db.session.commit()
    assert service.stored_schedule(first) == frozen
    from werkzeug.exceptions import Conflict

    with pytest.raises(Conflict):
        service.update(claim, 1, "x", "")
    service.decide(claim, "queried", "Credit note not shown")
    service.update(claim, 246_000_00, claim.signed_off_by, claim.note)
    second = service.submit(claim, None, date(2025, 7, 18), now=datetime(2025, 7, 18, 9, 30))
    db.session.commit()
    assert (first.version, second.version, claim.version) == (1, 2, 2)
    assert service.stored_schedule(second) != frozen
    assert files.exists(first.stored_path)


def test_recording_payment(q1):
    year, stream, _line = q1
    claim = service.prepare(year, stream, 1)
    with pytest.raises(Refused):
        service.record_payment(claim, date(2025, 8, 1), 1, "R1")
    service.update(claim, 245_000_00, "CFO", "")
    service.submit(claim, None, date(2025, 7, 14))
    with pytest.raises(Refused, match="before the claim was submitted"):
        service.record_payment(claim, date(2025, 7, 1), 245_000_00, "RA-1")
    service.decide(claim, "approved")
    service.record_payment(claim, date(2025, 8, 1), 245_000_00, "RA-1")
    db.session.commit()
    cell = _row(year, stream).cells[0]
    assert (cell.status, cell.received, cell.outstanding) == ("paid", 245_000_00, 0)
    assert [e.summary for e in audit.history(claim)][0].endswith("paid: £245,000.00 received")


def test_evaluation_condition_on_the_figures_engine(make):
    """Allocation £1,000,000.00, evaluation at least 10%: budget £80,000, forecast £75,000 is not met, £25,000 short."""
    year = make.year("2025-26")
    stream = make.stream()
    make.allocation(year=year, stream=stream, pence=1_000_000_00)
    evaluation = make.category("Evaluation")
    line = make.budget_line(year=year, stream=stream, category=evaluation, amount_pence=80_000_00,
                            planned_override_pence=75_000_00, planned_override_reason="evaluation partner late")
    make.budget_line(year=year, stream=stream, amount_pence=920_000_00)
    make.condition(year=year, stream=stream, category=evaluation, minimum_basis_points=1000)
    db.session.commit()
    (row,) = service.year_conditions(year)
    assert (row.assessment.on_budget, row.assessment.on_forecast) == (80_000_00, 75_000_00)
    assert row.assessment.status == rules.NOT_MET
    assert row.assessment.shortfall == 25_000_00
    assert "Evaluation: at least 10%" in row.wording
    assert line.id


def test_match_funding_condition_counts_evidenced_money_and_shows_pledged_beside(make):
    year = make.year("2025-26")
    stream = make.stream()
    make.allocation(year=year, stream=stream, pence=1_000_000_00)
    make.condition(year=year, stream=stream, kind="match_share", minimum_basis_points=2000, category=None)
    make.contribution(year=year, stream=stream, partner="County council", pledged_pence=150_000_00,
                      evidenced_pence=120_000_00)
    make.contribution(year=year, stream=stream, partner="NHS trust", kind="in_kind", pledged_pence=60_000_00)
    db.session.commit()
    (row,) = service.year_conditions(year)
    assert row.assessment.status == rules.AT_RISK
    assert row.beside == {"pledged": 210_000_00, "evidenced": 120_000_00, "cash": 150_000_00, "in_kind": 60_000_00}
    assert service.conditions_needing_attention(year) == [row]


def test_evidenced_money_without_a_document_is_refused_and_not_counted(make):
    year = make.year("2025-26")
    stream = make.stream()
    with pytest.raises(Refused, match="choose the document"):
        service.save_contribution(year, None, funding_stream_id=stream.id, partner="X", kind="cash",
                                  pledged_pence=1_00, evidenced_pence=1_00, document_id=None, note="")
    make.allocation(year=year, stream=stream, pence=100_00)
    make.condition(year=year, stream=stream, kind="match_share", minimum_basis_points=1000, category=None)
    make.contribution(year=year, stream=stream, pledged_pence=50_00, evidenced_pence=50_00, document_id=None,
                      document=None)
    db.session.commit()
    (row,) = service.year_conditions(year)
    assert row.beside["evidenced"] == 0


@pytest.fixture
def svd(make):
    year = make.year("2025-26")
    stream = make.stream("Serious Violence Duty", labour_split=True)
    make.allocation(year=year, stream=stream, pence=300_000_00)
    labour = make.budget_line(year=year, stream=stream, labour=True, amount_pence=200_000_00, description="Staff")
    non_labour = make.budget_line(year=year, stream=stream, labour=False, amount_pence=100_000_00,
                                  description="Activities")
    fence = make.condition(year=year, stream=stream, kind="ring_fence", minimum_basis_points=0, category=None,
                           labour_pence=200_000_00)
    db.session.commit()
    return year, stream, labour, non_labour, fence


def test_a_virement_across_the_ring_fence_without_approval_is_refused(svd):
    year, _stream, labour, non_labour, fence = svd
    events = db.session.query(AuditEvent).count()
    with pytest.raises(Refused, match="needs the funder's approval: it moves Serious Violence Duty money from "
                                      "labour to non-labour, across the ring fence"):
        service.make_virement(year, labour, non_labour, 10_000_00, "More activities")
    db.session.rollback()
    assert (labour.amount_pence, non_labour.amount_pence) == (200_000_00, 100_000_00)
    assert db.session.query(AuditEvent).count() == events


def test_an_approved_virement_moves_the_money_the_profile_and_the_ring_fence(svd):
    year, _stream, labour, non_labour, fence = svd
    service.make_virement(year, labour, non_labour, 10_000_00, "More activities", "HO-SVD-2025-014")
    db.session.commit()
    assert (labour.amount_pence, non_labour.amount_pence) == (190_000_00, 110_000_00)
    assert sum(labour.profile) == 190_000_00 and sum(non_labour.profile) == 110_000_00
    assert db.session.get(GrantCondition, fence.id).labour_pence == 190_000_00
    labour, non_labour = service.year_conditions(year)
    assert (labour.side, non_labour.side) == ("labour", "non-labour")
    assert labour.assessment.status == non_labour.assessment.status == rules.MET
    assert (labour.assessment.required, non_labour.assessment.required) == (190_000_00, 110_000_00)


def test_a_virement_within_one_side_needs_no_approval(svd, make):
    year, stream, labour, _non, _fence = svd
    other = make.budget_line(year=year, stream=stream, labour=True, amount_pence=0, description="Analyst")
    service.make_virement(year, labour, other, 5_000_00, "Analyst post")
    assert other.amount_pence == 5_000_00


def test_bridging_shows_spend_at_risk_while_the_allocation_is_a_draft(make):
    year = make.year("2025-26")
    stream = make.stream()
    allocation = make.allocation(year=year, stream=stream, pence=100_000_00, status="draft")
    line = make.budget_line(year=year, stream=stream, amount_pence=100_000_00)
    make.ledger_line(date(2025, 5, 1), 7_000_00, budget_line=line)
    db.session.commit()
    (b,) = service.bridging(year)
    assert b.at_risk == 7_000_00
    allocation.status = "confirmed"
    db.session.commit()
    assert service.bridging(year) == []


def test_deleting_the_evidence_leaves_the_match_money_unevidenced(make):
    from tracker.models import MatchContribution
    from tracker.monitoring.documents import delete_document

    year = make.year("2025-26")
    stream = make.stream()
    contribution = make.contribution(year=year, stream=stream, pledged_pence=10_00, evidenced_pence=10_00)
    db.session.commit()
    delete_document(contribution.document)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(MatchContribution, contribution.id).document_id is None
    assert service.match_totals(year)[stream.id]["evidenced"] == 0
