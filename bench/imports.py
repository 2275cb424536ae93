"""Benchmark: two 100,000-row ledger exports, one written by XlsxWriter and one by LibreOffice (the Oxford sample
repeated with unique references: shared strings, title rows, 10 columns), each through (a) a bare openpyxl
read-only pass, (b) a bare calamine pass, (c) our whole import as ``flask import --commit`` runs it (detect, map,
then check and write every row in one pass) and (d) as the Imports pages run it (detect, map, preview, commit the
rows the preview kept), with each import's peak memory. Ratios are to the bare passes of the same run: each
import is compared with the calamine passes just before and after it, over --repeat rounds, and the median round
is reported with the range.

    .venv/bin/python bench/imports.py [--rows 100000] [--repeat 3] [--keep] [--only xlsxwriter|libreoffice]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench]

The import runs in a subprocess so its peak resident memory (ru_maxrss) is its own. The PostgreSQL database named
by --database-url is emptied (its tables dropped and created) first, and checkpointed before each timed import.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SUPPLIERS = [("SUP1001", "Medway Youth Mentoring CIC"), ("SUP1002", "North Kent Sports Trust"),
             ("SUP1003", "Safer Streets Kent Ltd"), ("SUP2101", "Kent Print Services Ltd"),
             ("SUP2102", "Insight Analytics Ltd"), ("SUP2103", "Venue Hire Maidstone")]


def make_ledger(path: str, rows: int) -> None:
    """A ledger export like finance's: title rows, a header, numbers with some text amounts and text dates."""
    import xlsxwriter

    rng = random.Random(7)
    wb = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False})
    ws = wb.add_worksheet("Transactions")
    money = wb.add_format({"num_format": "#,##0.00"})
    day = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_row(0, 0, ["VRU cost centre V100: ledger extract"])
    headers = ["Transaction Ref", "Posting Date", "Period", "Cost Centre", "Account Code", "Account Description",
               "Supplier ID", "Supplier Name", "Invoice No", "PO No", "Narrative", "Net", "VAT", "Gross"]
    ws.write_row(2, 0, headers)
    start = date(2025, 4, 1)
    for i in range(rows):
        r = i + 3
        d = start + timedelta(days=rng.randint(0, 364))
        net = rng.randint(-50_000, 2_500_000) / 100
        vat = round(net * 0.2, 2) if rng.random() < 0.3 else 0.0
        sid, name = SUPPLIERS[i % len(SUPPLIERS)]
        ws.write_string(r, 0, f"JNL{700000 + i}")
        if i % 10 == 0:
            ws.write_string(r, 1, d.strftime("%d/%m/%Y"))
        else:
            ws.write_datetime(r, 1, d, day)
        ws.write_number(r, 2, (d.month - 4) % 12 + 1)
        ws.write_string(r, 3, "V100")
        ws.write_string(r, 4, "5200")
        ws.write_string(r, 5, "Commissioned services")
        ws.write_string(r, 6, sid)
        ws.write_string(r, 7, name)
        ws.write_string(r, 8, f"INV-{rng.randint(10000, 99999)}")
        ws.write_string(r, 9, f"PO45001{i % 20:02d}" if i % 3 == 0 else "")
        ws.write_string(r, 10, f"Services {d:%b %Y}")
        if i % 15 == 0:
            ws.write_string(r, 11, f"£{net:,.2f}" if net >= 0 else f"({-net:,.2f})")
        else:
            ws.write_number(r, 11, net, money)
        ws.write_number(r, 12, vat, money)
        ws.write_number(r, 13, round(net + vat, 2), money)
    wb.close()


OXFORD = "/work/shared/samples/oxford-expenditure-over-500-jan-mar-2016.csv"
SOFFICE = "/usr/bin/soffice"


