"""Checked ledger rows kept from the preview, so the commit need not read and check the file again, and the
bulk insert of ledger lines (Core executemany; COPY on PostgreSQL).

The preview writes every row it would add or change to ``rows-<token>.marshal`` beside the draft (Python's
``marshal`` of plain lists, written and read only by this module: several times quicker than JSON, and unlike
pickle it cannot run code), with the
database's state when it looked (``db_state``: the latest audit event, the latest ledger line and the number of
ledger lines). The commit reuses those rows only when the state is the same, which proves nothing that decides
a row (ledger lines already present, years, commissions, supplier and account rules, settings: every change to
them is audited) has changed since; otherwise it reads and checks the file again.
"""
from __future__ import annotations

import marshal
import os
import threading
from datetime import date
from functools import lru_cache

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import AuditEvent, LedgerTransaction, utcnow

# The columns of an added ledger line, in the order the rows file keeps them and the insert writes them.
LEDGER_COLUMNS = ("reference", "posting_date", "period", "funding_year_id", "cost_centre", "account_code",
                  "account_description", "supplier_id", "supplier_name", "invoice_number", "po_number", "narrative",
                  "net_pence", "vat_pence", "gross_pence", "transaction_type", "commission_id", "budget_line_id",
                  "match_method")
INSERT_COLUMNS = LEDGER_COLUMNS + ("import_batch_id", "created_at")
_DATE_AT = LEDGER_COLUMNS.index("posting_date")
PER_LINE = 1_000  # rows kept per record of the rows file (one list each: fewer, faster loads)


def db_state() -> list[int]:
    """What the checks depend on, in one query: [latest audit id, latest ledger line id, ledger lines]."""
    row = db.session.execute(select(
        select(func.coalesce(func.max(AuditEvent.id), 0)).scalar_subquery(),
        select(func.coalesce(func.max(LedgerTransaction.id), 0)).scalar_subquery(),
        select(func.count(LedgerTransaction.id)).scalar_subquery())).one()
    return [int(v or 0) for v in row]


def ledger_values(data: dict) -> list:
    """An added line's values in ``LEDGER_COLUMNS`` order, the posting date as ISO text (as stored)."""
    values = [data[c] for c in LEDGER_COLUMNS]
    values[_DATE_AT] = _iso(values[_DATE_AT])
    return values


@lru_cache(maxsize=4096)  # a ledger's lines fall on a year's few hundred dates
def _iso(day: date) -> str:
    return day.isoformat()


class RowsFile:
    """Writes the rows the preview would add or change, a thousand to a record."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tmp = path + ".part"
        self.fh = open(self.tmp, "wb")
        self.buffer: list = []

    def take(self, row) -> None:
        if row.action == "add":
            self.buffer.append(["a", row.row, row.money, ledger_values(row.data)])
        elif row.action == "changed":
            data = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.data.items()}
            self.buffer.append(["c", row.row, row.money, row.existing_id, data])
        if len(self.buffer) >= PER_LINE:
            self._write()

    def _write(self) -> None:
        if self.buffer:
            # Length-prefixed: marshal.load on a file reads it a few bytes at a time (10x slower than loads).
            data = marshal.dumps(self.buffer)
            self.fh.write(len(data).to_bytes(8, "little"))
            self.fh.write(data)
            self.buffer = []

    def finish(self) -> None:
        self._write()
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        self.fh.close()
        try:
            os.remove(self.tmp)
        except OSError:
            pass


def replay(path: str):
    """The kept rows: ("add", row, money, values) with values in ``LEDGER_COLUMNS`` order (date as ISO text), or
    ("changed", row, money, existing id, data)."""
    with open(path, "rb") as fh:
        while size := int.from_bytes(fh.read(8), "little"):
            for item in marshal.loads(fh.read(size)):
                if item[0] == "a":
                    yield "add", item[1], item[2], item[3]
                else:
                    data = item[4]
                    if "posting_date" in data:
                        data["posting_date"] = date.fromisoformat(data["posting_date"])
                    yield "changed", item[1], item[2], item[3], data


def insert_ledger_rows(rows: list[list]) -> None:
    """Insert ledger lines (value lists in ``INSERT_COLUMNS`` order, posting date as ISO text, created_at a
    datetime or None for now) in one statement: COPY on PostgreSQL, the driver's executemany on SQLite, Core
    executemany elsewhere; never the ORM."""
    if not rows:
        return
    now = utcnow()
    created_at = len(INSERT_COLUMNS) - 1
    connection = db.session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        copy = getattr(_streaming, "copy", None)
        if copy is None:
            # One COPY for the whole commit, left open between chunks (end_ledger_rows closes it): the server
            # checks and indexes each line as it arrives, on its own core, while this process prepares the
            # next, instead of the two taking turns at every chunk.
            cursor = connection.connection.driver_connection.cursor()
            opened = cursor.copy(f"COPY ledger_transactions ({', '.join(INSERT_COLUMNS)}) FROM STDIN")
            _streaming.copy = copy = (cursor, opened, opened.__enter__())
        write_row = copy[2].write_row
        for r in rows:
            if r[created_at] is None:
                r[created_at] = now
            write_row(r)
        return
    if dialect.name == "sqlite":
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy's SQLite DateTime stores it
        for r in rows:
            r[created_at] = r[created_at].strftime("%Y-%m-%d %H:%M:%S.%f") if r[created_at] else stamp
        # The driver's cursor straight away: exec_driver_sql would copy every row into a tuple first.
        connection.connection.driver_connection.executemany(
            f"INSERT INTO ledger_transactions ({', '.join(INSERT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in INSERT_COLUMNS)})", rows)
        return
    dicts = []
    for r in rows:
        d = dict(zip(INSERT_COLUMNS, r))
        d["posting_date"] = date.fromisoformat(d["posting_date"])
        d["created_at"] = d["created_at"] or now
        dicts.append(d)
    connection.execute(LedgerTransaction.__table__.insert(), dicts)


# The COPY a commit streams its ledger lines through: one commit runs in one thread (a request, an import
# thread or a queue job), so it is kept per thread.
_streaming = threading.local()


def end_ledger_rows(error: BaseException | None = None) -> None:
    """Finish the COPY that ``insert_ledger_rows`` left open (PostgreSQL), before the commit runs any other
    statement on its connection. The server's verdict on the lines (a clash, a value out of range) is raised
    here. With ``error`` (the commit failed part-way) the COPY is abandoned instead, so the transaction can be
    rolled back."""
    copy = getattr(_streaming, "copy", None)
    if copy is None:
        return
    _streaming.copy = None
    cursor, stream, _ = copy
    try:
        if error is None:
            stream.__exit__(None, None, None)
        else:
            stream.__exit__(type(error), error, error.__traceback__)
    finally:
        cursor.close()
