"""Cell parsers for imports: turn one raw spreadsheet value into an amount, date, text, number or yes/no.

Every parser takes a value as the reader gives it (``str`` already trimmed, ``int``/``float``/``Decimal``,
``date``/``datetime``, ``bool``, ``None`` or a ``CellError``) and either returns the parsed value or raises
``ValueProblem`` whose message completes the sentence "Row 12, column Net ...", e.g. "is not an amount".
Nothing else is ever raised, so an import can collect every problem in a file instead of stopping at the first.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from openpyxl.utils.datetime import from_excel

from tracker.money import MoneyError, float_pence, to_pence

# Dates outside these years are far more likely to be a typo or a wrong column than a real transaction.
MIN_YEAR = 1950
MAX_YEAR = 2099
# Excel serial numbers (1900 date system) for 1 Jan MIN_YEAR and 31 Dec MAX_YEAR.
_MIN_SERIAL = 18264
_MAX_SERIAL = 73050

DATE_HINT = "is not a date (use dd/mm/yyyy)"


class ValueProblem(ValueError):
    """A cell value that cannot be used; the message is a phrase such as "is not an amount"."""


class CellError:
    """A cell that holds an error rather than a value.

    Either an Excel error result (``#DIV/0!``, ``#N/A``...) or a formula whose result was never saved in the
    file (written by a program that does not calculate, such as openpyxl); both must be reported, never read
    as blank or zero.
    """

    __slots__ = ("code",)

    NO_CACHED_VALUE = "formula without a saved result"

    def __init__(self, code: str) -> None:
        self.code = code

    @property
    def message(self) -> str:
        if self.code == self.NO_CACHED_VALUE:
            return ("is a formula with no saved result (open the file in Excel or LibreOffice, "
                    "let it calculate and save it again)")
        return f"holds the spreadsheet error {self.code}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CellError) and other.code == self.code

    def __hash__(self) -> int:
        return hash(("CellError", self.code))

    def __repr__(self) -> str:
        return f"CellError({self.code!r})"


def is_blank(value: object) -> bool:
    """True for an empty cell (None or text that is only spaces)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _check(value: object, blank_message: str = "is blank") -> None:
    if isinstance(value, CellError):
        raise ValueProblem(value.message)
    if is_blank(value):
        raise ValueProblem(blank_message)


# --- amounts ---------------------------------------------------------------------------------------------

def parse_amount(value: object) -> int:
    """An amount in integer pence: numbers, "£1,234.50", "(1,234.50)", "-1234.5", "1234.5 CR"."""
    if value.__class__ is float:  # float ok: most amounts are a reader's number of pounds and pence
        pence = float_pence(value)
        if pence is not None:
            return pence
    _check(value)
    if isinstance(value, (bool, date, datetime, time, timedelta)):
        raise ValueProblem("is not an amount")
    try:
        pence = to_pence(value)
    except MoneyError as exc:  # tracker.money also refuses absurdly large amounts
        raise ValueProblem(str(exc) or "is not an amount") from None
    return pence


# --- dates -----------------------------------------------------------------------------------------------

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}
# Optional time after a date, as database exports add ("31/03/2026 00:00", "2026-03-31T00:00:00").
_TIME = r"(?:[T ]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
# Day first, always: UK users never write month-first, so 01/13/2026 is an error, not 13 January.
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})" + _TIME + r"$")
_D_MON_Y = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?[\s/.-]*([A-Za-z]+)\.?[\s/.,-]*(\d{4}|\d{2})" + _TIME + r"$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME + r"$")


def _in_range(d: date) -> date:
    if not MIN_YEAR <= d.year <= MAX_YEAR:
        raise ValueProblem(f"is a date outside the years {MIN_YEAR} to {MAX_YEAR}")
    return d


def _make(year: int, month: int, day: int) -> date:
    if year < 100:
        year += 2000  # two-digit years are this century in finance exports
    try:
        d = date(year, month, day)
    except ValueError:
        raise ValueProblem(DATE_HINT) from None
    return _in_range(d)


