"""Property tests: whatever a sheet holds, the header finder either finds a table or says why, never crashes."""
from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.imports.headers import FIELDS, find_table, iter_records, match_headers, normalise_header
from tracker.spreadsheets.reader import SpreadsheetError, open_workbook

SYNONYMS = [s for spec in FIELDS.values() for field in spec for s in field.synonyms][:80]
cell = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(SYNONYMS), st.integers(-10**6, 10**6),
                 st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**6, max_value=10**6))
grid = st.lists(st.lists(cell, max_size=12), max_size=25)


def _csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue().encode("utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid, st.sampled_from([None, "ledger", "commissions", "budget"]))
def test_any_sheet_gives_a_table_or_a_clear_refusal(rows, kind):
    data = _csv(rows)
    try:
        with open_workbook(data, "fuzz.csv") as workbook:
            table = find_table(workbook, kind=kind)
            assert table.kind in FIELDS
            for record in iter_records(table):
                assert record.status in ("data", "blank", "totals")
    except SpreadsheetError as exc:
        assert exc.message and exc.message[0].isupper()


@given(st.lists(st.one_of(st.none(), st.text(max_size=20), st.sampled_from(SYNONYMS)), max_size=30))
def test_matching_any_headers_maps_each_column_at_most_once(headers):
    for kind in FIELDS:
        mapping = match_headers(kind, headers)
        columns = list(mapping.values())
        assert len(columns) == len(set(columns))
        assert all(0 <= c < len(headers) for c in columns)


@given(st.text(max_size=40))
def test_normalising_is_stable(text):
    once = normalise_header(text)
    assert normalise_header(once) == once
