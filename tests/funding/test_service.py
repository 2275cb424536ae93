"""The funding rules without a request: profile sums, variance and RAG, allocation revisions, roll-over."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import func, select
from werkzeug.exceptions import Conflict

from tracker import settings
from tracker.extensions import db
from tracker.funding import service
from tracker.models import Allocation, AuditEvent, BudgetLine, Commission, FundingYear


# --- Profile sums -------------------------------------------------------------------------------------------

def test_a_profile_that_adds_up_to_the_penny_has_no_problem():
    assert service.profile_problem(100_000_01, [25_000_00, 25_000_00, 25_000_00, 25_000_01]) is None


def test_a_profile_short_by_a_penny_says_so():
    assert service.profile_problem(100_000_00, [25_000_00, 25_000_00, 25_000_00, 24_999_99]) == (
        "The profile adds up to £99,999.99, £0.01 less than the amount (£100,000.00)")


def test_a_profile_over_the_amount_says_by_how_much():
    assert service.profile_problem(100_000_00, [26_000_00, 25_000_00, 25_000_00, 25_000_00]) == (
        "The profile adds up to £101,000.00, £1,000.00 more than the amount (£100,000.00)")


@given(st.lists(st.integers(0, 10**12), min_size=4, max_size=4), st.integers(0, 4 * 10**12))
def test_profile_difference_is_exact(profile, amount):
    diff = service.profile_difference(amount, profile)
    assert diff == sum(profile) - amount
    assert (service.profile_problem(amount, profile) is None) == (diff == 0)


# --- Variance, RAG and the budget page ------------------------------------------------------------------------

def test_budget_page_figures_for_a_line(app, make):
    year = make.year()
    line = make.budget_line(year=year, amount_pence=100_000_00, profile=(25_000_00, 25_000_00, 25_000_00, 25_000_00))
    make.ledger_line(posting_date=date(2025, 5, 1), net_pence=20_000_00, budget_line=line)
    make.ledger_line(posting_date=date(2025, 8, 1), net_pence=29_000_00, budget_line=line)
    make.commission(budget_line=line, value_pence=60_000_00, status="live")
    make.commission(budget_line=line, value_pence=50_000_00, status="pipeline")  # not committed yet
    db.session.commit()
    page = service.budget_page(year, 2)
    (_, f), = page.lines
    assert f.profile_to_date == 50_000_00
    assert f.actual_to_date == 49_000_00
    assert f.committed == 60_000_00 and f.outstanding == 60_000_00  # nothing paid on the contract yet
    assert f.planned == 0  # the £50,000.00 of profile still to come is all contracted
    assert f.forecast == 49_000_00 + 60_000_00
    assert f.variance == 9_000_00
    assert str(f.variance_percent) == "9.0"
    assert f.rag == "R"  # forecast 9% over budget, though spend is only 2% off profile


@pytest.mark.parametrize("actual, expected", [(50_000_00, "G"), (49_100_00, "G"), (49_000_00, "A"), (47_500_00, "A"),
                                              (47_400_00, "R"), (53_000_00, "R")])
def test_rag_thresholds_come_from_settings(app, make, actual, expected):
    year = make.year()
    line = make.budget_line(year=year, amount_pence=100_000_00, profile=(50_000_00, 50_000_00, 0, 0))
    make.ledger_line(posting_date=date(2025, 5, 1), net_pence=actual, budget_line=line)
    db.session.commit()
    (_, f), = service.budget_page(year, 1).lines
    assert f.rag == expected


def test_rag_thresholds_follow_a_changed_setting(app, make):
    year = make.year()
    line = make.budget_line(year=year, amount_pence=100_000_00, profile=(50_000_00, 50_000_00, 0, 0))
    make.ledger_line(posting_date=date(2025, 5, 1), net_pence=47_000_00, budget_line=line)  # 6% under
    settings.put("rag_red_percent", "10")
    db.session.commit()
    (_, f), = service.budget_page(year, 1).lines
    assert f.rag == "A"


def test_roll_ups_by_stream_and_strand(app, make):
    year = make.year()
    core, svd = make.stream("Core"), make.stream("SVD")
    sv, syv = make.strand("Sexual Violence"), make.strand("Serious Youth Violence")
    make.allocation(year=year, stream=core, pence=200_000_00)
    a = make.budget_line(year=year, stream=core, strand=sv, amount_pence=40_000_00)
    b = make.budget_line(year=year, stream=core, strand=syv, amount_pence=60_000_00)
    c = make.budget_line(year=year, stream=svd, strand=sv, amount_pence=10_000_00)
    make.commission(budget_line=c, value_pence=12_000_00)
    db.session.commit()
    page = service.budget_page(year, 4)
    streams = {f.name: f for f in page.streams}
    strands = {f.name: f for f in page.strands}
    assert streams["Core"].budget == 100_000_00 and streams["SVD"].budget == 10_000_00
    assert strands["Sexual Violence"].budget == 50_000_00 and strands["Serious Youth Violence"].budget == 60_000_00
    assert streams["Core"].allocation == 200_000_00 and streams["SVD"].allocation is None
    assert page.total.budget == 110_000_00 and page.total.target == 200_000_00 + 10_000_00
    assert [line.id for line, _ in page.over_committed] == [c.id]
    assert [(line.id, f.committed) for line, f in service.over_committed_lines(year)] == [(c.id, 12_000_00)]
    assert a.id and b.id


# --- Allocations and revisions --------------------------------------------------------------------------------

def test_revising_an_allocation_keeps_the_original_and_the_history(app, make):
    allocation = make.allocation(pence=100_000_00)
    service.revise_allocation(allocation, 110_000_00, "Virement from PCC contribution")
    service.revise_allocation(allocation, 105_000_00, "Home Office clawback")
    db.session.commit()
    db.session.expire_all()
    allocation = db.session.get(Allocation, allocation.id)
    assert allocation.original_pence == 100_000_00 and allocation.revised_pence == 105_000_00
    assert [(r.previous_pence, r.new_pence, r.reason) for r in allocation.revisions] == [
        (100_000_00, 110_000_00, "Virement from PCC contribution"), (110_000_00, 105_000_00, "Home Office clawback")]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Allocation")).all()
    assert len(events) == 2 and events[0].before == {"revised_pence": 100_000_00}


def test_a_closed_year_refuses_changes_in_the_service(app, make):
    year = make.year(status="closed")
    allocation = make.allocation(year=year)
    line = make.budget_line(year=year)
    db.session.commit()
    for change in (lambda: service.revise_allocation(allocation, 1, "x"),
                   lambda: service.update_line(line, amount_pence=1),
                   lambda: service.delete_line(line),
                   lambda: service.create_line(year, funding_stream_id=line.funding_stream_id, category_id=line.category_id,
                                               strand_id=line.strand_id, amount_pence=1),
                   lambda: service.set_year_status(year, "open")):
        with pytest.raises(Conflict):
            change()


def test_a_line_in_use_cannot_be_deleted(app, make):
    line = make.line_of(make.commission())
    db.session.commit()
    with pytest.raises(Conflict):
        service.delete_line(line)


def test_reopening_is_audited(app, make):
    year = make.year(status="closed")
    service.reopen_year(year, "Late credit note from the Trust")
    db.session.commit()
    assert year.status == "open"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "FundingYear")).one()
    assert "reopened" in event.summary and event.after["reason"] == "Late credit note from the Trust"


# --- Roll-over ------------------------------------------------------------------------------------------------

def _source_year(make):
    year = make.year("2025-26")
    stream = make.stream()
    make.allocation(year=year, stream=stream, pence=500_000_00)
    line = make.budget_line(year=year, stream=stream, description="Mentoring", amount_pence=80_000_00)
    make.budget_line(year=year, stream=stream, description="Evaluation", amount_pence=20_000_00)
    # Runs 1 Jan 2026 to 31 Dec 2026: 275 of 365 days after 31 March.
    running = make.commission("VRU-25-002", budget_line=line, value_pence=30_000_00, start_date=date(2026, 1, 1),
                              end_date=date(2026, 12, 31), status="live")
    make.commission("VRU-25-003", budget_line=line, value_pence=9_000_00, end_date=date(2026, 3, 31))  # ends in year
    make.commission("VRU-25-004", budget_line=line, value_pence=9_000_00, end_date=date(2026, 9, 30),
                    status="terminated")
    db.session.commit()
    return year, line, running


def test_rollover_preview_matches_what_is_created(app, make):
    year, line, running = _source_year(make)
    plan = service.rollover_plan(year)
    assert plan.target is None and plan.target_label == "2026-27"
    assert [i.kind for i in plan.to_create] == ["year", "allocation", "line", "line", "share", "share"]
    assert sorted(i.amount_pence for i in plan.of("share")) == [3_005_47, 2_260_274]  # the running and the terminated contract

    target, _ = service.roll_over(year)
    db.session.commit()
    db.session.expire_all()
    assert target.label == "2026-27" and target.status == "draft"
    allocation = db.session.scalars(select(Allocation).where(Allocation.funding_year_id == target.id)).one()
    assert (allocation.status, allocation.original_pence, allocation.revised_pence) == ("draft", 500_000_00, 500_000_00)
    lines = db.session.scalars(select(BudgetLine).where(BudgetLine.funding_year_id == target.id)).all()
    assert sorted(l.description for l in lines) == ["Evaluation", "Mentoring"]
    # No contract is copied: the running one's 2026-27 share attaches to the new year's Mentoring line.
    assert db.session.scalar(select(func.count(Commission.id)).where(Commission.funding_year_id == target.id)) == 0
    share = next(s for s in db.session.get(Commission, running.id).funding_shares if s.year_label == "2026-27")
    assert share.amount_pence == 2_260_274 and share.funding_year_id == target.id
    assert share.budget_line.description == "Mentoring" and share.budget_line.funding_year_id == target.id
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.summary.like("Rolled%"))) == 1


def test_rollover_twice_creates_nothing_twice(app, make):
    year, _, _ = _source_year(make)
    service.roll_over(year)
    db.session.commit()
    counts = [db.session.scalar(select(func.count()).select_from(m)) for m in (FundingYear, Allocation, BudgetLine, Commission)]
    plan = service.rollover_plan(year)
    assert plan.to_create == [] and all(i.exists for i in plan.items)
    service.roll_over(year)
    db.session.commit()
    assert [db.session.scalar(select(func.count()).select_from(m)) for m in (FundingYear, Allocation, BudgetLine, Commission)] == counts


def test_rollover_into_a_closed_year_is_refused(app, make):
    year, _, _ = _source_year(make)
    make.year("2026-27", status="closed")
    db.session.commit()
    with pytest.raises(Conflict):
        service.roll_over(year)


def test_rollover_leaves_the_contract_as_it_is(app, make):
    year, _, running = _source_year(make)
    service.roll_over(year)
    db.session.commit()
    db.session.expire_all()
    source = db.session.get(Commission, running.id)
    assert source.value_pence == 30_000_00 and source.variations == []
    assert sorted(s.amount_pence for s in source.funding_shares) == [739_726, 2_260_274]


def test_rollover_from_a_closed_year_attaches_the_shares_without_touching_the_closed_year(app, make):
    year, line, running = _source_year(make)
    year.status = "closed"
    db.session.commit()
    target, _ = service.roll_over(year)
    db.session.commit()
    db.session.expire_all()
    shares = {s.year_label: s for s in db.session.get(Commission, running.id).funding_shares}
    assert shares["2025-26"].amount_pence == 739_726 and shares["2025-26"].budget_line_id == line.id
    assert shares["2026-27"].funding_year_id == target.id
