"""Checked ledger rows kept from the preview, so the commit need not read and check the file again, and the
bulk insert of ledger lines (Core executemany; COPY on PostgreSQL).

The preview writes every row it would add or change to ``rows-<token>.jsonl`` beside the draft, with the
database's state when it looked (``db_state``: the latest audit event, the latest ledger line and the number of
ledger lines). The commit reuses those rows only when the state is the same, which proves nothing that decides
a row (ledger lines already present, years, commissions, supplier and account rules, settings: every change to
them is audited) has changed since; otherwise it reads and checks the file again.
"""
from __future__ import annotations

import io
import json
import os
from datetime import date, datetime

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import AuditEvent, LedgerTransaction, utcnow

# The columns of an added ledger line, in the order the rows file keeps them.
LEDGER_COLUMNS = ("reference", "posting_date", "period", "funding_year_id", "cost_centre", "account_code",
                  "account_description", "supplier_id", "supplier_name", "invoice_number", "po_number", "narrative",
                  "net_pence", "vat_pence", "gross_pence", "transaction_type", "commission_id", "budget_line_id",
                  "match_method")
_DATE_AT = LEDGER_COLUMNS.index("posting_date")


def db_state() -> list[int]:
    """What the checks depend on, in one query: [latest audit id, latest ledger line id, ledger lines]."""
    row = db.session.execute(select(
        select(func.coalesce(func.max(AuditEvent.id), 0)).scalar_subquery(),
        select(func.coalesce(func.max(LedgerTransaction.id), 0)).scalar_subquery(),
        select(func.count(LedgerTransaction.id)).scalar_subquery())).one()
    return [int(v or 0) for v in row]


class RowsFile:
    """Writes the rows the preview would add or change, one JSON list per line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tmp = path + ".part"
        self.fh = open(self.tmp, "w", encoding="utf-8")
        self.dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def take(self, row) -> None:
        if row.action == "add":
            values = [row.data[c] for c in LEDGER_COLUMNS]
            values[_DATE_AT] = values[_DATE_AT].toordinal()
            self.fh.write(self.dumps(["a", row.row, row.money, values]))
            self.fh.write("\n")
        elif row.action == "changed":
            data = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.data.items()}
            self.fh.write(self.dumps(["c", row.row, row.money, row.existing_id, data]))
            self.fh.write("\n")

    def finish(self) -> None:
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        self.fh.close()
        try:
            os.remove(self.tmp)
        except OSError:
            pass


def replay(path: str, make_row):
    """The rows kept by ``RowsFile``, rebuilt with ``make_row(row_no, action, data, existing_id, money)``."""
    loads = json.loads
    from_ordinal = date.fromordinal
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            item = loads(line)
            if item[0] == "a":
                values = item[3]
                values[_DATE_AT] = from_ordinal(values[_DATE_AT])
                yield make_row(item[1], "add", dict(zip(LEDGER_COLUMNS, values)), None, item[2])
            else:
                data = item[4]
                if "posting_date" in data:
                    data["posting_date"] = date.fromisoformat(data["posting_date"])
                yield make_row(item[1], "changed", data, item[3], item[2])


_INSERT_COLUMNS = LEDGER_COLUMNS + ("import_batch_id", "created_at")


def insert_ledger_rows(rows: list[dict]) -> None:
    """Insert ledger lines in one statement: COPY on PostgreSQL, Core executemany elsewhere (not the ORM)."""
    if not rows:
        return
    now = utcnow()
    connection = db.session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY ledger_transactions ({', '.join(_INSERT_COLUMNS)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row([r.get(c) for c in LEDGER_COLUMNS] + [r.get("import_batch_id"),
                                                                         r.get("created_at") or now])
        return
    if connection.dialect.name == "sqlite":
        # The driver's executemany with plain tuples: dates as the ISO text SQLAlchemy's SQLite types store.
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        at = LEDGER_COLUMNS.index("posting_date")
        params = []
        for r in rows:
            values = [r.get(c) for c in LEDGER_COLUMNS]
            values[at] = values[at].isoformat()
            created = r.get("created_at")
            params.append((*values, r.get("import_batch_id"),
                           created.strftime("%Y-%m-%d %H:%M:%S.%f") if created else stamp))
        connection.exec_driver_sql(
            f"INSERT INTO ledger_transactions ({', '.join(_INSERT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _INSERT_COLUMNS)})", params)
        return
    for r in rows:
        r.setdefault("created_at", now)
    connection.execute(LedgerTransaction.__table__.insert(), rows)
