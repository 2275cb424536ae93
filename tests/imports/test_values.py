"""Cell parsers: amounts, UK dates, text, whole numbers and yes/no, table-driven plus property tests."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from tracker.spreadsheets.values import (
    CellError,
    ValueProblem,
    is_blank,
    parse_amount,
    parse_bool,
    parse_date,
    parse_int,
    parse_text,
)
from tracker.money import format_pence

NO_VALUE = CellError(CellError.NO_CACHED_VALUE)


@pytest.mark.parametrize("raw, pence", [
    (1234.5, 123450),
    (5264.12, 526412),
    (0.1, 10),
    (-1234.5, -123450),
    (378, 37800),
    (Decimal("12.345"), 1235),
    ("£1,234.50", 123450),
    ("1,234.50", 123450),
    ("(1,234.50)", -123450),
    ("-1234.5", -123450),
    ("1234.5 CR", -123450),
    ("£-12", -1200),
    ("  7128.57 ", 712857),
])
def test_parse_amount_accepts(raw, pence):
    assert parse_amount(raw) == pence


@pytest.mark.parametrize("raw, message", [
    ("abc", "is not an amount"),
    ("12,34", "is not an amount"),
    ("(12", "has an unmatched bracket"),
    (None, "is blank"),
    ("", "is blank"),
    (True, "is not an amount"),
    (date(2025, 1, 1), "is not an amount"),
    (float("nan"), "is not an amount"),
    ("1" * 40, "is too large to be an amount"),
    (1e300, "is too large to be an amount"),
    (NO_VALUE, "is a formula with no saved result"),
    (CellError("#DIV/0!"), "holds the spreadsheet error #DIV/0!"),
])
def test_parse_amount_refuses(raw, message):
    with pytest.raises(ValueProblem) as exc:
        parse_amount(raw)
    assert str(exc.value).startswith(message)


@pytest.mark.parametrize("raw, expected", [
    (date(2026, 3, 31), date(2026, 3, 31)),
    (datetime(2026, 3, 31, 0, 0), date(2026, 3, 31)),
    (45813, date(2025, 6, 5)),
    (45813.0, date(2025, 6, 5)),
    (45813.75, date(2025, 6, 5)),
    ("31/03/2026", date(2026, 3, 31)),
    ("31/3/26", date(2026, 3, 31)),
    ("31-Mar-2026", date(2026, 3, 31)),
    ("31 Mar 2026", date(2026, 3, 31)),
    ("31 March 2026", date(2026, 3, 31)),
    ("31 Sept 2025", None),  # 31 September does not exist
    ("30 Sept 2025", date(2025, 9, 30)),
    ("2026-03-31", date(2026, 3, 31)),
    ("2026-03-31 00:00:00", date(2026, 3, 31)),
    ("31/03/2026 00:00", date(2026, 3, 31)),
    ("13/01/2026", date(2026, 1, 13)),
    ("03/04/2026", date(2026, 4, 3)),  # ambiguous: always day first
    ("1.4.2025", date(2025, 4, 1)),
])
def test_parse_date(raw, expected):
    if expected is None:
        with pytest.raises(ValueProblem):
            parse_date(raw)
    else:
        assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["01/13/2026", "12/31/2025", "31/02/2026", "tomorrow", "2026", "45813",
                                 "31 Foo 2026", True, 1, 99999999, -5, float("inf"), float("nan"),
                                 "31/03/1899", NO_VALUE, None, ""])
def test_parse_date_refuses(raw):
    with pytest.raises(ValueProblem) as exc:
        parse_date(raw)
    assert str(exc.value)


def test_parse_date_message_names_the_format():
    with pytest.raises(ValueProblem, match=r"is not a date \(use dd/mm/yyyy\)"):
        parse_date("01/13/2026")


@pytest.mark.parametrize("raw, expected", [
    ("  Supplier  ", "Supplier"),
    (4500100, "4500100"),
    (378.0, "378"),
    (1.5, "1.5"),
    (Decimal("12.00"), "12"),
    (None, ""),
    ("=HYPERLINK(\"x\")", "=HYPERLINK(\"x\")"),  # kept as text; the export layer keeps it inert
    (date(2026, 3, 31), "31/03/2026"),
    (True, "Yes"),
])
def test_parse_text(raw, expected):
    assert parse_text(raw) == expected


def test_parse_text_reports_error_cells():
    with pytest.raises(ValueProblem):
        parse_text(NO_VALUE)


@pytest.mark.parametrize("raw, expected", [(3, 3), (3.0, 3), ("12", 12), ("1,200", 1200), ("7.0", 7),
                                           (Decimal("4"), 4)])
def test_parse_int(raw, expected):
    assert parse_int(raw) == expected


@pytest.mark.parametrize("raw", [3.5, "3.5", "x", True, None, float("nan"), float("inf")])
def test_parse_int_refuses(raw):
    with pytest.raises(ValueProblem):
        parse_int(raw)


@pytest.mark.parametrize("raw, expected", [("Y", True), ("n", False), ("Yes", True), ("NO", False),
                                           ("True", True), ("false", False), (1, True), (0, False),
                                           ("1", True), ("0", False), (True, True), (1.0, True)])
def test_parse_bool(raw, expected):
    assert parse_bool(raw) is expected


@pytest.mark.parametrize("raw", ["maybe", 2, None, ""])
def test_parse_bool_refuses(raw):
    with pytest.raises(ValueProblem, match="is not yes or no|is blank"):
        parse_bool(raw)


def test_is_blank():
    assert is_blank(None) and is_blank("  ") and not is_blank(0) and not is_blank("x")


# --- properties ------------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_amount_only_raises_value_problem(text):
    try:
        result = parse_amount(text)
    except ValueProblem:
        return
    assert isinstance(result, int)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.floats(), st.integers(), st.decimals(), st.booleans(), st.none(), st.dates(),
                 st.text(alphabet="0123456789,.()£-+ CRDR", max_size=20)))
def test_parse_amount_only_raises_value_problem_on_any_cell(value):
    try:
        parse_amount(value)
    except ValueProblem:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-99_999_999_999, max_value=99_999_999_999))
def test_formatted_amounts_round_trip(pence):
    pounds = format_pence(abs(pence), symbol=False)
    for text in (format_pence(pence), format_pence(pence, symbol=False)):
        assert parse_amount(text) == pence
    assert parse_amount(pounds.replace(",", "")) == abs(pence)
    if pence:
        assert parse_amount(f"({pounds})") == -abs(pence)
        assert parse_amount(f"£{pounds} CR") == -abs(pence)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_date_only_raises_value_problem(text):
    try:
        result = parse_date(text)
    except ValueProblem:
        return
    assert isinstance(result, date)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.floats(), st.integers(), st.decimals(), st.booleans(), st.none(),
                 st.datetimes(), st.text(alphabet="0123456789/-. :TJanMrch", max_size=25)))
def test_parse_date_only_raises_value_problem_on_any_cell(value):
    try:
        parse_date(value)
    except ValueProblem:
        pass


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_uk_dates_round_trip(d):
    for fmt in ("%d/%m/%Y", "%d/%m/%y", "%d-%b-%Y", "%d %b %Y", "%d %B %Y", "%Y-%m-%d"):
        assert parse_date(d.strftime(fmt)) == d


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.floats(), st.integers(), st.decimals(), st.booleans(), st.none(), st.text(max_size=12)))
def test_other_parsers_only_raise_value_problem(value):
    for parser in (parse_int, parse_bool, parse_text):
        try:
            parser(value)
        except ValueProblem:
            pass


def test_parsing_by_column_remembers_answers_without_mixing_types():
    from tracker.imports.analysis import _Column as _by_column
    from tracker.spreadsheets.values import ValueProblem, parse_int

    calls = []

    def counting(value):
        calls.append(value)
        return parse_int(value)

    parse = _by_column(counting)
    assert [parse(v) for v in (3, 3, "3", 3.0)] == [3, 3, 3, 3]
    assert calls == [3, "3", 3.0]  # each distinct (type, value) parsed once
    for _ in range(2):
        with pytest.raises(ValueProblem, match="is not a whole number"):
            parse(True)  # equal to 1 in Python, but a yes/no cell is not a number
    assert parse(1) == 1
