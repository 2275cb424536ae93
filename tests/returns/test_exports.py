"""List downloads (.xlsx and .csv) with the lists' filters, safe with hostile text; and `flask export-return`."""
from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, datetime
from decimal import Decimal

import openpyxl

from tracker.extensions import db
from tracker.imports.headers import match_headers
from tracker.models import PccReturn
from tracker.returns.builder import DATE, MONEY, TEXT, Column
from tracker.returns.exports import COMMISSION_COLUMNS, csv_safe, export_rows


def test_export_rows_xlsx_and_csv_are_safe_and_typed():
    columns = [Column("t", "Name", TEXT), Column("m", "Amount", MONEY), Column("d", "Date", DATE)]
    hostile = ["=1+1", "+44", "-2+3", "@SUM(A1)", "\tTab", "\rCR", "plain"]
    rows = [[text, -1234_56, date(2025, 4, 1)] for text in hostile]
    wb = openpyxl.load_workbook(io.BytesIO(export_rows(columns, rows, "xlsx")))
    ws = wb.active
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C8"
    for r, text in enumerate(hostile, start=2):
        cell = ws.cell(r, 1)
        assert cell.data_type == "s" and cell.value.replace("_x000D_", "\r") == text
        assert ws.cell(r, 2).value == -1234.56 and ws.cell(r, 3).value == datetime(2025, 4, 1)
    text = export_rows(columns, rows, "csv").decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["Name", "Amount", "Date"]
    assert [r[0] for r in parsed[1:]] == ["'=1+1", "'+44", "'-2+3", "'@SUM(A1)", "'\tTab", "'\rCR", "plain"]
    assert parsed[1][1:] == ["-1234.56", "01/04/2025"]  # numbers stay numbers: never prefixed
    assert csv_safe("ok") == "ok"


def test_a_list_downloads_money_columns_fit_their_widest_amount():
    """The width is set after the rows stream through: wide enough for the largest amount and the most negative
    one in brackets (else a spreadsheet shows "###")."""
    columns = [Column("t", "Name", TEXT), Column("m", "Amount", MONEY, 12), Column("n", "Small", MONEY, 12)]
    rows = [["a", 12_345_678_90, 1_00], ["b", -2_306_125_66, 2_00], ["c", None, None]]
    ws = openpyxl.load_workbook(io.BytesIO(export_rows(columns, iter(rows), "xlsx"))).active
    assert ws.column_dimensions["B"].width >= len("£12,345,678.90") + 1
    assert ws.column_dimensions["C"].width < 13  # small amounts keep the column's own width


def test_commissions_export_reimports_with_the_register_headings(small, client, auth):
    auth.login("viewer")
    r = client.get("/exports/commissions.xlsx?year=2025-26")
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.data)).active
    headers = [c.value for c in ws[1]]
    mapping = match_headers("commissions", headers)
    for field in ("reference", "title", "provider", "strand", "funding_stream", "procurement_route", "value",
                  "start", "end", "status", "vcse", "contract_manager", "po_number"):
        assert field in mapping, field
    rows = {row[0]: row for row in ws.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"VRU-A-001", "VRU-A-002", "VRU-A-003"}
    a1 = dict(zip(headers, rows["VRU-A-001"]))
    assert a1["Contract Value (£)"] == 24000 and a1["Start Date"] == datetime(2025, 4, 1)
    assert a1["Status"] == "live" and a1["Provider"] == "Alpha CIC" and a1["Funding Stream"] == "Core grant"


def test_commissions_export_uses_the_register_filters(small, client, auth):
    auth.login("manager")
    r = client.get("/exports/commissions.csv?year=2025-26&status=awarded")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert [h for h in rows[0]] == [c.heading for c in COMMISSION_COLUMNS]
    assert [row[0] for row in rows[1:]] == ["VRU-A-003"]
    r = client.get("/exports/commissions.csv?status=lost")
    assert r.status_code == 400 and "status" in r.text
    assert client.get("/exports/commissions.csv?year=1999-00").status_code == 404  # a year not set up


def test_ledger_export_filters_and_credits(small, client, auth):
    auth.login("finance")
    r = client.get("/exports/ledger.xlsx?year=2025-26&quarter=2")
    ws = openpyxl.load_workbook(io.BytesIO(r.data)).active
    nets = sorted(row[11] for row in ws.iter_rows(min_row=2, values_only=True))
    assert nets == [-500.25, 1234.56, 6000, 7600.10]
    r = client.get(f"/exports/ledger.csv?commission={small.c1.id}")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert sorted(row[11] for row in rows[1:]) == ["-500.25", "6000.00", "6000.00", "6000.00"]
    for bad in ("quarter=9", "period=0", "year=nope", "commission=abc"):
        r = client.get(f"/exports/ledger.csv?{bad}")
        assert r.status_code == 400, bad


def test_milestones_and_audit_exports(small, client, auth):
    auth.login("admin")
    r = client.get("/exports/milestones.csv?year=2025-26&status=done")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["Q1 return sent"]
    assert client.get("/exports/milestones.csv?status=sideways").status_code == 400
    assert client.get("/exports/audit.xlsx").status_code == 200
    assert client.get("/exports/nothing.xlsx").status_code == 404


