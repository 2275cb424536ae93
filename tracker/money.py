"""Money: parsing and formatting amounts of pounds, kept as integer pence.

Every amount in the app is an ``int`` of pence (or a ``Decimal`` of pounds at the edges). Floats never
carry money: a float read from a spreadsheet is turned into a Decimal through its shortest repr at once.
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

PENNY = Decimal("0.01")
# No real amount comes near a trillion pounds; bigger numbers are typing slips (and would overflow a BIGINT of pence).
LIMIT = Decimal(10) ** 12

# "£1,234.50", "1,234.50", "(1,234.50)", "-1234.5", "1234.5 CR", "£-12", "- £5.00", "1234.50-"
_AMOUNT = re.compile(
    r"""^\s*
    (?P<open>\()?\s*
    (?P<sign1>[-+−])?\s*
    (?:£|GBP)?\s*
    (?P<sign2>[-+−])?\s*
    (?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)
    \s*(?P<trail>-)?
    \s*(?P<close>\))?
    \s*(?P<cr>CR|DR)?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)


class MoneyError(ValueError):
    """A value that is not an amount of money; the message says why in the users' words."""


def to_decimal(value) -> Decimal:
    """See ``_to_decimal``; also refuses amounts of a trillion pounds or more."""
    try:
        amount = _to_decimal(value)
    except InvalidOperation as exc:  # a number too long for the decimal context
        raise MoneyError("is too large to be an amount") from exc
    if abs(amount) >= LIMIT:
        raise MoneyError("is too large to be an amount")
    return amount


def _to_decimal(value) -> Decimal:
    """Turn a cell value or text into an exact Decimal of pounds, rounded half-up to the penny.

    Accepts int, Decimal, float (from spreadsheet readers; converted through ``str`` so 0.1 stays 0.1)
    and text in the forms finance exports use. Raises MoneyError otherwise.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError("is not an amount")
    if isinstance(value, int):
        return Decimal(value).quantize(PENNY)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError("is not an amount")
        return value.quantize(PENNY, rounding=ROUND_HALF_UP)
    if isinstance(value, float):  # float ok: only ever converted straight to Decimal here
        if value != value or value in (float("inf"), float("-inf")):  # float ok
            raise MoneyError("is not an amount")
        return Decimal(repr(value)).quantize(PENNY, rounding=ROUND_HALF_UP)
    if not isinstance(value, str):
        raise MoneyError("is not an amount")
    text = value.replace("\u00a0", " ").strip()
    if not text:
        raise MoneyError("is blank")
    m = _AMOUNT.match(text)
    if not m:
        raise MoneyError("is not an amount")
    if bool(m.group("open")) != bool(m.group("close")):
        raise MoneyError("has an unmatched bracket")
    signs = [s for s in (m.group("sign1"), m.group("sign2"), m.group("trail")) if s]
    if len(signs) > 1:
        raise MoneyError("has more than one sign")
    try:
        amount = Decimal(m.group("num").replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guarantees digits
        raise MoneyError("is not an amount") from exc
    negative = bool(m.group("open")) or (signs and signs[0] in "-−") or (m.group("cr") or "").upper() == "CR"
    if m.group("open") and signs:
        raise MoneyError("has both brackets and a sign")
    if negative:
        amount = -amount
    return amount.quantize(PENNY, rounding=ROUND_HALF_UP)


def to_pence(value) -> int:
    """Parse a value (see ``to_decimal``) into integer pence."""
    if value.__class__ is float:  # float ok: a reader's number, read exactly through its shortest repr
        pence = float_pence(value)
        if pence is not None:
            return pence
    return int(to_decimal(value) * 100)


_FLOAT_LIMIT = float(LIMIT)  # float ok: the bound of float_pence, whose exactness holds below it


def float_pence(value: float) -> int | None:  # float ok: see to_pence
    """A spreadsheet number of at most two decimals in pence, exactly as ``to_decimal`` would give it, without
    building a Decimal (a ledger has one or two per row); None for anything else (more decimals, exponents,
    NaN, infinities, too large), which takes the Decimal path.

    Why it is exact: below LIMIT (10**12) a float times 100 is within an eighth of a penny of the true product, so
    ``round`` finds the nearest whole penny p; p / 100 is the float nearest to p pence, so ``p / 100 == value``
    holds exactly when the value is that float, which is when its shortest repr (the text to_decimal reads)
    has at most two decimals. tests/test_money.py checks it against the Decimal path."""
    if not -_FLOAT_LIMIT < value < _FLOAT_LIMIT:  # also false for NaN
        return None
    pence = round(value * 100)
    return pence if pence / 100 == value else None


def parse_pence(value) -> int | None:
    """Like ``to_pence`` but a blank value (None or empty text) is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return to_pence(value)


def pence_to_decimal(pence: int | None) -> Decimal:
    """Integer pence as a Decimal of pounds (0 for None)."""
    return (Decimal(pence or 0) / 100).quantize(PENNY)


def format_pence(pence: int | None, *, symbol: bool = True, blank: str = "") -> str:
    """On-screen money: ``£1,234.56``, negatives ``-£1,234.56``; None gives ``blank``."""
    if pence is None:
        return blank
    sign = "-" if pence < 0 else ""
    pounds, pennies = divmod(abs(int(pence)), 100)
    return f"{sign}{'£' if symbol else ''}{pounds:,}.{pennies:02d}"


def format_pence_short(pence: int | None) -> str:
    """Whole pounds for charts and headline figures: ``£1,235`` (rounded half-up)."""
    if pence is None:
        return ""
    d = pence_to_decimal(pence).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return f"{'-' if d < 0 else ''}£{abs(int(d)):,}"


def percent(part: int, whole: int, places: int = 1) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (None when whole is zero), rounded half-up."""
    if not whole:
        return None
    q = Decimal(1).scaleb(-places)
    return (Decimal(part) * 100 / Decimal(whole)).quantize(q, rounding=ROUND_HALF_UP)
