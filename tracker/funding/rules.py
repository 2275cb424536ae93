"""Rules about funding years that every area obeys.

A closed year is read-only. ``closed_year_problem`` is the one check: every write path (the forms, the
imports, the matching of ledger lines and the roll-over) passes it the year of the record as it is now *and*
the year the change would give it, so nothing moves into, out of or within a closed year.
"""
from __future__ import annotations

from tracker.errors import abort_with
from tracker.models import FundingYear


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
