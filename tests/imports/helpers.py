"""Shared helpers for the import tests: the sample files and driving the pipeline without a browser."""
from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.imports import service

SAMPLES = Path("/work/shared/samples")
LEDGER = SAMPLES / "vru-ledger-2025-26-p1-p6.xlsx"
COMMISSIONS = SAMPLES / "commissions-register-2025-26.xlsx"
BUDGET = SAMPLES / "budget-2025-26.xlsx"
OXFORD_CSV = SAMPLES / "oxford-expenditure-over-500-jan-mar-2016.csv"
OXFORD_XLSX = SAMPLES / "oxford-expenditure-over-500-jan-mar-2016.xlsx"
BAD = SAMPLES / "bad"


def draft_of(path, data: bytes | None = None, **kwargs) -> service.Draft:
    data = Path(path).read_bytes() if data is None else data
    return service.start_draft(io.BytesIO(data), Path(path).name, **kwargs)


def table_counts() -> dict[str, int]:
    """Rows in every table: the database 'exactly as it was' check."""
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def upload(client, path, data: bytes | None = None, htmx: bool = False, **fields):
    data = Path(path).read_bytes() if data is None else data
    form = {"file": (io.BytesIO(data), Path(path).name), "kind": "", "year": "", "sheet": ""}
    form.update(fields)
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post("/imports/upload", data=form, content_type="multipart/form-data", headers=headers)


def count_sheet_parses(monkeypatch) -> list[str]:
    """From now on, the name of each sheet calamine parses whole is appended to the list returned (and nothing
    is kept from an earlier read)."""
    from tracker.spreadsheets import reader

    reader.forget_kept()
    parses: list[str] = []
    real = reader.python_calamine.CalamineWorkbook.from_object

    class Counting:
        def __init__(self, book):
            self.book = book

        def get_sheet_by_name(self, name):
            parses.append(name)
            return self.book.get_sheet_by_name(name)

        def close(self):
            self.book.close()

    monkeypatch.setattr(reader.python_calamine.CalamineWorkbook, "from_object", lambda source: Counting(real(source)))
    return parses


def write_big_ledger(path, rows: int, prefix: str, amount=lambda i: f"{(i % 900) + 100}.{i % 100:02d}") -> None:
    """A CSV ledger of ``rows`` lines for one supplier (references ``<prefix>000000`` on), big enough that its
    commit runs in the background and long enough to be interrupted."""
    import csv

    with Path(path).open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["Transaction Ref", "Posting Date", "Supplier Name", "Narrative", "Net"])
        for i in range(rows):
            out.writerow([f"{prefix}{i:06d}", f"{(i % 28) + 1:02d}/0{(i % 6) + 4}/2025", "Harbourside Family Support",
                          "Mentoring sessions", amount(i)])
