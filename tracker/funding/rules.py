"""Rules about funding years that every area obeys.

Which year and quarter a page shows: ``year_by_label`` is the one lookup of a year by its name, ``current_year``
the one default, and ``choose_year`` / ``choose_quarter`` the one reading of ``?year=`` and ``?quarter=`` (with
one message each for a bad value). Which quarter counts as "now" is date arithmetic, in ``tracker/periods.py``
(``quarter_in_progress``, ``reporting_quarter``).

A closed year is read-only. ``closed_year_problem`` is the one check: every write path (the forms, the
imports, the matching of ledger lines and the roll-over) passes it the year of the record as it is now *and*
the year the change would give it, so nothing moves into, out of or within a closed year.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select

from tracker.errors import abort_with
from tracker.extensions import db
from tracker.models import FundingYear
from tracker.periods import parse_label


def closed_year_message(year: FundingYear) -> str:
    return (f"Funding year {year.label} is closed, so its records cannot be changed. "
            "An administrator can reopen it if a correction is needed.")


def closed_year_problem(*years: FundingYear | None) -> str | None:
    """Why a change touching these years is refused (the first closed one), or None when all are open."""
    for year in years:
        if year is not None and year.is_closed:
            return closed_year_message(year)
    return None


def require_open_year(*years: FundingYear | None) -> None:
    """Stop a change to anything in a closed funding year with a 409 and a clear message."""
    problem = closed_year_problem(*years)
    if problem:
        abort_with(409, problem)


# --- Which year and which quarter ---------------------------------------------------------------------------------

def year_by_label(label: str | None) -> FundingYear | None:
    """The funding year named ``label`` (``2025-26``, surrounding spaces ignored), or None (one query)."""
    label = (label or "").strip()
    if not label:
        return None
    return db.session.scalar(select(FundingYear).where(FundingYear.label == label))


def current_year(today: date | None = None, years: list[FundingYear] | None = None) -> FundingYear | None:
    """The year a page shows when none is chosen: the open year containing today, else the latest open year,
    else the latest year; None before any year is set up. ``years``: every year, newest first, when the caller
    has them already (no query then)."""
    today = today or date.today()
    if years is None:
        years = db.session.scalars(select(FundingYear).order_by(FundingYear.start_date.desc())).all()
    for y in years:
        if y.status == "open" and y.start_date <= today <= y.end_date:
            return y
    for y in years:
        if y.status == "open":
            return y
    return years[0] if years else None


def no_such_year_message(label: str) -> str:
    """The one message for a year that cannot be found, whatever the page, download or command."""
    return (f"There is no funding year {(label or '').strip()[:20]}. Choose a year that has been set up; "
            "years are named like 2025-26.")


def year_named(label: str) -> FundingYear:
    """The funding year ``label`` names (from a query string or an address), or stop with
    ``no_such_year_message``: 400 when it cannot be a year's name at all, 404 for a well-formed year that is not
    set up."""
    try:
        parse_label(label)
    except ValueError:
        abort_with(400, no_such_year_message(label))
    year = year_by_label(label)
    if year is None:
        abort_with(404, no_such_year_message(label))
    return year


def choose_year(args, default: Callable[[], FundingYear | None] = current_year,
                years: list[FundingYear] | None = None) -> FundingYear | None:
    """The year ``?year=2025-26`` names (``year_named``: a bad one stops the request); a missing or empty one
    gives ``default()``: the current year, or pass ``lambda: None`` where no year means every year. A page that
    lists every year already passes them as ``years`` (newest first) and the choice costs no query.

    A bad label never falls back to another year, so a page never shows a year other than the one its address
    names."""
    label = (args.get("year") or "").strip()
    if years is not None:
        found = next((y for y in years if y.label == label), None) if label else None
        if found is not None:
            return found
        if not label:
            return current_year(years=years) if default is current_year else default()
    return year_named(label) if label else default()


def parse_quarter(raw) -> int:
    """A quarter as typed or sent (``2``, ``Q2``, ``q2``): 1 to 4, or a 400 with the one message."""
    text = str(raw if raw is not None else "").strip()
    number = text[1:] if text[:1] in ("q", "Q") else text
    if number not in ("1", "2", "3", "4"):
        abort_with(400, f"“{text[:20]}” is not a quarter: choose 1, 2, 3 or 4.")
    return int(number)


def choose_quarter(args, default: int | None) -> int | None:
    """The quarter ``?quarter=`` names (1-4, or Q1-Q4); a missing or empty one gives ``default``. Anything
    else stops the request with a 400 (``parse_quarter``). The default is the caller's: the quarter in
    progress for figures, the reporting quarter for returns and "off track" (``tracker/periods.py``)."""
    raw = (args.get("quarter") or "").strip()
    return parse_quarter(raw) if raw else default
