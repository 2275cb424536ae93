"""List downloads (.xlsx and .csv) with the lists' filters, safe with hostile text; and `flask export-return`."""
from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, datetime

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
