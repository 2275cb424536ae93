"""The claim and condition rules, on the hand-worked cases of issue 14."""
from datetime import date

import pytest

from tracker.claims import rules


def test_defrayed_counts_invoices_credits_journals_but_not_accruals_or_their_reversals():
    assert [t for t in ("invoice", "credit", "journal", "accrual") if rules.counts("defrayed", t)] == \
        ["invoice", "credit", "journal"]
    assert all(rules.counts("accrued", t) for t in ("invoice", "credit", "journal", "accrual"))


def test_q1_claim_due_20_days_after_the_quarter_is_sunday_20_july_2025():
    due = rules.due_date("2025-26", "quarterly", 1, "arrears", 20, 45)
    assert due == date(2025, 7, 20)
    from tracker.milestones.service import non_working_day

    assert non_working_day(due) == "Sunday"


def test_final_claim_is_due_final_claim_days_after_31_march():
    assert rules.due_date("2025-26", "quarterly", 4, "arrears", 20, 45) == date(2026, 5, 15)
    assert rules.due_date("2025-26", "monthly", 12, "arrears", 20, 30) == date(2026, 4, 30)


def test_in_advance_a_claim_is_due_after_the_period_starts():
    assert rules.due_date("2025-26", "quarterly", 2, "advance", 10, 45) == date(2025, 7, 11)


@pytest.mark.parametrize("frequency,period,first,last", [
    ("monthly", 1, date(2025, 4, 1), date(2025, 4, 30)),
    ("monthly", 10, date(2026, 1, 1), date(2026, 1, 31)),
    ("monthly", 12, date(2026, 3, 1), date(2026, 3, 31)),
    ("quarterly", 3, date(2025, 10, 1), date(2025, 12, 31)),
    ("half-yearly", 2, date(2025, 10, 1), date(2026, 3, 31)),
    ("annual", 1, date(2025, 4, 1), date(2026, 3, 31)),
])
def test_period_bounds(frequency, period, first, last):
    assert rules.period_bounds("2025-26", frequency, period) == (first, last)


def test_a_period_outside_the_year_is_refused():
    with pytest.raises(ValueError):
        rules.period_bounds("2025-26", "quarterly", 5)


def test_period_names():
    assert rules.period_name("2025-26", "quarterly", 1) == "Q1 (Apr-Jun)"
    assert rules.period_name("2025-26", "monthly", 11) == "February 2026"
    assert rules.period_name("2025-26", "half-yearly", 2) == "H2 (Oct-Mar)"


def test_advance_claimable_splits_a_quarter_by_month_to_the_penny():
    profile = [100_00, 200_00, 0, 1]
    assert [rules.advance_claimable(profile, "monthly", m) for m in (1, 2, 3)] == [33_33, 33_33, 33_34]
    assert rules.advance_claimable(profile, "quarterly", 2) == 200_00
    assert rules.advance_claimable(profile, "annual", 1) == 300_01


def test_over_the_grant_falls_to_the_pcc():
    claim, over = rules.within_the_grant(1_200_000_00, 0, 1_230_000_00)
    assert (claim, over) == (1_200_000_00, 30_000_00)
    # The year's earlier claims take their part first.
    assert rules.within_the_grant(1_200_000_00, 1_000_000_00, 245_000_00) == (200_000_00, 45_000_00)


def test_underspend_lost_after_the_final_claim():
    assert rules.underspend_lost(1_200_000_00, 1_150_000_00) == 50_000_00
    assert rules.underspend_lost(1_200_000_00, 1_200_000_00) == 0


def test_evaluation_condition_not_met_with_a_shortfall_of_25000():
    need = rules.required(1_000_000_00, 1000)
    assert need == 100_000_00
    a = rules.minimum(need, on_budget=80_000_00, on_forecast=75_000_00)
    assert a.status == rules.NOT_MET and a.words == "Not met"
    assert a.shortfall == 25_000_00


def test_met_and_at_risk():
    assert rules.minimum(100_00, 120_00, 100_00).status == rules.MET
    a = rules.minimum(100_00, 120_00, 90_00)
    assert (a.status, a.shortfall) == (rules.AT_RISK, 10_00)


def test_match_funding_pledged_but_not_evidenced_is_at_risk():
    need = rules.required(1_000_000_00, 2000)
    a = rules.minimum(need, on_budget=150_000_00 + 60_000_00, on_forecast=120_000_00)
    assert a.status == rules.AT_RISK
    assert a.shortfall == 80_000_00


def test_ring_fence():
    assert [a.status for a in rules.ring_fence(600_00, 400_00, 600_00, 400_00, 590_00, 400_00)] == [rules.MET] * 2
    labour, at_risk = rules.ring_fence(600_00, 400_00, 600_00, 400_00, 600_00, 450_00)
    assert labour.status == rules.MET and (at_risk.status, at_risk.shortfall) == (rules.AT_RISK, 50_00)
    labour, non_labour = rules.ring_fence(600_00, 400_00, 590_00, 410_00, 590_00, 410_00)
    assert (labour.status, non_labour.status, non_labour.shortfall) == (rules.MET, rules.NOT_MET, 10_00)


def test_required_rounds_half_up_to_the_penny():
    assert rules.required(333, 1000) == 33
    assert rules.required(335, 1000) == 34
    assert rules.percent_words(1000) == "10%" and rules.percent_words(1250) == "12.5%"
