"""What a ledger file brings, gathered during the one analysis pass: a sample of rows as they will be stored,
the date range, matched against unmatched (by rule), and the money per funding year. The preview shows it, with a
warning when a year's spend would pass its allocation; the commit keeps the per-year figures on the batch so the
reconciliation can check each import against what it recorded."""
from __future__ import annotations

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Allocation, FundingYear, LedgerTransaction
from tracker.periods import label_for

SAMPLE_ROWS = 10
HELD_SHOWN = 200  # held lines listed one by one at the check; the counts and money cover them all
METHODS = {"po": "PO number", "supplier": "Supplier", "account": "Account code rule", "": "Unmatched"}


class LedgerSummary:
    """Fed every row the pass adds or changes (``take``); ``as_dict`` is JSON for the draft and the batch."""

    def __init__(self) -> None:
        self.sample: list[dict] = []
        self.first = self.last = None
        self.by_method: dict[str, list[int]] = {}
        self.years: dict[str, list[int]] = {}
        self.held: dict[str, list[int]] = {}
        self.held_lines: list[dict] = []

    def take(self, action: str, data: dict, money: int | None, warnings: list | None = None) -> None:
        posting = data.get("posting_date")
        if posting is None:
            return
        self.first = posting if self.first is None or posting < self.first else self.first
        self.last = posting if self.last is None or posting > self.last else self.last
        if action != "add":
            return
        pence = money or 0
        method = data.get("match_method", "")
        slot = self.by_method.setdefault(method if method in METHODS else "", [0, 0])
        slot[0] += 1
        slot[1] += pence
        year = self.years.setdefault(label_for(posting), [0, 0])
        year[0] += 1
        year[1] += pence
        if warnings:
            # Lines matched to a contract not yet awarded or dated outside it: they land held (matching.hold_for).
            held = self.held.setdefault(data.get("held_reason") or "", [0, 0])
            held[0] += 1
            held[1] += pence
            if len(self.held_lines) < HELD_SHOWN:
                self.held_lines.extend(warnings)
        if len(self.sample) < SAMPLE_ROWS:
            self.sample.append({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()
                                if k in ("reference", "posting_date", "period", "supplier_name", "account_code",
                                         "po_number", "narrative", "net_pence", "commission_id", "budget_line_id",
                                         "match_method", "held_reason")
                                and (k != "held_reason" or v)})  # said only of a line that is held

    def as_dict(self) -> dict:
        return {"sample": self.sample, "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None,
                "by_method": {m: {"lines": n, "pence": p} for m, (n, p) in self.by_method.items()},
                "years": {y: {"lines": n, "pence": p} for y, (n, p) in sorted(self.years.items())},
                "held": {r: {"lines": n, "pence": p} for r, (n, p) in self.held.items()},
                "held_lines": self.held_lines}


def year_warnings(summary: dict) -> list[str]:
    """A sentence for each year whose ledger spend, with the file's added lines, would exceed its allocations."""
    years = (summary or {}).get("years") or {}
    if not years:
        return []
    labels = list(years)
    found = {label: (yid, int(alloc or 0)) for label, yid, alloc in db.session.execute(
        select(FundingYear.label, FundingYear.id,
               select(func.coalesce(func.sum(Allocation.revised_pence), 0))
               .where(Allocation.funding_year_id == FundingYear.id).scalar_subquery())
        .where(FundingYear.label.in_(labels)))}
    spent = {yid: total for yid, total in db.session.execute(
        select(LedgerTransaction.funding_year_id, func.coalesce(func.sum(LedgerTransaction.net_pence), 0))
        .where(LedgerTransaction.funding_year_id.in_([v[0] for v in found.values()]))
        .group_by(LedgerTransaction.funding_year_id))}
    from tracker.money import format_pence

    out = []
    for label in labels:
        if label not in found:
            continue
        year_id, allocation = found[label]
        after = int(spent.get(year_id, 0) or 0) + years[label]["pence"]
        if after > allocation:
            out.append(f"With this file, spend in {label} would be {format_pence(after)}, "
                       f"{format_pence(after - allocation)} more than the year's allocations of "
                       f"{format_pence(allocation)}.")
    return out


def commission_references(ids) -> dict[int, str]:
    from tracker.models import Commission

    ids = [i for i in set(ids) if i]
    if not ids:
        return {}
    return {i: r for i, r in db.session.execute(select(Commission.id, Commission.reference)
                                                .where(Commission.id.in_(ids)))}
