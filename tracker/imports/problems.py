"""Problems found in a file, said where and why ("Transactions, row 14, Net: '£1,2,3' is not an amount"),
the refusal the pipeline raises, and the problems as a spreadsheet to correct the file."""
from __future__ import annotations

from tracker.spreadsheets.values import CellError, ValueProblem, parse_text
from tracker.models import ImportBatch
from tracker.text import strip_control

SHOWN_PROBLEMS = 200  # problems listed on the page; the spreadsheet download has them all


class ImportRefused(Exception):
    """A file or request the pipeline cannot go on with; ``message`` is for the finance officer."""

    def __init__(self, message: str, status: int = 422, batch: ImportBatch | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.batch = batch


# --- problems ---------------------------------------------------------------------------------------------

def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, CellError):
        return value.code if value.code != CellError.NO_CACHED_VALUE else "(formula)"
    try:
        return strip_control(parse_text(value))[:100]
    except ValueProblem:
        return strip_control(str(value))[:100]


def problem(sheet: str, row: int, column: str, value: object, message: str, letter: str = "") -> dict:
    return {"sheet": sheet, "row": row, "column": column, "letter": letter, "value": _shown(value), "message": message}


def problem_text(p: dict) -> str:
    """"Transactions, row 14, Net: '£1,2,3' is not an amount"."""
    where = f"{p['sheet']}, row {p['row']}" if p.get("row") else p["sheet"]
    if p.get("column"):
        where += f", {p['column']}"
    value = f" '{p['value']}'" if p.get("value") else ""
    return f"{where}:{value} {p['message']}"


def problems_workbook(problems: list[dict], error_rows: list[dict] | None = None) -> bytes:
    """Every problem as a spreadsheet (text cells only, so nothing in it is ever a live formula)."""
    import io

    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    bold = wb.add_format({"bold": True})
    ws = wb.add_worksheet("Problems")
    for c, (title, width) in enumerate((("Sheet", 18), ("Row", 8), ("Column", 22), ("Column letter", 8),
                                        ("Value", 30), ("Problem", 70))):
        ws.write_string(0, c, title, bold)
        ws.set_column(c, c, width)
    for r, p in enumerate(problems, start=1):
        ws.write_string(r, 0, p.get("sheet", ""))
        if p.get("row"):
            ws.write_number(r, 1, p["row"])
        ws.write_string(r, 2, p.get("column", ""))
        ws.write_string(r, 3, p.get("letter", ""))
        ws.write_string(r, 4, p.get("value", ""))
        ws.write_string(r, 5, p.get("message", ""))
    ws.freeze_panes(1, 0)
    wb.close()
    return out.getvalue()
