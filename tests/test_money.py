"""The money module: parsing every form finance uses, exactly, and formatting for screens."""
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.money import MoneyError, format_pence, format_pence_short, parse_pence, percent, to_decimal, to_pence


@pytest.mark.parametrize("text, pence", [
    ("£1,234.50", 123450), ("1,234.50", 123450), ("(1,234.50)", -123450), ("-1234.5", -123450),
    ("1234.5 CR", -123450), ("1234.5 DR", 123450), ("£-12", -1200), ("-£12.00", -1200), ("  7 ", 700),
    ("0.005", 1), ("0.004", 0), ("1234.50-", -123450), ("£ 1,000,000.00", 100000000), ("GBP 5", 500),
    ("(£500.00)", -50000), (".5", 50), ("1\u00a0234".replace("\u00a0", ""), 123400),
])
def test_parses_text_amounts(text, pence):
    assert to_pence(text) == pence


@pytest.mark.parametrize("value, pence", [
    (1234, 123400), (0.1, 10), (1234.5, 123450), (378.0, 37800), (Decimal("10.005"), 1001), (-0.01, -1),
    (4895822.26, 489582226),
])
def test_parses_numbers_without_float_error(value, pence):
    assert to_pence(value) == pence


@pytest.mark.parametrize("text", ["£1,2,3", "abc", "", "  ", "1.2.3", "((5))", "(5", "--5", "- (5)", "5 CR CR", "£", "1e5"])
def test_rejects_what_is_not_an_amount(text):
    with pytest.raises(MoneyError):
        to_pence(text)


@pytest.mark.parametrize("value", [None, True, float("nan"), float("inf"), Decimal("NaN"), [1]])
def test_rejects_non_amount_values(value):
    with pytest.raises(MoneyError):
        to_decimal(value)


def test_blank_is_none_for_optional_amounts():
    assert parse_pence(None) is None
    assert parse_pence("   ") is None
    assert parse_pence("£3") == 300


@pytest.mark.parametrize("pence, text", [
    (123456, "£1,234.56"), (-123456, "-£1,234.56"), (0, "£0.00"), (5, "£0.05"), (-5, "-£0.05"),
    (100000000, "£1,000,000.00"),
])
def test_formats_for_screens(pence, text):
    assert format_pence(pence) == text


def test_formats_whole_pounds_and_blank():
    assert format_pence(None) == ""
    assert format_pence(None, blank="–") == "–"
    assert format_pence_short(123450) == "£1,235"
    assert format_pence_short(-150) == "-£2"
    assert format_pence(123456, symbol=False) == "1,234.56"


def test_percent_rounds_half_up_and_handles_zero():
    assert percent(1, 3) == Decimal("33.3")
    assert percent(2, 3) == Decimal("66.7")
    assert percent(1, 0) is None


@given(st.integers(min_value=-10**13, max_value=10**13))
def test_formatted_amounts_parse_back(pence):
    assert to_pence(format_pence(pence)) == pence


@given(st.text(max_size=40))
def test_any_text_gives_an_amount_or_a_money_error(text):
    try:
        result = to_pence(text)
    except MoneyError:
        return
    assert isinstance(result, int)


@pytest.mark.parametrize("value", ["999999999999999999999999999999", "1000000000000", 10**12, 1e300, Decimal("1e40")])
def test_refuses_absurdly_large_amounts(value):
    with pytest.raises(MoneyError, match="is too large to be an amount"):
        to_pence(value)


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**14, 10**14).map(lambda n: n / 100))
def test_a_readers_float_gives_the_same_pence_as_the_decimal_path(value):
    """to_pence reads a float of at most two decimals without a Decimal (the import's hot path); whatever the
    float, the answer (or the refusal) is the Decimal path's."""
    try:
        expected = int(to_decimal(value) * 100)
    except MoneyError as exc:
        expected = type(exc)
    try:
        got = to_pence(value)
    except MoneyError as exc:
        got = type(exc)
    assert got == expected


@pytest.mark.parametrize("value, pence", [(1.5, 150), (-0.07, -7), (-0.0, 0), (2.675, 268), (1.005, 101),
                                          (999999999999.99, 99999999999999), (1e-5, 0), (-1234.5, -123450)])
def test_reader_floats_to_pence(value, pence):
    assert to_pence(value) == pence


@given(st.integers(-10**14 + 1, 10**14 - 1))
def test_every_amount_of_whole_pence_takes_the_quick_path(pence):
    """float_pence answers (rather than passing to the Decimal path) for every float a two-decimal amount reads as."""
    from tracker.money import float_pence

    assert float_pence(pence / 100) == pence
