"""The workbook a finance officer opens: formats, frozen headers, filters, totals formulas with right cached
values, print set-up, properties, deterministic bytes, and user text that never becomes a formula."""
from __future__ import annotations

import io
from datetime import datetime

import openpyxl
import pytest

from tests.returns.conftest import build_small
from tracker.returns.builder import build_return
from tracker.returns.workbook import MONEY_FORMAT, workbook_bytes

WHEN = datetime(2025, 10, 14, 9, 30)
SHEETS = ["Cover", "Summary by funding stream", "Quarterly profile and spend", "Expenditure by category",
          "Commissioned services", "Grant conditions", "Outputs",
          "Milestones", "Notes"]


def _books(content: bytes):
    return (openpyxl.load_workbook(io.BytesIO(content)), openpyxl.load_workbook(io.BytesIO(content), data_only=True))


def _row_of(ws, label: str) -> int:
    for row in ws.iter_rows(min_col=1, max_col=1):
        if row[0].value == label:
            return row[0].row
    raise AssertionError(f"no row {label!r} on {ws.title}")


def _col_of(ws, heading: str) -> int:
    for cell in ws[5]:
        if cell.value == heading:
            return cell.column
    raise AssertionError(f"no column {heading!r} on {ws.title}")


def test_sheets_formats_frozen_headers_filters_and_print_setup(small):
    content = workbook_bytes(build_return(small.year, 2, generated_at=WHEN))
    wb, _ = _books(content)
    assert wb.sheetnames == SHEETS
    ws = wb["Summary by funding stream"]
    assert ws.freeze_panes == "B6"
    assert ws.auto_filter.ref == "A5:M8"  # header and the three data rows, 13 columns
    assert all(c.font.b for c in ws[5] if c.value)
    row = _row_of(ws, "Core grant")
    money = ws.cell(row, _col_of(ws, "Actual to date"))
    assert money.value == pytest.approx(26_099.85) and money.number_format == MONEY_FORMAT
    assert "[Red](" in MONEY_FORMAT  # negatives in red brackets, as finance shows them
    assert ws.cell(row, _col_of(ws, "Variance against allocation (%)")).number_format.startswith("0.0%")
    assert ws.cell(row, _col_of(ws, "RAG")).value == "Red"
    assert ws.page_setup.orientation == "landscape"
    # Fit to one page wide (XlsxWriter leaves out fitToWidth=1, the default), any number of pages tall.
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)
    assert ws.page_setup.fitToHeight == 0
    assert ws.print_title_rows == "$5:$5"
    assert ws.column_dimensions["A"].width > 20
    dates = wb["Commissioned services"]
    start = dates.cell(_row_of(dates, "VRU-A-001"), _col_of(dates, "Start"))
    assert start.is_date and start.number_format == "dd/mm/yyyy"
    props = wb.properties
    assert props.title.startswith("Quarterly return to the PCC: 2025-26")
    assert props.creator and props.created == WHEN


def test_totals_are_formulas_with_correct_cached_values(small):
    data = build_return(small.year, 2, generated_at=WHEN)
    formulas, cached = _books(workbook_bytes(data))
    ws, wv = formulas["Summary by funding stream"], cached["Summary by funding stream"]
    total = _row_of(ws, "Total")
    col = _col_of(ws, "Actual to date")
    assert ws.cell(total, col).value == f"=SUM({ws.cell(6, col).column_letter}6:{ws.cell(6, col).column_letter}8)"
    expected = {"Allocation (original)": 120_000.00, "Allocation (revised)": 110_000.00, "Profile to date": 55_000.00,
                "Actual to date": 27_434.40, "Committed": 36_000.00, "Forecast outturn": 82_434.40,
                "Variance against allocation (£)": -27_565.60}
    for heading, value in expected.items():
        assert wv.cell(total, _col_of(ws, heading)).value == pytest.approx(value, abs=0.001), heading
    assert ws.cell(total, _col_of(ws, "Variance against allocation (%)")).value.startswith("=IF(")
    assert wv.cell(total, _col_of(ws, "Variance against allocation (%)")).value == pytest.approx(-27_565.60 / 110_000)

    cat, catv = formulas["Expenditure by category"], cached["Expenditure by category"]
    labour = _row_of(cat, "Labour total")
    assert cat.cell(labour, _col_of(cat, "Actual to date")).value.startswith("=SUMIF($B$6:$B$8,\"Labour\"")
    assert catv.cell(labour, _col_of(cat, "Actual to date")).value == pytest.approx(14_600.10)
    assert catv.cell(_row_of(cat, "Total"), _col_of(cat, "Actual to date")).value == pytest.approx(27_434.40)

    com, comv = formulas["Commissioned services"], cached["Commissioned services"]
    t = _row_of(com, "Total")
    assert com.cell(t, _col_of(com, "Remaining")).value.startswith("=SUM(")
    assert comv.cell(t, _col_of(com, "Remaining")).value == pytest.approx(31_265.69)
    assert comv.cell(t, _col_of(com, "Paid this quarter")).value == pytest.approx(6_734.31)


