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
import queue
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
                  "match_method", "held_reason")
INSERT_COLUMNS = LEDGER_COLUMNS + ("import_batch_id", "created_at")
_DATE_AT = LEDGER_COLUMNS.index("posting_date")
PER_LINE = 1_000  # rows kept per record of the rows file (one list each: fewer, faster loads)


def db_state() -> list[int]:
    """What the checks depend on, in one query: [latest audit id, latest ledger line id, ledger lines], and the
    rows file's layout (its number of columns), so a draft checked by an older version is checked again."""
    row = db.session.execute(select(
        select(func.coalesce(func.max(AuditEvent.id), 0)).scalar_subquery(),
        select(func.coalesce(func.max(LedgerTransaction.id), 0)).scalar_subquery(),
        select(func.count(LedgerTransaction.id)).scalar_subquery())).one()
    return [int(v or 0) for v in row] + [len(LEDGER_COLUMNS)]


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
    datetime or None for now): COPY on PostgreSQL (sent by ``_CopySender``), the driver's executemany on SQLite,
    Core executemany elsewhere; never the ORM."""
    if not rows:
        return
    now = utcnow()
    created_at = len(INSERT_COLUMNS) - 1
    connection = db.session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        sender = getattr(_streaming, "sender", None)
        if sender is None:
            _streaming.sender = sender = _CopySender(connection.connection.driver_connection)
        sender.send(copy_text(rows, now), len(rows))
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


# COPY's text format: a backslash, tab, newline or carriage return inside a value is written as an escape.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"
_TABS = len(INSERT_COLUMNS) - 1
# The ids a line may lack (its year, commission, budget line, import): the only values of a line that may be None.
_NULLABLE = tuple(i for i, c in enumerate(INSERT_COLUMNS) if LedgerTransaction.__table__.c[c].nullable)


def copy_text(rows: list[list], now) -> bytes:
    """Ledger lines as the lines of PostgreSQL's COPY text format: values between tabs, \\N for none, text
    escaped, numbers and dates as their text, a missing created_at (the last value) as ``now``. The rows' lists
    are used up: their empty ids become \\N in place."""
    lines = []
    for r in rows:
        if r[-1] is None:
            r[-1] = now
        nulls = 0
        for i in _NULLABLE:
            if r[i] is None:
                r[i] = _NULL
                nulls += 1
        line = "\t".join(map(str, r))
        # Few values hold a character COPY reads specially: a line whose only backslashes are its \\N, whose only
        # tabs are its separators and with no "None" (another empty value, or the word in a text) is right as it
        # is: a few scans of the line in C, not a Python test of every value.
        if line.count("\\") != nulls or line.count("\t") != _TABS or "\n" in line or "\r" in line or "None" in line:
            line = "\t".join([v if v is _NULL and i in _NULLABLE else _NULL if v is None
                              else str(v).translate(_COPY_ESCAPES) for i, v in enumerate(r)])
        lines.append(line)
    lines.append("")
    return "\n".join(lines).encode("utf-8")


COPY_SQL = f"COPY ledger_transactions ({', '.join(INSERT_COLUMNS)}) FROM STDIN"


class _Abandoned(Exception):
    """The commit failed elsewhere: the COPY being sent is given up."""


LINES_PER_COPY = 20_000  # lines sent in one COPY statement before it ends and the server checks their keys


class _CopySender:
    """Sends a commit's ledger lines to PostgreSQL from a thread of its own, on the commit's connection and in its
    transaction: a COPY statement takes chunks until it holds ``LINES_PER_COPY`` lines, then ends, and the next
    takes the chunks after.

    Why: PostgreSQL indexes a line as it arrives but checks its foreign keys when its statement ends, on the
    server's own core. One COPY for the whole commit left every key check to the end (a second or more of
    waiting for 100,000 lines); a COPY per chunk sent from the committing thread made it wait for each chunk's
    checks in turn. Here the committing thread formats each chunk (``copy_text``) and goes on checking rows
    while this thread sends and waits. Statements are a few large ones, not one per chunk: between two, the
    server sits idle until this thread gets Python's lock back from the committing thread (up to a switch
    interval each time).

    The committing thread must not use the connection until ``close`` (``end_ledger_rows``) has returned."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.chunks: queue.Queue = queue.Queue(maxsize=4)  # bounded: memory stays flat if the server is slower
        self.error: BaseException | None = None
        self.abandoned = False
        self.thread = threading.Thread(target=self._run, name="ledger-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        chunks = self.chunks
        chunk = chunks.get()
        try:
            with self.connection.cursor() as cursor:
                while chunk is not None:
                    with cursor.copy(COPY_SQL) as copy:
                        lines = 0
                        while chunk is not None and lines < LINES_PER_COPY:
                            if self.abandoned:
                                raise _Abandoned  # ends the COPY with CopyFail: the server drops the statement
                            copy.write(chunk[0])
                            lines += chunk[1]
                            chunk = chunks.get()
                        if self.abandoned:
                            raise _Abandoned
        except BaseException as exc:  # noqa: BLE001 - handed to the committing thread
            self.error = exc
        while chunk is not None:  # failed or abandoned: take the remaining chunks without sending them
            chunk = chunks.get()

    def send(self, data: bytes, lines: int) -> None:
        if self.error is not None:
            raise self.error  # the server refused an earlier chunk: the commit fails now
        self.chunks.put((data, lines))

    def close(self, error: BaseException | None = None) -> None:
        """Wait until every chunk is in (the server's verdict on them is raised here), or with ``error`` (the commit
        failed part-way) drop the ones not yet sent."""
        self.abandoned = error is not None
        self.chunks.put(None)
        self.thread.join()
        if error is None and self.error is not None:
            raise self.error


# The sender a commit's ledger lines go through: one commit runs in one thread (a request, an import thread or
# a queue job), so it is kept per thread.
_streaming = threading.local()


def end_ledger_rows(error: BaseException | None = None) -> None:
    """Wait for the ledger lines sent to PostgreSQL, before the commit runs any other statement on its
    connection. The server's verdict on them (a clash, a value out of range) is raised here. With ``error``
    (the commit failed part-way) the lines not yet sent are dropped instead, so the transaction can be rolled
    back."""
    sender = getattr(_streaming, "sender", None)
    if sender is None:
        return
    _streaming.sender = None
    sender.close(error)
