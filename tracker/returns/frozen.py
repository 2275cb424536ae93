"""An issued return's cover, tables and notes kept as JSON when it is issued, and read back for its on-screen view.

The view of an issued return is read from here, never recomputed from live data, so it shows what the frozen file
says even after the ledger, the budget or a contract has changed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tracker.returns.builder import DATE, PERCENT, Column, ReturnData, Table, TotalRow

FORMAT = 1


def _out(value):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _in(column: Column, value):
    if value is None:
        return None
    if column.kind == DATE and isinstance(value, str):
        return date.fromisoformat(value[:10])
    if column.kind == PERCENT:
        return Decimal(str(value))
    return value


def freeze(data: ReturnData) -> str:
    """The return as JSON: what the workbook holds, cell for cell (money in pence)."""
    return json.dumps({
        "format": FORMAT,
        "title": data.title,
        "cover": [[label, _out(value)] for label, value in data.cover()],
        "guide": [list(pair) for pair in data.guide()],
        "narrative": data.narrative,
        "tables": [{
            "sheet": t.sheet, "title": t.title, "explanation": t.explanation, "empty_message": t.empty_message,
            "columns": [{"key": c.key, "heading": c.heading, "kind": c.kind, "width": c.width, "total": c.total,
                         "ratio_of": list(c.ratio_of) if c.ratio_of else None} for c in t.columns],
            "rows": [[_out(v) for v in row] for row in t.rows],
            "totals": [{"label": x.label, "values": {k: _out(v) for k, v in x.values.items()},
                        "match": list(x.match) if x.match else None} for x in t.totals],
        } for t in data.tables],
    }, ensure_ascii=False, separators=(",", ":"))


@dataclass
class FrozenReturn:
    """What an issued return said: its cover (label, value), guide to the sheets, tables and notes."""

    title: str
    cover: list[tuple[str, object]]
    guide: list[tuple[str, str]]
    tables: list[Table]
    narrative: str

    def table(self, sheet: str) -> Table | None:
        return next((t for t in self.tables if t.sheet == sheet), None)


def thaw(text: str) -> FrozenReturn | None:
    """The frozen return, or None for a return issued before figures were kept."""
    if not text:
        return None
    raw = json.loads(text)
    tables = []
    for t in raw["tables"]:
        columns = [Column(c["key"], c["heading"], c["kind"], c["width"], c["total"],
                          tuple(c["ratio_of"]) if c["ratio_of"] else None) for c in t["columns"]]
        by_key = {c.key: c for c in columns}
        rows = [[_in(c, v) for c, v in zip(columns, row)] for row in t["rows"]]
        totals = [TotalRow(x["label"], {k: _in(by_key[k], v) if k in by_key else v for k, v in x["values"].items()},
                           tuple(x["match"]) if x["match"] else None) for x in t["totals"]]
        tables.append(Table(t["sheet"], t["title"], t["explanation"], columns, rows, totals, t["empty_message"]))
    return FrozenReturn(raw["title"], [tuple(p) for p in raw["cover"]], [tuple(p) for p in raw["guide"]], tables,
                        raw["narrative"])
