"""Open the return in LibreOffice (headless), make it recalculate every formula, and check the totals it works
out match ours to the penny. It also shows the file opens cleanly in a second spreadsheet program.

LibreOffice keeps the cached values of an .xlsx by default; the test gives it a profile that says "always
recalculate" (OOXMLRecalcMode=0), and first proves that setting works on a file with a wrong cached value.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import xlsxwriter

from tracker.returns.builder import MONEY, build_return
from tracker.returns.workbook import workbook_bytes

# Sheet -1: every sheet to its own file, named <file>-<sheet>.csv (LibreOffice 7.2+). Token 9 false: raw values.
ALL_SHEETS_CSV = "csv:Text - txt - csv (StarCalc):44,34,UTF8,1,,0,false,true,false,false,false,-1"
RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("LibreOffice (soffice) is missing on CI: install libreoffice-calc-nogui (make system-packages)")
    pytest.skip("LibreOffice (soffice) is not installed: `apt-get install libreoffice-calc-nogui` to run this check")


def convert(tmp_path: Path, content: bytes, name: str = "return") -> dict[str, list[list[str]]]:
    exe = soffice()
    profile = tmp_path / "lo-profile"
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS)
    source = tmp_path / f"{name}.xlsx"
    source.write_bytes(content)
    out = tmp_path / "csv"
    result = subprocess.run(
        [exe, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}", "--convert-to", ALL_SHEETS_CSV,
         "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=180,
    )
    sheets = {}
    for path in sorted(out.glob(f"{name}-*.csv")):
        sheets[path.stem[len(name) + 1:]] = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert sheets, f"LibreOffice wrote nothing: {result.stdout} {result.stderr}"
    return sheets


def test_libreoffice_recalculates_with_this_profile(tmp_path):
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer)
    ws = wb.add_worksheet("Second")
    wb.add_worksheet("Third")
    ws.write(0, 0, 2.5)
    ws.write(1, 0, 3)
    ws.write_formula(2, 0, "=SUM(A1:A2)", None, 999)  # a wrong cached value on purpose
    wb.close()
    sheets = convert(tmp_path, buffer.getvalue(), "check")
    assert set(sheets) == {"Second", "Third"}
    assert sheets["Second"][2] == ["5.5"]


def _pence(text: str) -> int:
    return int((Decimal(text) * 100).quantize(Decimal("1")))


def test_libreoffice_totals_match_ours(small, tmp_path):
    data = build_return(small.year, 2, generated_at=datetime(2025, 10, 14, 9, 30))
    sheets = convert(tmp_path, workbook_bytes(data))
    assert {"Cover", "Summary by funding stream", "Expenditure by category", "Commissioned services", "Outputs",
            "Milestones", "Notes"} <= set(sheets)
    checked = 0
    for table in data.tables:
        rows = sheets[table.sheet]
        by_label = {r[0]: r for r in rows if r}
        for total in table.totals:
            lo_row = by_label[total.label]
            for i, column in enumerate(table.columns):
                if column.kind == MONEY and column.total == "sum" and total.values.get(column.key) is None:
                    assert lo_row[i] == "", (table.sheet, total.label, column.heading)  # blank in every row: blank
                elif column.kind == MONEY and column.total == "sum":
                    assert _pence(lo_row[i]) == (total.values.get(column.key) or 0), (table.sheet, total.label, column.heading)
                    checked += 1
                elif column.total == "ratio" and total.values.get(column.ratio_of[1]):
                    ours = Decimal(total.values[column.ratio_of[0]]) / Decimal(total.values[column.ratio_of[1]])
                    assert abs(Decimal(lo_row[i].rstrip("%")) / 100 - ours) < Decimal("0.000001"), lo_row[i]
    assert checked >= 40
    # And LibreOffice read the money in the rows the same way.
    summary = {r[0]: r for r in sheets["Summary by funding stream"] if r}
    to_date = data.table("Summary by funding stream").column_index("actual_to_date")
    assert _pence(summary["Core grant"][to_date]) == 26_099_85