def make_libreoffice_ledger(path: str, rows: int) -> None:
    """The Oxford sample repeated to ``rows`` rows with unique references under two title rows, written to .xlsx by
    LibreOffice (UK dates read as dates), like a council ledger saved from Calc."""
    import csv
    import shutil

    with open(OXFORD, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        source = [r for r in reader if r]
    ref = header.index("trans_no")
    work = tempfile.mkdtemp(prefix="bench-lo-")
    csv_path = os.path.join(work, "Transactions.csv")
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Oxford City Council: expenditure over £500 (repeated for the benchmark)"])
        w.writerow([])
        w.writerow(header)
        for i in range(rows):
            row = list(source[i % len(source)])
            row[ref] = f"{row[ref]}-{i // len(source)}"
            w.writerow(row)
    profile = "file://" + os.path.join(work, "profile")
    subprocess.run([SOFFICE, f"-env:UserInstallation={profile}", "--headless", "--infilter=CSV:44,34,76,1,,2057",
                    "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", work, csv_path],
                   check=True, capture_output=True, timeout=900)
    shutil.move(os.path.join(work, "Transactions.xlsx"), path)
    shutil.rmtree(work, ignore_errors=True)


def first_sheet(path: str) -> str:
    import python_calamine

    return python_calamine.CalamineWorkbook.from_path(path).sheet_names[0]


def bare_openpyxl(path: str) -> int:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    n = 0
    for row in wb[first_sheet(path)].iter_rows(values_only=True):
        for _v in row:
            pass
        n += 1
    wb.close()
    return n


def bare_calamine(path: str) -> int:
    import python_calamine

    wb = python_calamine.CalamineWorkbook.from_path(path)
    n = 0
    for row in wb.get_sheet_by_name(first_sheet(path)).iter_rows():
        for _v in row:
            pass
        n += 1
    return n


def whole_import(path: str, database_url: str | None = None, how: str = "command") -> dict:
    """Run in a child process: a fresh database, then the whole import as ``how`` does it.

    "command" is ``flask import --commit``: detect and map, then check and write every row in one pass
    (``commit_in_one_pass``). "pages" is the web's way: detect and map, preview (the rows are checked and kept),
    then commit the kept rows."""
    from tracker import create_app
    from tracker.config import TestConfig
    from tracker.extensions import db
    from tracker.imports import service

    tmp = tempfile.mkdtemp(prefix="bench-imports-")
    app = create_app({**{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
                      "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{tmp}/bench.db",
                      "DATA_DIR": f"{tmp}/files", "IMPORT_MAX_ROWS": 200_000})
    with app.app_context():
        if database_url:
            db.drop_all()
        db.create_all()
        from tracker.models import FundingYear

        for start in (2015, 2025):  # the Oxford sample is 2015-16; the XlsxWriter ledger 2025-26
            db.session.add(FundingYear(label=f"{start}-{(start + 1) % 100:02d}", start_date=date(start, 4, 1),
                                       end_date=date(start + 1, 3, 31), status="open"))
        db.session.commit()
        if database_url:
            # Start from a quiet server: the rounds before wrote hundreds of thousands of lines, and the checkpoint
            # that writes them out would otherwise land in the middle of this round's import.
            from sqlalchemy import text

            with db.engine.connect() as connection:
                connection.execute(text("CHECKPOINT"))
        t0 = time.perf_counter()
        with open(path, "rb") as fh:
            draft = service.start_draft(fh, os.path.basename(path))  # detect + map
        t1 = time.perf_counter()
        if how == "command":
            t2 = t1
            batch = service.commit_in_one_pass(draft)  # validate and write, one pass, one transaction
        else:
            service.preview(draft)  # validate + preview, the checked rows kept
            t2 = time.perf_counter()
            batch = service.commit(draft)  # the kept rows written in one transaction
        t3 = time.perf_counter()
        status = batch.status
        from sqlalchemy import func, select

        from tracker.models import LedgerTransaction

        stored = db.session.scalar(select(func.count(LedgerTransaction.id)))
    return {"rows": batch.counts["read"], "errors": batch.counts["error"], "stored": stored,
            "status": status, "detect": t1 - t0, "preview": t2 - t1, "commit": t3 - t2, "total": t3 - t0,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child_import(path: str, database_url: str | None, how: str) -> dict:
    child = [sys.executable, __file__, "--child", path, "--how", how] + (
        ["--database-url", database_url] if database_url else [])
    out = subprocess.run(child, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        print(out.stderr)
        raise SystemExit(out.returncode)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _timed(fn, path: str) -> tuple[float, int]:
    t = time.perf_counter()
    n = fn(path)
    return time.perf_counter() - t, n


def run_one(label: str, path: str, database_url: str | None, repeat: int) -> None:
    """``repeat`` rounds of: calamine, openpyxl, the import as the command does it, as the pages do it, calamine
    again. This machine's speed drifts by half over minutes (other work on the same host), so each import is
    compared with the calamine passes just before and after it, and the median of the rounds' ratios is reported
    with their range."""
    print(f"{label}: {os.path.getsize(path) / 1e6:.1f} MB -> {path}")
    rounds = []
    for _ in range(repeat):
        before, n = _timed(bare_calamine, path)
        openpyxl_s, _ = _timed(bare_openpyxl, path)
        command = _child_import(path, database_url, "command")
        pages = _child_import(path, database_url, "pages")
        after, _ = _timed(bare_calamine, path)
        rounds.append({"calamine": (before + after) / 2, "openpyxl": openpyxl_s, "command": command, "pages": pages})

    where = "PostgreSQL" if database_url else "SQLite"
    print(f"  median of {repeat} rounds:")
    middle = sorted(rounds, key=lambda x: x["calamine"])[len(rounds) // 2]
    print(f"  (a) bare openpyxl read-only pass: {middle['openpyxl']:6.1f} s  {n / middle['openpyxl']:9,.0f} rows/s")
    print(f"  (b) bare calamine pass:           {middle['calamine']:6.1f} s  {n / middle['calamine']:9,.0f} rows/s  "
          "(before and after the imports)")
    for how, name, steps in (
            ("command", "(c) flask import --commit",
             "detect+map {detect:.1f} s, check and write in one pass {commit:.1f} s"),
            ("pages", "(d) the Imports pages",
             "detect+map {detect:.1f} s, preview {preview:.1f} s, commit {commit:.1f} s")):
        ratios = sorted(((x[how]["total"] / x["calamine"], x[how]["total"] / x["openpyxl"], x[how]) for x in rounds),
                        key=lambda r: r[0])
        to_calamine, to_openpyxl, r = ratios[len(ratios) // 2]

        def spread(i: int, digits: int) -> str:
            return f"{min(x[i] for x in ratios):.{digits}f}x-{max(x[i] for x in ratios):.{digits}f}x"

        print(f"  {name} on {where}: {r['total']:6.1f} s  {r['rows'] / r['total']:9,.0f} rows/s "
              f"({steps.format(**r)}; {r['stored']:,} lines stored, {r['errors']} errors, batch {r['status']})")
        print(f"      ratio import / bare openpyxl: {to_openpyxl:.2f}x (target <= 1.0x; rounds {spread(1, 2)}); "
              f"import / bare calamine: {to_calamine:.1f}x (target <= 5x; rounds {spread(0, 1)})")
        peak = max(x[how]["maxrss_mb"] for x in rounds)
        print(f"      peak memory of the import (ru_maxrss of its process, the highest round): {peak:.0f} MB "
              "(target < 250 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated workbooks")
    parser.add_argument("--only", choices=["xlsxwriter", "libreoffice"])
    parser.add_argument("--database-url", help="a PostgreSQL database to use (emptied first) instead of SQLite")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best is reported")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--how", choices=["command", "pages"], default="command", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(whole_import(args.child, args.database_url, args.how)))
        return
    folder = tempfile.mkdtemp(prefix="bench-ledger-")
    for name, make in (("xlsxwriter", make_ledger), ("libreoffice", make_libreoffice_ledger)):
        if args.only and args.only != name:
            continue
        path = os.path.join(folder, f"ledger-{name}-{args.rows}.xlsx")
        t = time.perf_counter()
        make(path, args.rows)
        print(f"wrote {args.rows:,} rows with {name} in {time.perf_counter() - t:.1f} s")
        run_one(name, path, args.database_url, args.repeat)
        if not args.keep:
            os.remove(path)


if __name__ == "__main__":
    main()
