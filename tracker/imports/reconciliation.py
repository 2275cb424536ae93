"""The month-end reconciliation of the ledger for a funding year (or one quarter of it), worked from the ledger lines
alone: ledger total = on a commission + on a budget line only + unassigned, per funding stream and per account
code; and each ledger import's lines now against what it recorded when it was committed.

Sums (all of ``ledger_transactions.net_pence``, credits negative, for lines whose ``funding_year_id`` is the year
and whose ``posting_date`` is in the quarter when one is chosen):
- on a commission: ``commission_id`` set;
- on a budget line only: no ``commission_id``, ``budget_line_id`` set;
- unassigned: neither;
- the stream is the budget line's stream; a line on no budget line is in the row "Not on a budget line";
- a line on a contract is in the stream of the contract's share it pays for, apportioned across the shares of a
  contract split across budget lines as every figure is (``figures.route_spend``); it counts once, in the stream that
  took the largest part of it.
Imports are checked for the whole year: a batch's lines now (by ``import_batch_id``) against the lines and money it
recorded as added in that year (``counts["years"]``, kept since issue 18; older batches: its added count and money).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from tracker import figures
from tracker.extensions import db
from tracker.funding.rules import choose_quarter, choose_year
from tracker.models import BudgetLine, Commission, FundingStream, FundingYear, ImportBatch, LedgerTransaction
from tracker.periods import QUARTER_NAMES, quarter_bounds, year_bounds

NOT_ON_A_LINE = "Not on a budget line"
COMMISSION, LINE_ONLY, UNASSIGNED = "commission", "line", "unassigned"
_ATTR = {COMMISSION: "commission", LINE_ONLY: "line_only", UNASSIGNED: "unassigned"}


class ReconciliationError(ValueError):
    """A year or quarter in the address that cannot be used; the message says why."""


@dataclass
class Row:
    name: str
    commission: int = 0
    line_only: int = 0
    unassigned: int = 0
    lines: int = 0

    @property
    def total(self) -> int:
        return self.commission + self.line_only + self.unassigned

    def add(self, kind: str, pence: int, count: int) -> None:
        attr = _ATTR[kind]
        setattr(self, attr, getattr(self, attr) + pence)
        self.lines += count


@dataclass
class ImportCheck:
    batch: ImportBatch
    recorded_lines: int
    recorded_pence: int
    lines_now: int
    pence_now: int

    @property
    def difference(self) -> int:
        expected = 0 if self.batch.status == "withdrawn" else self.recorded_pence
        return self.pence_now - expected

    @property
    def totals_row_check(self) -> str:
        counts = self.batch.counts or {}
        row, rows = counts.get("totals_row_pence"), counts.get("file_pence")
        if row is None or rows is None:
            return ""
        return "matches" if row == rows else "differs"


@dataclass
class Reconciliation:
    year: FundingYear
    quarter: int | None
    start: date
    end: date
    total: Row
    streams: list[Row] = field(default_factory=list)
    accounts: list[Row] = field(default_factory=list)
    imports: list[ImportCheck] = field(default_factory=list)
    #: Contracts split across budget lines: how their spend was apportioned (``apportioned``).
    apportioned: list = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.year.label} {QUARTER_NAMES[self.quarter]}" if self.quarter else f"{self.year.label}, the whole year"

    @property
    def balances(self) -> bool:
        """Every table adds up to the ledger total, to the penny."""
        return all(sum(r.total for r in rows) == self.total.total and sum(r.lines for r in rows) == self.total.lines
                   for rows in (self.streams, self.accounts))


def choose(args) -> tuple[FundingYear, int | None]:
    """The year (``choose_year``: the current one by default; a bad one is the usual 4xx) and the quarter
    (blank or ``all``: the whole year; a bad one is the usual 400)."""
    year = choose_year(args)
    if year is None:
        raise ReconciliationError("There is no funding year yet; set one up first.")
    whole_year = (args.get("quarter") or "").strip().lower() == "all"
    return year, None if whole_year else choose_quarter(args, default=None)


def reconcile(year: FundingYear, quarter: int | None = None) -> Reconciliation:
    """The reconciliation in a fixed number of queries, whatever the number of lines."""
    start, end = quarter_bounds(year.label, quarter) if quarter else year_bounds(year.label)
    t = LedgerTransaction
    kind = case((t.commission_id.is_not(None), COMMISSION), (t.budget_line_id.is_not(None), LINE_ONLY),
                else_=UNASSIGNED)
    stream_of = dict(db.session.execute(
        select(BudgetLine.id, FundingStream.name).join(FundingStream, FundingStream.id == BudgetLine.funding_stream_id)
        .where(BudgetLine.funding_year_id == year.id)).all())
    shares = figures.year_share_map(year.id)
    in_period = (t.posting_date.between(start, end),)
    total = Row("Ledger total")
    streams: dict[str, Row] = {}
    accounts: dict[str, Row] = {}
    # A contract's spend is in the streams of the shares it pays for (figures.route_spend), as every figure is.
    for line_id, _commission, account, k, pence, count in figures.year_spend(year.id, shares, t.account_code, kind,
                                                                            where=in_period):
        total.add(k, pence, count)
        stream = stream_of.get(line_id) or NOT_ON_A_LINE
        streams.setdefault(stream, Row(stream)).add(k, pence, count)
        accounts.setdefault(account or "(no account code)", Row(account or "(no account code)")).add(k, pence, count)
    stream_rows = sorted((r for r in streams.values() if r.name != NOT_ON_A_LINE), key=lambda r: r.name.lower())
    if NOT_ON_A_LINE in streams:
        stream_rows.append(streams[NOT_ON_A_LINE])
    result = Reconciliation(year, quarter, start, end, total, stream_rows,
                            sorted(accounts.values(), key=lambda r: r.name.lower()))
    result.imports = import_checks(year)
    result.apportioned = apportioned(year, shares, in_period)
    return result


@dataclass
class SharePaid:
    """One share of a contract split across budget lines, and the spend routed to it."""

    line: str
    stream: str
    amount: int
    paid: int


@dataclass
class Apportioned:
    """A contract split across budget lines, and how its spend in the period was routed to its shares."""

    commission: Commission
    shares: list[SharePaid]

    @property
    def paid(self) -> int:
        return sum(s.paid for s in self.shares)


def apportioned(year: FundingYear, shares=None, where=()) -> list[Apportioned]:
    """Every contract split across budget lines with spend in the year (or period), share by share
    (``figures.apportioned_contracts``): a few queries."""
    routed = figures.apportioned_contracts(year.id, shares, where)
    if not routed:
        return []
    lines = {line.id: line for line in db.session.scalars(
        select(BudgetLine).where(BudgetLine.id.in_({l for rows in routed.values() for l, _, _ in rows if l}))
        .options(selectinload(BudgetLine.funding_stream), selectinload(BudgetLine.category)))}
    contracts = {c.id: c for c in db.session.scalars(select(Commission).where(Commission.id.in_(list(routed))))}
    out = []
    for cid, rows in routed.items():
        out.append(Apportioned(contracts[cid], [
            SharePaid(lines[l].name if l in lines else NOT_ON_A_LINE,
                      lines[l].funding_stream.name if l in lines else "", amount, paid) for l, amount, paid in rows]))
    return sorted(out, key=lambda a: a.commission.reference)


def import_checks(year: FundingYear) -> list[ImportCheck]:
    """Each committed or withdrawn ledger import that recorded lines in the year, or has lines in it now."""
    t = LedgerTransaction
    now = {bid: (n, int(p or 0)) for bid, n, p in db.session.execute(
        select(t.import_batch_id, func.count(t.id), func.coalesce(func.sum(t.net_pence), 0))
        .where(t.funding_year_id == year.id, t.import_batch_id.is_not(None)).group_by(t.import_batch_id))}
    out = []
    batches = db.session.scalars(select(ImportBatch).where(ImportBatch.kind == "ledger",
                                                           ImportBatch.status.in_(("committed", "withdrawn")))
                                 .order_by(ImportBatch.id))
    for batch in batches:
        counts = batch.counts or {}
        years = counts.get("years")
        if years is not None:
            recorded = years.get(year.label)
            if recorded is None and batch.id not in now:
                continue
            rec_lines, rec_pence = (recorded or {}).get("lines", 0), (recorded or {}).get("pence", 0)
        else:  # committed before the per-year record: the whole batch
            if batch.id not in now:
                continue
            rec_lines = counts.get("add", 0)
            rec_pence = counts.get("import_pence", 0) if not counts.get("changed") else now[batch.id][1]
        lines_now, pence_now = now.get(batch.id, (0, 0))
        out.append(ImportCheck(batch, rec_lines, rec_pence, lines_now, pence_now))
    return out


def columns():
    from tracker.returns.builder import MONEY, NUMBER, TEXT, Column

    return [Column("section", "Section", TEXT, 16), Column("item", "Item", TEXT, 40),
            Column("commission", "On a commission", MONEY), Column("line_only", "On a budget line only", MONEY),
            Column("unassigned", "Unassigned", MONEY), Column("total", "Total", MONEY),
            Column("lines", "Lines", NUMBER, 8), Column("recorded", "Recorded at import", MONEY),
            Column("difference", "Difference", MONEY), Column("note", "Note", TEXT, 50)]


def rows_for_download(r: Reconciliation):
    """The report as rows for ``export_rows`` (money in pence)."""
    yield ["Ledger", r.title, r.total.commission, r.total.line_only, r.total.unassigned, r.total.total,
           r.total.lines, None, None, "balances" if r.balances else "DOES NOT BALANCE"]
    for section, rows in (("Funding stream", r.streams), ("Account code", r.accounts)):
        for row in rows:
            yield [section, row.name, row.commission, row.line_only, row.unassigned, row.total, row.lines,
                   None, None, ""]
        yield [section, "Total", sum(x.commission for x in rows), sum(x.line_only for x in rows),
               sum(x.unassigned for x in rows), sum(x.total for x in rows), sum(x.lines for x in rows), None, None,
               ""]
    for c in r.imports:
        b = c.batch
        note = f"{b.status}; {b.counts.get('add', 0)} added, {b.counts.get('changed', 0)} changed in the file"
        if c.totals_row_check:
            note += f"; file's totals row {c.totals_row_check} its rows"
        if b.status == "withdrawn":
            note += f"; withdrawn {b.withdrawn_at:%d/%m/%Y}" if b.withdrawn_at else "; withdrawn"
        yield ["Import", f"{b.id}: {b.filename}", None, None, None, c.pence_now, c.lines_now, c.recorded_pence,
               c.difference, note]
