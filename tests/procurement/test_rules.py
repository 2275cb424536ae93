"""The Procurement Act rules on their own: thresholds by start date, regimes, and which notices fall due when."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from tracker.procurement.rules import (
    SEEDED_THRESHOLDS, Threshold, change_needs_notice, due_within, notices_for, standing, threshold_on,
)

THRESHOLDS = [Threshold(c, p, d) for c, p, d, _ in SEEDED_THRESHOLDS]
DAYS = {"notice_days_beginning_with": True, "below_threshold_notice_days": 30}


def contract(**fields):
    values = dict(id=1, reference="VRU-1", title="Mentoring", commission_type="contract", light_touch=False,
                  procurement_started_on=None, contract_entered_on=None, value_incl_vat_pence=None,
                  value_pence=300_000_00, start_date=date(2026, 4, 1), end_date=date(2028, 3, 31), status="live",
                  variations=[])
    values.update(fields)
    return SimpleNamespace(**values)


def variation(id, change=0, when=date(2026, 10, 1), previous_end=None, new_end=None):
    return SimpleNamespace(id=id, value_change_pence=change, variation_date=when, previous_end_date=previous_end,
                           new_end_date=new_end)


def kinds(c):
    return [n.kind for n in notices_for(c, THRESHOLDS, DAYS)]


def test_the_threshold_is_the_one_in_force_when_procurement_started():
    assert threshold_on(THRESHOLDS, "services", date(2025, 12, 31)).amount_pence == 214_904_00
    assert threshold_on(THRESHOLDS, "services", date(2026, 1, 1)).amount_pence == 207_720_00
    assert threshold_on(THRESHOLDS, "light-touch", date(2026, 6, 1)).amount_pence == 663_540_00
    assert threshold_on(THRESHOLDS, "services", date(2025, 1, 1)) is None


@pytest.mark.parametrize("started, regime", [(date(2026, 1, 10), "public"), (date(2025, 12, 15), "below threshold")])
def test_services_worth_210000_including_vat_are_public_only_from_2026(started, regime):
    c = contract(value_incl_vat_pence=210_000_00, procurement_started_on=started)
    assert standing(c, THRESHOLDS).regime == regime


def test_the_threshold_itself_is_public_and_a_penny_under_is_not():
    at = contract(value_incl_vat_pence=207_720_00, procurement_started_on=date(2026, 2, 1))
    under = contract(value_incl_vat_pence=207_719_99, procurement_started_on=date(2026, 2, 1))
    assert standing(at, THRESHOLDS).public and not standing(under, THRESHOLDS).public


def test_light_touch_mentoring_worth_216000_is_below_threshold_with_a_details_notice_only():
    c = contract(light_touch=True, value_incl_vat_pence=216_000_00, procurement_started_on=date(2026, 1, 10),
                 contract_entered_on=date(2026, 3, 2), status="ended",
                 variations=[variation(7, change=100_000_00)])
    assert standing(c, THRESHOLDS).regime == "below threshold"
    notices = notices_for(c, THRESHOLDS, DAYS)
    assert [n.kind for n in notices] == ["below-threshold-details"]
    assert notices[0].due_date == date(2026, 3, 31)  # 30 days beginning with 2 March


def test_a_light_touch_public_contract_has_120_days_for_its_details_notice():
    c = contract(light_touch=True, value_incl_vat_pence=700_000_00, procurement_started_on=date(2026, 1, 10),
                 contract_entered_on=date(2026, 3, 2))
    details = notices_for(c, THRESHOLDS, DAYS)[0]
    assert (details.kind, details.due_date) == ("contract-details-light-touch", date(2026, 6, 29))


def test_a_pure_grant_owes_no_notices_whatever_its_value():
    c = contract(commission_type="grant", value_pence=900_000_00)
    assert standing(c, THRESHOLDS).regime == "grant"
    assert kinds(c) == []


def test_under_30000_including_vat_owes_nothing_and_pipeline_contracts_owe_nothing_yet():
    assert kinds(contract(value_pence=29_999_99)) == []
    assert kinds(contract(status="procuring")) == []
    assert "contract-details" in kinds(contract(status="awarded"))


def test_a_procurement_started_before_the_act_owes_nothing_under_it():
    c = contract(procurement_started_on=date(2025, 2, 23))
    assert standing(c, THRESHOLDS).regime == "before the Act" and kinds(c) == []


@pytest.mark.parametrize("change, needed", [(25_000_00, False), (35_000_00, True), (-35_000_00, True), (30_000_00, False)])
def test_change_notice_when_the_value_moves_more_than_10_percent(change, needed):
    # £300,000 over 24 months: +£25,000 is 8.33%, +£35,000 is 11.67%; exactly 10% is not "more than".
    assert change_needs_notice(300_000_00, change, date(2026, 4, 1), None, None) is needed
    c = contract(value_pence=300_000_00 + change, variations=[variation(3, change=change)])
    assert ("contract-change" in kinds(c)) is needed


def test_a_three_month_extension_of_a_24_month_contract_needs_a_change_notice():
    c = contract(end_date=date(2028, 6, 30),
                 variations=[variation(4, when=date(2027, 9, 1), previous_end=date(2028, 3, 31), new_end=date(2028, 6, 30))])
    changes = [n for n in notices_for(c, THRESHOLDS, DAYS) if n.kind == "contract-change"]
    assert [(n.variation_id, n.due_date) for n in changes] == [(4, date(2027, 9, 1))]
    assert not change_needs_notice(300_000_00, 0, date(2026, 4, 1), date(2028, 3, 31), date(2028, 5, 31))  # 2 months


def test_each_variation_is_measured_against_the_value_before_it():
    # £300,000, then +£25,000 (8.33%), then +£30,000 (9.2% of £325,000): neither needs a notice.
    c = contract(value_pence=355_000_00, variations=[variation(1, 25_000_00, date(2026, 6, 1)),
                                                      variation(2, 30_000_00, date(2026, 9, 1))])
    assert "contract-change" not in kinds(c)


def test_a_light_touch_public_contract_owes_no_change_notice():
    c = contract(light_touch=True, value_incl_vat_pence=700_000_00, value_pence=800_000_00,
                 variations=[variation(1, 200_000_00)])
    assert "contract-change" not in kinds(c)


def test_termination_notice_for_a_contract_ending_31_march_2026_is_due_29_april():
    c = contract(start_date=date(2025, 4, 1), end_date=date(2026, 3, 31), procurement_started_on=date(2025, 3, 1))
    termination = [n for n in notices_for(c, THRESHOLDS, DAYS) if n.kind == "contract-termination"]
    assert [n.due_date for n in termination] == [date(2026, 4, 29)]
    after = notices_for(c, THRESHOLDS, {**DAYS, "notice_days_beginning_with": False})
    assert [n.due_date for n in after if n.kind == "contract-termination"] == [date(2026, 4, 30)]


def test_due_within_counts_beginning_with_the_day():
    assert due_within(date(2026, 3, 31), 30) == date(2026, 4, 29)
    assert due_within(date(2026, 3, 31), 30, beginning_with=False) == date(2026, 4, 30)


def test_contracts_over_5m_owe_yearly_kpi_assessments():
    c = contract(value_pence=6_000_000_00, start_date=date(2026, 4, 1), end_date=date(2029, 3, 31))
    kpis = [n.due_date for n in notices_for(c, THRESHOLDS, DAYS) if n.kind == "kpi-assessment"]
    assert kpis == [date(2027, 4, 1), date(2028, 4, 1)]
    assert "kpi-assessment" not in kinds(contract(value_pence=5_000_000_00))


def test_payments_over_30000_only_for_contracts_procured_from_april_2026():
    later = contract(procurement_started_on=date(2026, 4, 1), start_date=date(2026, 5, 1), end_date=date(2026, 12, 31))
    quarters = [(n.period_end, n.due_date) for n in notices_for(later, THRESHOLDS, DAYS) if n.kind == "payments-over-30k"]
    assert quarters == [(date(2026, 6, 30), date(2026, 7, 29)), (date(2026, 9, 30), date(2026, 10, 29)),
                        (date(2026, 12, 31), date(2027, 1, 29))]
    earlier = contract(procurement_started_on=date(2026, 3, 31))
    assert "payments-over-30k" not in kinds(earlier)
