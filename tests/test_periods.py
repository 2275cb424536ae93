"""Financial years, quarters and periods."""
from datetime import date

import pytest

from tracker.periods import (
    label_for, parse_label, period_of, quarter_bounds, quarter_in_progress, quarter_of, reporting_quarter, year_bounds,
)


@pytest.mark.parametrize("d, label", [
    (date(2025, 4, 1), "2025-26"), (date(2026, 3, 31), "2025-26"), (date(2026, 4, 1), "2026-27"),
    (date(2000, 1, 1), "1999-00"), (date(1999, 5, 1), "1999-00"),
])
def test_label_for(d, label):
    assert label_for(d) == label


def test_bounds_and_quarters():
    assert year_bounds("2025-26") == (date(2025, 4, 1), date(2026, 3, 31))
    assert quarter_bounds("2025-26", 1) == (date(2025, 4, 1), date(2025, 6, 30))
    assert quarter_bounds("2025-26", 3) == (date(2025, 10, 1), date(2025, 12, 31))
    assert quarter_bounds("2025-26", 4) == (date(2026, 1, 1), date(2026, 3, 31))
    assert quarter_of(date(2025, 6, 30)) == 1 and quarter_of(date(2025, 7, 1)) == 2 and quarter_of(date(2026, 2, 1)) == 4
    assert period_of(date(2025, 4, 30)) == 1 and period_of(date(2026, 3, 1)) == 12


@pytest.mark.parametrize("bad", ["2025-27", "2025", "25-26", "", "2025/26", "abcd-ef"])
def test_bad_labels(bad):
    with pytest.raises(ValueError):
        parse_label(bad)


def test_bad_quarter():
    with pytest.raises(ValueError):
        quarter_bounds("2025-26", 5)


@pytest.mark.parametrize("period, counts_in", [(1, 1), (12, 12), (13, 12), (16, 12)])
def test_ledger_periods_and_adjustment_periods(period, counts_in):
    from tracker.periods import ledger_period, quarter_of_period

    assert ledger_period(period) == counts_in
    assert quarter_of_period(period) == (counts_in - 1) // 3 + 1
    assert ledger_period(14, adjustment_period=11) == 11 and quarter_of_period(14, 3) == 1


@pytest.mark.parametrize("bad", [0, -1, 17, 99])
def test_periods_that_do_not_exist(bad):
    from tracker.periods import ledger_period, period_problem

    with pytest.raises(ValueError):
        ledger_period(bad)
    assert period_problem(bad, date(2026, 3, 31)) == (
        "is not a ledger period (P1 to P12, or P13 to P16 for year-end adjustments)")


def test_period_problem_checks_the_column_against_the_date():
    from tracker.periods import period_problem

    assert period_problem(12, date(2026, 3, 31)) is None
    assert period_problem(13, date(2026, 3, 31)) is None
    assert period_problem(13, date(2026, 2, 28)) is not None
    assert period_problem(13, date(2026, 2, 28), adjustment_period=11) is None
    assert "is in P1 (April)" in period_problem(12, date(2026, 4, 1))


@pytest.mark.parametrize("text", ["31/07/2025", "31/7/2025", " 31-07-2025 ", "31.07.2025", "31 07 2025",
                                  "31 July 2025", "31 jul 2025", "31st July 2025", "2025-07-31"])
def test_uk_dates_are_read_day_first_in_every_usual_form(text):
    from tracker.periods import parse_uk_date

    assert parse_uk_date(text) == date(2025, 7, 31)


@pytest.mark.parametrize("text", ["07/31/2025", "31/02/2025", "31/07/25", "twelve", "", "31 Julember 2025",
                                  "2025-7-31", "1/1/0001", "31/07/2025 12:00"])
def test_what_is_not_a_uk_date_is_refused(text):
    from tracker.periods import parse_uk_date

    with pytest.raises(ValueError):
        parse_uk_date(text)


# "Now" for a year, two ways (tracker/periods.py): the quarter in progress (figures as they stand today) and the
# reporting quarter (the last that has ended: what a return reports on and what "off track" looks at).
@pytest.mark.parametrize("today, in_progress, reporting", [
    (date(2025, 3, 31), 1, 1),   # the day before the year starts
    (date(2025, 4, 1), 1, 1),    # first day: Q1 running and nothing has ended yet, so Q1 for both
    (date(2025, 6, 30), 1, 1),   # last day of Q1: Q1 has not ended yet
    (date(2025, 7, 1), 2, 1),    # Q1 has just ended
    (date(2025, 12, 31), 3, 2),
    (date(2026, 1, 1), 4, 3),
    (date(2026, 3, 31), 4, 3),   # last day of the year: Q4 still running
    (date(2026, 4, 1), 4, 4),    # the year is over
    (date(2030, 1, 1), 4, 4),
])
def test_quarter_in_progress_and_reporting_quarter(today, in_progress, reporting):
    assert quarter_in_progress("2025-26", today) == in_progress
    assert reporting_quarter("2025-26", today) == reporting
