"""The money figures every screen and return shares: allocation, committed, actual, by line, stream and strand.

One place for each rule, so the home page, the budget page and the PCC return cannot disagree. All
amounts are integer pence; each function runs a fixed, small number of queries whatever the data size.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Allocation, BudgetLine, Commission, FundingStream, FundingYear, LedgerTransaction, Strand

# A commission's value counts as committed once it has been awarded; before that it is only planned.
COMMITTED_STATUSES = ("awarded", "live", "ended")


def actual_by_line_and_quarter(year_id: int) -> dict[int | None, list[int]]:
    """Ledger spend per budget line (None: not yet assigned to a line) per quarter Q1-Q4, in pence."""
    rows = db.session.execute(
        select(LedgerTransaction.budget_line_id, LedgerTransaction.period, func.sum(LedgerTransaction.net_pence))
        .where(LedgerTransaction.funding_year_id == year_id)
        .group_by(LedgerTransaction.budget_line_id, LedgerTransaction.period)
    )
    out: dict[int | None, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for line_id, period, total in rows:
        out[line_id][(int(period) - 1) // 3] += int(total or 0)
    return dict(out)


def committed_by_line(year_id: int) -> dict[int | None, int]:
    """The value of awarded, live and ended commissions per budget line, in pence."""
    rows = db.session.execute(
        select(Commission.budget_line_id, func.sum(Commission.value_pence))
        .where(Commission.funding_year_id == year_id, Commission.status.in_(COMMITTED_STATUSES))
        .group_by(Commission.budget_line_id)
    )
    return {line_id: int(total or 0) for line_id, total in rows}


@dataclass
class Figures:
    """Allocation, budget, committed and actual for one stream or strand (or a total)."""

    name: str
    allocation: int = 0
    budget: int = 0
    committed: int = 0
    actual: int = 0
    actual_by_quarter: list[int] = field(default_factory=lambda: [0, 0, 0, 0])

    @property
    def remaining(self) -> int:
        """What is left of the allocation (or the budget, where no allocation applies) after actual spend."""
        return (self.allocation or self.budget) - self.actual

    @property
    def uncommitted(self) -> int:
        return (self.allocation or self.budget) - self.committed


@dataclass
class YearSummary:
    year: FundingYear
    streams: list[Figures]
    strands: list[Figures]
    total: Figures
    unassigned_actual: int


def year_summary(year: FundingYear) -> YearSummary:
    """Figures per stream and per strand for a funding year (five queries)."""
    lines = db.session.scalars(select(BudgetLine).where(BudgetLine.funding_year_id == year.id)).all()
    allocations = db.session.execute(
        select(Allocation.funding_stream_id, Allocation.revised_pence).where(Allocation.funding_year_id == year.id)
    ).all()
    stream_names = dict(db.session.execute(select(FundingStream.id, FundingStream.name)).all())
    strand_rows = db.session.execute(select(Strand.id, Strand.name).order_by(Strand.sort_order, Strand.name)).all()
    actual = actual_by_line_and_quarter(year.id)
    committed = committed_by_line(year.id)

    streams: dict[int, Figures] = {}
    for stream_id, revised in allocations:
        streams[stream_id] = Figures(stream_names.get(stream_id, "?"), allocation=int(revised))
    strands: dict[int, Figures] = {sid: Figures(name) for sid, name in strand_rows}
    for line in lines:
        spent = actual.get(line.id, [0, 0, 0, 0])
        for bucket in (
            streams.setdefault(line.funding_stream_id, Figures(stream_names.get(line.funding_stream_id, "?"))),
            strands.setdefault(line.strand_id, Figures("?")),
        ):
            bucket.budget += line.amount_pence
            bucket.committed += committed.get(line.id, 0)
            bucket.actual += sum(spent)
            bucket.actual_by_quarter = [a + b for a, b in zip(bucket.actual_by_quarter, spent)]
    stream_list = sorted(streams.values(), key=lambda f: f.name)
    strand_list = [f for f in strands.values() if f.budget or f.committed or f.actual]
    total = Figures("Total")
    for f in stream_list:
        total.allocation += f.allocation
        total.budget += f.budget
        total.committed += f.committed
        total.actual += f.actual
        total.actual_by_quarter = [a + b for a, b in zip(total.actual_by_quarter, f.actual_by_quarter)]
    unassigned = sum(actual.get(None, [0, 0, 0, 0]))
    total.actual += unassigned
    return YearSummary(year, stream_list, strand_list, total, unassigned)


def current_year(today=None) -> FundingYear | None:
    """The open year containing today, else the latest open year, else the latest year."""
    from datetime import date

    today = today or date.today()
    years = db.session.scalars(select(FundingYear).order_by(FundingYear.start_date.desc())).all()
    for y in years:
        if y.status == "open" and y.start_date <= today <= y.end_date:
            return y
    for y in years:
        if y.status == "open":
            return y
    return years[0] if years else None


# --- Profile, forecast outturn, variance and RAG --------------------------------------------------------
# The rules finance uses, in one place:
# - profile to date: the sum of the Q1-Q4 profile up to and including the reporting quarter;
# - forecast outturn: actual to date plus the profile of the quarters still to come (spend to plan from here);
# - variance: forecast outturn minus the budget (negative is an underspend, which is lost at 31 March);
# - variance to profile: actual to date minus profile to date, as pounds and as a percentage of profile to date;
# - RAG: green within the amber threshold, amber from it up to the red threshold, red beyond (settings).


def profile_to_date(profile: list[int], quarter: int) -> int:
    return sum(profile[:quarter])


def forecast_outturn(actual_to_date: int, profile: list[int], quarter: int) -> int:
    return actual_to_date + sum(profile[quarter:])


def rag(actual_to_date: int, profile_to_date_pence: int, amber_percent, red_percent) -> str:
    """'G', 'A' or 'R' for spend against profile. With no profile yet, any spend is amber, none is green."""
    from decimal import Decimal

    if profile_to_date_pence == 0:
        return "G" if actual_to_date == 0 else "A"
    off = abs(Decimal(actual_to_date - profile_to_date_pence)) * 100 / Decimal(profile_to_date_pence)
    if off > Decimal(red_percent):
        return "R"
    if off >= Decimal(amber_percent):
        return "A"
    return "G"


@dataclass
class LineFigures:
    """Everything the budget page and the return show for one budget line (or a roll-up of lines)."""

    name: str
    budget: int = 0
    original_budget: int = 0
    profile: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    actual_by_quarter: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    committed: int = 0
    quarter: int = 4
    rag: str = ""

    @property
    def actual_to_date(self) -> int:
        return sum(self.actual_by_quarter[: self.quarter])

    @property
    def profile_to_date(self) -> int:
        return profile_to_date(self.profile, self.quarter)

    @property
    def forecast(self) -> int:
        return forecast_outturn(self.actual_to_date, self.profile, self.quarter)

    @property
    def variance(self) -> int:
        return self.forecast - self.budget

    @property
    def variance_percent(self):
        from tracker.money import percent

        return percent(self.variance, self.budget)

    @property
    def profile_variance(self) -> int:
        return self.actual_to_date - self.profile_to_date

    @property
    def over_committed(self) -> bool:
        return self.committed > self.budget

    def add(self, other: "LineFigures") -> None:
        self.budget += other.budget
        self.original_budget += other.original_budget
        self.committed += other.committed
        self.profile = [a + b for a, b in zip(self.profile, other.profile)]
        self.actual_by_quarter = [a + b for a, b in zip(self.actual_by_quarter, other.actual_by_quarter)]


def line_figures(year: FundingYear, quarter: int = 4,
                 actual: dict[int | None, list[int]] | None = None) -> list[tuple[BudgetLine, LineFigures]]:
    """Figures for every budget line of a year, as at the end of ``quarter`` (a fixed number of queries).

    ``actual`` is ``actual_by_line_and_quarter(year.id)`` when the caller already has it (the return does)."""
    from sqlalchemy.orm import selectinload

    from tracker import settings

    thresholds = settings.get_many("rag_amber_percent", "rag_red_percent")
    lines = db.session.scalars(
        select(BudgetLine)
        .where(BudgetLine.funding_year_id == year.id)
        .options(selectinload(BudgetLine.funding_stream), selectinload(BudgetLine.category), selectinload(BudgetLine.strand))
        .order_by(BudgetLine.id)
    ).all()
    actual = actual if actual is not None else actual_by_line_and_quarter(year.id)
    committed = committed_by_line(year.id)
    out = []
    for line in lines:
        f = LineFigures(
            name=line.description or line.category.name, budget=line.amount_pence,
            original_budget=line.original_amount_pence, profile=list(line.profile),
            actual_by_quarter=list(actual.get(line.id, [0, 0, 0, 0])), committed=committed.get(line.id, 0),
            quarter=quarter,
        )
        f.rag = rag(f.actual_to_date, f.profile_to_date, thresholds["rag_amber_percent"], thresholds["rag_red_percent"])
        out.append((line, f))
    return out


def roll_up(pairs: list[tuple[BudgetLine, LineFigures]], key, name_of, quarter: int = 4) -> list[LineFigures]:
    """Sum line figures into groups (by stream, strand, category ...), with RAG worked out on the totals."""
    from tracker import settings

    thresholds = settings.get_many("rag_amber_percent", "rag_red_percent")
    groups: dict = {}
    for line, f in pairs:
        k = key(line)
        if k not in groups:
            groups[k] = LineFigures(name=name_of(line), quarter=quarter)
        groups[k].add(f)
    for g in groups.values():
        g.rag = rag(g.actual_to_date, g.profile_to_date, thresholds["rag_amber_percent"], thresholds["rag_red_percent"])
    return list(groups.values())


# --- For the quarterly return ------------------------------------------------------------------------------


def actual_by_line_commission_and_quarter(year_id: int) -> tuple[dict[int | None, list[int]], dict[int, list[int]]]:
    """Both ``actual_by_line_and_quarter`` and ``actual_by_commission_and_quarter`` from one pass over the ledger
    (the return needs both; on a big year the ledger scan is most of its time)."""
    rows = db.session.execute(
        select(LedgerTransaction.budget_line_id, LedgerTransaction.commission_id, LedgerTransaction.period,
               func.sum(LedgerTransaction.net_pence))
        .where(LedgerTransaction.funding_year_id == year_id)
        .group_by(LedgerTransaction.budget_line_id, LedgerTransaction.commission_id, LedgerTransaction.period)
    )
    by_line: dict[int | None, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    by_commission: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for line_id, commission_id, period, total in rows:
        q = (int(period) - 1) // 3
        by_line[line_id][q] += int(total or 0)
        if commission_id is not None:
            by_commission[commission_id][q] += int(total or 0)
    return dict(by_line), dict(by_commission)


def actual_by_commission_and_quarter(year_id: int) -> dict[int, list[int]]:
    """Ledger spend matched to each commission per quarter Q1-Q4 of a year, in pence (credits net off)."""
    rows = db.session.execute(
        select(LedgerTransaction.commission_id, LedgerTransaction.period, func.sum(LedgerTransaction.net_pence))
        .where(LedgerTransaction.funding_year_id == year_id, LedgerTransaction.commission_id.is_not(None))
        .group_by(LedgerTransaction.commission_id, LedgerTransaction.period)
    )
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for commission_id, period, total in rows:
        out[commission_id][(int(period) - 1) // 3] += int(total or 0)
    return dict(out)


def committed_value(value_pence: int, status: str) -> int:
    """What a commission commits of its budget: its value once awarded, nothing before (COMMITTED_STATUSES)."""
    return value_pence if status in COMMITTED_STATUSES else 0


def as_at_quarter(f: LineFigures) -> LineFigures:
    """The same figures with spend after the reporting quarter left out (a Q2 return made in October must not
    show October's spend)."""
    f.actual_by_quarter = [a if i < f.quarter else 0 for i, a in enumerate(f.actual_by_quarter)]
    return f


def with_rag(f: LineFigures) -> LineFigures:
    """Work out RAG on the figures as they stand (after summing or trimming)."""
    from tracker import settings

    thresholds = settings.get_many("rag_amber_percent", "rag_red_percent")
    f.rag = rag(f.actual_to_date, f.profile_to_date, thresholds["rag_amber_percent"], thresholds["rag_red_percent"])
    return f


def stream_figures(year: FundingYear, quarter: int,
                   pairs: list[tuple[BudgetLine, LineFigures]] | None = None) -> list[LineFigures]:
    """Per funding stream, as at the end of ``quarter``: the allocation (original and revised) stands in for the
    budget, so variance is forecast outturn against the revised allocation, the money the funder gives and
    takes back if unspent. A stream with budget lines but no allocation record is measured against its lines.
    Streams with an allocation and no lines are listed too (with nothing spent)."""
    pairs = pairs if pairs is not None else line_figures(year, quarter)
    allocations = {
        stream_id: (int(original), int(revised))
        for stream_id, original, revised in db.session.execute(
            select(Allocation.funding_stream_id, Allocation.original_pence, Allocation.revised_pence)
            .where(Allocation.funding_year_id == year.id)
        )
    }
    names = dict(db.session.execute(select(FundingStream.id, FundingStream.name)).all())
    groups: dict[int, LineFigures] = {}
    for line, f in pairs:
        g = groups.setdefault(line.funding_stream_id, LineFigures(name=names.get(line.funding_stream_id, "?"), quarter=quarter))
        g.add(f)
    for stream_id in allocations:
        groups.setdefault(stream_id, LineFigures(name=names.get(stream_id, "?"), quarter=quarter))
    for stream_id, g in groups.items():
        if stream_id in allocations:
            g.original_budget, g.budget = allocations[stream_id]
        as_at_quarter(g)
        with_rag(g)
    return sorted(groups.values(), key=lambda g: g.name)

