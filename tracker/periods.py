"""Financial years (1 April to 31 March, named like ``2025-26``), quarters (Q1 = Apr-Jun) and periods (P1 = April)."""
from __future__ import annotations

import re
from functools import lru_cache
from datetime import date

_LABEL = re.compile(r"^(\d{4})-(\d{2})$")
_MONTHS = {name: n for n, names in enumerate(
    (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")), start=1) for name in names}
_UK_NUMERIC = re.compile(r"^(\d{1,2})\s*[/.\- ]\s*(\d{1,2})\s*[/.\- ]\s*(\d{4})$")
_UK_WORDS = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_uk_date(text: str) -> date:
    """A date typed the UK way, day first: 31/07/2025, 31/7/2025, 31-07-2025, 31.07.2025, 31 07 2025,
    31 July 2025 or 31 Jul 2025; also 2025-07-31 (what a browser's date picker sends). The year must have four
    digits. ValueError for anything else, including dates that do not exist (31/02/2025). The one place every
    form and inline edit reads a typed date."""
    t = " ".join((text or "").strip().lower().split())
    if m := _ISO.match(t):
        y, mo, d = (int(g) for g in m.groups())
    elif m := _UK_NUMERIC.match(t):
        d, mo, y = (int(g) for g in m.groups())
    elif (m := _UK_WORDS.match(t)) and m.group(2) in _MONTHS:
        d, mo, y = int(m.group(1)), _MONTHS[m.group(2)], int(m.group(3))
    else:
        raise ValueError("not a date")
    if y < 1900:
        raise ValueError("year out of range")
    return date(y, mo, d)  # ValueError for 31/02 or month 13


def year_start(d: date) -> int:
    """The calendar year in which the financial year holding ``d`` starts."""
    return d.year if d.month >= 4 else d.year - 1


@lru_cache(maxsize=4096)  # an import asks for every ledger line's date, and a year has 366 of them
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


def quarter_in_progress(label: str, today: date) -> int:
    """The quarter of year ``label`` that ``today`` falls in; Q4 once the year is over, Q1 before it starts.

    What the figures pages (home, budget, claims) show by default: spend and commitments as they stand now."""
    start, end = year_bounds(label)
    if today < start:
        return 1
    if today > end:
        return 4
    return quarter_of(today)


def reporting_quarter(label: str, today: date) -> int:
    """The last quarter of year ``label`` that has ended by ``today``: the one a return reports on and the one
    "off track" looks at, since a quarter's actuals arrive after it closes. Q1 while Q1 is still running (there
    is nothing earlier in the year to report on) and before the year starts; Q4 once the year is over.

    1 April to 30 June -> Q1 (Q1 in progress); 1 July -> Q1 (ended on 30 June); 31 March -> Q3."""
    start, end = year_bounds(label)
    if today > end:
        return 4
    if today < start:
        return 1
    return max(1, quarter_of(today) - 1)


ADJUSTMENT_PERIODS = range(13, 17)
"""Year-end adjustment periods (P13-P16) that council and police ledgers use after P12; they count in the period
set by the ``adjustment_period`` setting (P12, March, by default)."""


def quarter_of_period(period: int, adjustment_period: int = 12) -> int:
    """Quarter 1-4 of ledger period 1-12, or of an adjustment period 13-16 (counted in ``adjustment_period``)."""
    return (ledger_period(period, adjustment_period) - 1) // 3 + 1


def ledger_period(period: int, adjustment_period: int = 12) -> int:
    """The period 1-12 a ledger's period column counts in: itself, or ``adjustment_period`` for P13-P16.

    ValueError for anything else (P0, P17, negatives): no such period exists in a financial year.
    """
    if 1 <= period <= 12:
        return period
    if period in ADJUSTMENT_PERIODS:
        return adjustment_period if 1 <= adjustment_period <= 12 else 12
    raise ValueError("is not a ledger period (P1 to P12, or P13 to P16 for year-end adjustments)")


def period_problem(period: int, posting: date, adjustment_period: int = 12) -> str | None:
    """Why a ledger line's period column cannot stand beside its posting date, or None when it agrees.

    The posting date decides the period and quarter; the column is only checked against it. An adjustment
    period (P13-P16) agrees with a date in the period it counts in (``adjustment_period``, March by default).
    """
    try:
        counts_in = ledger_period(period, adjustment_period)
    except ValueError as exc:
        return str(exc)
    from_date = period_of(posting)
    if counts_in == from_date:
        return None
    shown = f"P{period}" if period <= 12 else f"P{period} (a year-end adjustment, counted in P{counts_in})"
    return (f"says {shown}, but the posting date {posting.strftime('%d/%m/%Y')} is in P{from_date} "
            f"({posting.strftime('%B')}); correct the period or the date")


def quarter_of_ledger_line(period, posting_month) -> int:
    """The quarter a stored ledger line counts in: from its period when that is P1-P12; a year-end adjustment
    period (P13-P16, stored as the ledger gives it) counts in its posting month, which the import checked is the
    period adjustments count in (the ``adjustment_period`` setting, P12 by default), and in Q4 when the month is
    not known. A period no ledger uses falls back to the posting month too (a row written before periods were
    checked must not break a page). ``LedgerTransaction.counts_in_quarter`` is the same rule in SQL."""
    return (month_of_ledger_line(period, posting_month) - 1) // 3 + 1


def month_of_ledger_line(period, posting_month) -> int:
    """The financial month (1 = April ... 12 = March) a stored ledger line counts in, by the same rule as
    ``quarter_of_ledger_line``: its period when that is P1-P12, else its posting month (P12 when not known)."""
    try:
        p = int(period)
    except (TypeError, ValueError):
        p = None
    if p is not None and 1 <= p <= 12:
        return p
    try:
        month = int(posting_month)
    except (TypeError, ValueError):
        return 12
    if not 1 <= month <= 12:
        return 12
    return (month - 4) % 12 + 1


def calendar_months_of_quarter(quarter: int) -> tuple[int, int, int]:
    """The calendar months (1 = January) of financial quarter 1-4: Q1 is (4, 5, 6), Q4 is (1, 2, 3)."""
    return tuple((3 * (quarter - 1) + i + 3) % 12 + 1 for i in range(3))


QUARTER_NAMES = {1: "Q1 (Apr-Jun)", 2: "Q2 (Jul-Sep)", 3: "Q3 (Oct-Dec)", 4: "Q4 (Jan-Mar)"}