def test_cli_writes_a_draft_and_issues(small, runner, tmp_path, make):
    out = tmp_path / "draft.xlsx"
    result = runner.invoke(args=["export-return", "--year", "2025-26", "--quarter", "2", str(out)])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(out)
    assert wb["Cover"]["B13"].value.startswith("Draft")
    assert db.session.scalar(db.select(db.func.count(PccReturn.id))) == 0

    user = make.user(role="finance", email="fin@vru.example")
    db.session.commit()
    issued = tmp_path / "issued.xlsx"
    result = runner.invoke(args=["export-return", "--year", "2025-26", "--quarter", "2", "--issue", "--by",
                                 "fin@vru.example", str(issued)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    record = db.session.scalar(db.select(PccReturn))
    assert record.status == "issued" and record.issued_by_id == user.id
    assert hashlib.sha256(issued.read_bytes()).hexdigest() == record.sha256
    # A correction from the command line needs its reason too.
    bad = runner.invoke(args=["export-return", "--year", "2025-26", "--quarter", "2", "--issue", str(issued)])
    assert bad.exit_code != 0 and "--reason" in bad.output
    fixed = runner.invoke(args=["export-return", "--year", "2025-26", "--quarter", "2", "--issue", "--reason",
                                "Ledger re-run", str(issued)])
    assert fixed.exit_code == 0, fixed.output
    db.session.expire_all()
    assert db.session.scalar(db.select(PccReturn.correction_reason).where(PccReturn.version == 2)) == "Ledger re-run"

    bad = runner.invoke(args=["export-return", "--year", "2099-00", "--quarter", "2", str(out)])
    assert bad.exit_code != 0 and "no funding year" in bad.output
    bad = runner.invoke(args=["export-return", "--year", "2025-26", "--quarter", "9", str(out)])
    assert bad.exit_code != 0


def test_negative_variance_percentages_in_the_budget_download_are_numbers(small, client, auth):
    """Seen on a real budget.csv: '-80.9% (text, with a stray apostrophe). Percentages are numbers, like money."""
    from tracker import figures

    auth.login("finance")
    text = client.get("/exports/budget.csv?year=2025-26&quarter=2").data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    yf = figures.year_figures(small.year, 2)
    expected = [f.variance_percent for f in yf.line_rows()] + [figures.table_total(yf.line_rows(), 2).variance_percent]
    assert any(p is not None and p < 0 for p in expected)  # the case that went wrong
    cells = [r["Variance against budget %"] for r in rows]
    assert not any(c.startswith("'") for c in cells)
    assert [Decimal(c) if c else None for c in cells] == expected
    assert [r["Variance against budget £"] for r in rows][-1].startswith("-")

    ws = openpyxl.load_workbook(io.BytesIO(client.get("/exports/budget.xlsx?year=2025-26&quarter=2").data)).active
    headers = [c.value for c in ws[1]]
    col = headers.index("Variance against budget %")
    values = [row[col] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert values == [float(p / 100) if p is not None else None for p in expected]
    assert ws.cell(2, col + 1).number_format.startswith("0.0%")


def test_csv_guards_text_and_leaves_plain_negative_numbers_alone():
    # Text that could run as a formula keeps its apostrophe; a negative number written as text cannot, so it has none.
    for number in ("-80.9%", "-£1,250.50", "-12", "-0.5"):
        assert csv_safe(number) == number
    for hostile in ("-2+3", "-1,2", "-0012", "-£1+1", "-80.9%%", "-SUM(A1)", "-"):
        assert csv_safe(hostile) == "'" + hostile


def test_the_two_variance_totals_are_labelled_by_what_they_are_against(small, client, auth):
    """The stream table's variance (against the allocations) and the line table's (against the budgets) are two
    different totals on one page: each says which, on screen, in the budget download and in the return."""
    from tracker import figures

    from sqlalchemy import select

    from tracker.models import Allocation

    # The core grant's allocation is £10,000.00 more than its lines' budgets, so the two totals differ.
    core = db.session.scalars(select(Allocation).where(Allocation.funding_stream_id == small.core.id)).one()
    core.revised_pence += 10_000_00
    db.session.commit()
    auth.login("finance")
    yf = figures.year_figures(small.year, 2)
    against_allocation = yf.total.variance
    against_budget = figures.table_total(yf.line_rows(), 2).variance
    assert against_allocation != against_budget

    page = client.get("/funding/budget?year=2025-26&quarter=2").text
    assert page.count("Variance against allocation £") == 1  # the stream table
    assert page.count("Variance against budget £") == 2  # the strand and line tables
    assert "Variance £" not in page and "Forecast variance against allocation" in page

    text = client.get("/exports/budget.csv?year=2025-26&quarter=2").data.decode("utf-8-sig")
    total = list(csv.DictReader(io.StringIO(text)))[-1]
    assert total["Funding stream"] == "Total"
    assert round(Decimal(total["Variance against budget £"]) * 100) == against_budget

    book = openpyxl.load_workbook(io.BytesIO(client.get("/returns/2025-26/q2/draft.xlsx").data), data_only=True)
    for sheet, heading, expected in (("Summary by funding stream", "Variance against allocation (£)",
                                      against_allocation),
                                     ("Expenditure by category", "Variance against budget (£)", against_budget)):
        ws = book[sheet]
        headings = [c.value for c in ws[5]]
        assert "Variance (£)" not in headings
        col = headings.index(heading)
        total_row = next(row for row in ws.iter_rows(min_row=6, values_only=True) if row[0] == "Total")
        assert round(Decimal(str(total_row[col])) * 100) == expected, sheet
