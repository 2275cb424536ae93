"""Rules about funding years that every area obeys."""
from __future__ import annotations

from tracker.errors import abort_with
from tracker.models import FundingYear


def closed_year_message(year: FundingYear) -> str:
    return (f"Funding year {year.label} is closed, so its records cannot be changed. "
            "An administrator can reopen it if a correction is needed.")


def require_open_year(year: FundingYear | None) -> None:
    """Stop a change to anything in a closed funding year with a 409 and a clear message."""
    if year is not None and year.is_closed:
        abort_with(409, closed_year_message(year))