def parse_date(value: object) -> date:
    """A date from a date cell, an Excel serial number or UK text (31/03/2026, 31-Mar-2026, 2026-03-31)."""
    _check(value)
    if isinstance(value, datetime):
        return _in_range(value.date())
    if isinstance(value, date):
        return _in_range(value)
    if isinstance(value, bool):
        raise ValueProblem(DATE_HINT)
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueProblem(DATE_HINT)
    if isinstance(value, (int, float, Decimal)):
        serial = float(value)  # float ok: an Excel date serial number, not money
        if not _MIN_SERIAL <= serial <= _MAX_SERIAL + 1:  # NaN fails this too
            raise ValueProblem(DATE_HINT)
        # from_excel handles Excel's fictitious 29 Feb 1900 the same way openpyxl does everywhere else.
        result = from_excel(serial)
        return _in_range(result.date() if isinstance(result, datetime) else result)
    if not isinstance(value, str):
        raise ValueProblem(DATE_HINT)
    text = value.strip()
    m = _DMY.match(text)
    if m:
        return _make(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    m = _ISO.match(text)
    if m:
        return _make(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _D_MON_Y.match(text)
    if m:
        month = _MONTHS.get(m.group(2).lower())
        if month is None:
            raise ValueProblem(DATE_HINT)
        return _make(int(m.group(3)), month, int(m.group(1)))
    raise ValueProblem(DATE_HINT)


# --- text, whole numbers, yes/no -------------------------------------------------------------------------

def parse_text(value: object) -> str:
    """Text, trimmed; "" for a blank cell. Numbers become their digits (PO 4500100, not 4500100.0).

    Nothing is escaped here: text is stored as the user wrote it and the export layer keeps it inert.
    """
    if isinstance(value, CellError):
        raise ValueProblem(value.message)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Readers such as calamine give every number as float; a reference like 378 must not become "378.0".
        if value.is_integer():  # float ok: not money, a code or reference
            return str(int(value))
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        if value == value.to_integral_value():
            return format(value.to_integral_value(), "f")  # quantize fails past 28 digits
        return str(value.normalize())
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.strftime("%d/%m/%Y")
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value).strip()


def parse_field_text(value: object) -> str:
    """A text field of a row: ``parse_text``, refusing control characters other than tab and new line (a
    vertical tab pasted from Word would break the workbooks made from it, and PostgreSQL refuses NUL)."""
    if value.__class__ is str:
        text = value.strip()
        if text.isprintable():  # no control character, no line break: most cells, decided in C
            return text
    from tracker.text import control_problem

    text = parse_text(value).replace("\r\n", "\n").replace("\r", "\n")
    problem = control_problem(text)
    if problem:
        raise ValueProblem(problem)
    return text


_INT_TEXT = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?$")


def parse_int(value: object) -> int:
    """A whole number: 12, 12.0, "12", "1,200"."""
    _check(value)
    if isinstance(value, bool):
        raise ValueProblem("is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        try:
            if value == int(value):
                return int(value)
        except (ValueError, OverflowError, ArithmeticError):
            pass
        raise ValueProblem("is not a whole number")
    if isinstance(value, str):
        text = value.strip()
        if _INT_TEXT.match(text):
            return int(text.split(".")[0].replace(",", ""))
    raise ValueProblem("is not a whole number")


_TRUE = {"y", "yes", "true", "1", "t"}
_FALSE = {"n", "no", "false", "0", "f"}


def parse_bool(value: object) -> bool:
    """Yes or no: Y/N, Yes/No, True/False, 1/0 (text, numbers or Excel TRUE/FALSE cells)."""
    _check(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueProblem("is not yes or no (use Y or N)")
    if isinstance(value, (int, float, Decimal)):
        if value == 1:
            return True
        if value == 0:
            return False
        raise ValueProblem("is not yes or no (use Y or N)")
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    raise ValueProblem("is not yes or no (use Y or N)")
