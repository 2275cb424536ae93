"""Financial years (1 April to 31 March, named like ``2025-26``), quarters (Q1 = Apr-Jun) and periods (P1 = April)."""
from __future__ import annotations

import re
from datetime import date

_LABEL = re.compile(r"^(\d{4})-(\d{2})$")


def year_start(d: date) -> int:
    """The calendar year in which the financial year holding ``d`` starts."""
    return d.year if d.month >= 4 else d.year - 1


def label_for(d: date) -> str:
    """The financial-year label of a date: 15 May 2025 -> ``2025-26``; 31 March 2026 -> ``2025-26``."""
    start = year_start(d)
    return f"{start}-{(start + 1) % 100:02d}"


def label_for_start(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def parse_label(label: str) -> int:
    """The start year of a label such as ``2025-26``; ValueError if it is not a valid label."""
    m = _LABEL.match((label or "").strip())
    if not m:
        raise ValueError("must look like 2025-26")
    start = int(m.group(1))
    if (start + 1) % 100 != int(m.group(2)):
        raise ValueError("must be two consecutive years, like 2025-26")
    return start


def year_bounds(label: str) -> tuple[date, date]:
    """First and last day of a financial year."""
    start = parse_label(label)
    return date(start, 4, 1), date(start + 1, 3, 31)


def quarter_of(d: date) -> int:
    """Financial quarter 1-4 of a date."""
    return (period_of(d) - 1) // 3 + 1


def period_of(d: date) -> int:
    """Ledger period 1-12 of a date: April is P1, March is P12."""
    return (d.month - 4) % 12 + 1


def quarter_bounds(label: str, quarter: int) -> tuple[date, date]:
    """First and last day of quarter 1-4 of a financial year."""
    if quarter not in (1, 2, 3, 4):
        raise ValueError("quarter must be 1 to 4")
    start = parse_label(label)
    first_month = 4 + 3 * (quarter - 1)
    y = start if first_month <= 12 else start + 1
    m = (first_month - 1) % 12 + 1
    end_m = m + 2
    last_day = {3: 31, 6: 30, 9: 30, 12: 31}[end_m]
    return date(y, m, 1), date(y, end_m, last_day)


#: Year-end adjustment periods some ledgers use after P12 (P13-P16): they belong to the year's last quarter.
ADJUSTMENT_PERIODS = range(13, 17)


def quarter_of_period(period: int) -> int:
    """Financial quarter 1-4 of a ledger period: P1-P3 is Q1 ... P10-P12 and adjustment periods 13-16 are Q4."""
    if period in ADJUSTMENT_PERIODS:
        return 4
    if not 1 <= period <= 12:
        raise ValueError("a ledger period runs from 1 to 16")
    return (period - 1) // 3 + 1


def quarter_of_ledger_line(period, posting_month) -> int:
    """The quarter a stored ledger line counts in: from its period, or from its posting month when the period is
    not one a ledger uses (a row written before periods were checked must not break a page)."""
    try:
        return quarter_of_period(int(period))
    except (TypeError, ValueError):
        pass
    try:
        month = int(posting_month)
    except (TypeError, ValueError):
        return 4
    if not 1 <= month <= 12:
        return 4
    return ((month - 4) % 12) // 3 + 1


def month_of_ledger_line(period, posting_month) -> int:
    """The financial month (1 = April ... 12 = March) a stored ledger line counts in, by the same rule as
    ``quarter_of_ledger_line``: its period (adjustment periods 13-16 count in March), else its posting month."""
    try:
        p = int(period)
    except (TypeError, ValueError):
        p = None
    if p in ADJUSTMENT_PERIODS:
        return 12
    if p is not None and 1 <= p <= 12:
        return p
    try:
        month = int(posting_month)
    except (TypeError, ValueError):
        return 12
    if not 1 <= month <= 12:
        return 12
    return (month - 4) % 12 + 1


QUARTER_NAMES = {1: "Q1 (Apr-Jun)", 2: "Q2 (Jul-Sep)", 3: "Q3 (Oct-Dec)", 4: "Q4 (Jan-Mar)"}