def test_cover_and_notes(small):
    data = build_return(small.year, 2, generated_at=WHEN)
    data.narrative = "Underspend on SVD: recruitment delayed.\nPlan: re-profile into Q3."
    wb, _ = _books(workbook_bytes(data))
    cover = {r[0]: r[1] for r in wb["Cover"].iter_rows(min_row=3, max_col=2, values_only=True) if r[0]}
    assert cover["Funding year"] == "2025-26"
    assert cover["Quarter"] == "Q2 (Jul-Sep)"
    assert cover["Period covered"] == "01/07/2025 to 30/09/2025"
    assert cover["Version"] == 1 and cover["Status"].startswith("Draft")
    assert "Summary by funding stream" in cover  # the guide to the sheets
    notes = [r[0] for r in wb["Notes"].iter_rows(min_row=4, values_only=True)]
    assert notes == ["Underspend on SVD: recruitment delayed.", "Plan: re-profile into Q3."]


def test_same_inputs_give_the_same_bytes(small):
    first = workbook_bytes(build_return(small.year, 2, generated_at=WHEN))
    second = workbook_bytes(build_return(small.year, 2, generated_at=WHEN))
    assert first == second


def ooxml_text(value):
    """A cell's text as Excel reads it: a carriage return is stored as the OOXML escape _x000D_, which
    openpyxl leaves undecoded."""
    return value.replace("_x000D_", "\r") if isinstance(value, str) else value


def _injection_values() -> list[str]:
    wb = openpyxl.load_workbook("/work/shared/samples/bad/formula-injection.xlsx")
    ws = wb.active
    values = [c.value for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
    hostile = [v for v in values if v[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert len(hostile) >= 5
    return hostile + ["\rcarriage", "-1+1", "=1+1"]


def test_user_text_never_becomes_a_formula(make):
    hostile = _injection_values()
    small = build_small(make, title=hostile[0], provider=hostile[1])
    for i, text in enumerate(hostile[2:]):
        make.commission(f"VRU-Z-{i:03d}", small.l1, provider=make.provider(text), title=text, value_pence=1_00)
    from tracker.extensions import db

    db.session.commit()
    data = build_return(small.year, 2, generated_at=WHEN)
    data.narrative = "\n".join(hostile)
    wb, _ = _books(workbook_bytes(data))
    ws = wb["Commissioned services"]
    service, provider = _col_of(ws, "Service"), _col_of(ws, "Provider")
    seen = {}
    for row in range(6, ws.max_row + 1):
        for col in (service, provider):
            cell = ws.cell(row, col)
            if isinstance(cell.value, str):
                seen[ooxml_text(cell.value)] = cell.data_type
    for text in hostile:
        assert seen.get(text) == "s", (text, seen.get(text))
    notes = [c for row in wb["Notes"].iter_rows(min_row=4) for c in row if c.value is not None]
    assert [ooxml_text(c.value) for c in notes] == hostile
    assert all(c.data_type == "s" for c in notes)
