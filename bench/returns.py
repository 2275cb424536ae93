"""Times building the quarterly return for a big year, next to a bare write of the same cell values.

    .venv/bin/python -m bench.returns            # 2,000 commissions, 100,000 ledger lines, one year, SQLite

The data set comes from bench.dataset (bulk inserts into a fresh temporary SQLite file). "Return" is the whole
job a download does: the queries, the figures, and the formatted workbook with formulas (XlsxWriter,
constant-memory). "Bare write" writes the same cell values with the same library and mode, with no formats,
formulas or set-up: the floor for any xlsx of that content. Prints the medians of a few runs and the ratio.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from sqlalchemy import func, select

from bench.dataset import build
from tracker import create_app
from tracker.extensions import db
from tracker.models import Commission, FundingYear, LedgerTransaction
from tracker.returns.builder import build_return
from tracker.returns.workbook import bare_workbook_bytes, cell_values, workbook_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commissions", type=int, default=2000)
    parser.add_argument("--ledger", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quarter", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db", "DATA_DIR": f"{tmp}/files",
                          "SECRET_KEY": "bench-secret-key-bench-secret-key", "ENV_NAME": "bench", "TESTING": False})
        with app.app_context():
            db.create_all()
            built = build(n_commissions=args.commissions, n_providers=max(50, args.commissions // 10),
                          n_ledger=args.ledger, n_years=1)
            year = db.session.scalar(select(FundingYear))
            commissions = db.session.scalar(select(func.count(Commission.id)).where(Commission.funding_year_id == year.id))
            lines = db.session.scalar(select(func.count(LedgerTransaction.id)).where(LedgerTransaction.funding_year_id == year.id))
            print(f"Data set: {year.label}, {commissions:,} commissions, {lines:,} ledger lines "
                  f"(built in {built.seconds:.1f} s)")
            workbook_bytes(build_return(year, args.quarter))  # warm-up: compiled SQL and imports, as in a live app
            full, bare, size = [], [], 0
            for _ in range(args.runs):
                db.session.expire_all()
                started = time.perf_counter()
                data = build_return(year, args.quarter)
                content = workbook_bytes(data)
                full.append(time.perf_counter() - started)
                size = len(content)
                cells = cell_values(data)  # gathered outside the timing: the bare write is only the writing
                started = time.perf_counter()
                bare_workbook_bytes(cells)
                bare.append(time.perf_counter() - started)
            rows = sum(len(rows) for _, rows in cells)
            f, b = statistics.median(full), statistics.median(bare)
            print(f"Return (queries, figures, formatted workbook): {f:.3f} s  ({size:,} bytes, {rows:,} rows)")
            print(f"Bare write of the same cells (XlsxWriter constant_memory): {b:.3f} s")
            print(f"Ratio: {f / b:.2f}x  (median of {args.runs} runs)")


if __name__ == "__main__":
    main()
