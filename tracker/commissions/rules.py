"""The rules a commission's facts keep, in one place: the add and edit forms and the commissions register import
both call them, so a file can never load what the form would refuse (or the other way round)."""
from __future__ import annotations

from datetime import date

END_NOT_AFTER_START = "The end date must be after the start date"
VALUE_NOT_ABOVE_ZERO = "The value must be more than £0.00"


def end_after_start(start: date | None, end: date | None) -> bool:
    """A contract ends after it starts (the same day is refused); True when either date is missing."""
    return start is None or end is None or end > start


def value_above_zero(value_pence: int | None) -> bool:
    """A commission is worth more than £0.00; True when no value is given (the field's own check says so)."""
    return value_pence is None or value_pence > 0
