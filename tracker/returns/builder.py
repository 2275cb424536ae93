"""Build the quarterly return to the PCC as plain data: the one structure both the HTML preview and the workbook
writer read, so what the page shows and what the file says cannot disagree.

Every figure comes from tracker.figures (the one place for the money rules); this module only arranges them
into tables. Money is integer pence throughout; the writers format it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from tracker import figures, settings
from tracker.extensions import db
from tracker.models import Commission, FundingStream, FundingYear, Milestone, PccReturn, Provider, Strand
from tracker.periods import QUARTER_NAMES, quarter_bounds

# Column kinds: how a value is shown on screen and in the workbook.
TEXT, MONEY, PERCENT, DATE, NUMBER, RAG = "text", "money", "percent", "date", "number", "rag"


@dataclass(frozen=True)
class Column:
    """One column of a table: its heading in plain words, what kind of value it holds, and how its total works.

    ``total`` is ``"sum"`` (a SUM formula over the column), ``"ratio"`` (variance over budget: the columns
    named in ``ratio_of``), ``"value"`` (the figure worked out here, e.g. RAG on the totals) or None.
    """

    key: str
    heading: str
    kind: str = TEXT
    width: int = 14
    total: str | None = None
    ratio_of: tuple[str, str] | None = None


@dataclass
class TotalRow:
    """A totals row: ``values`` holds what each column's total is (the cached value of its formula).

    ``match`` limits the sum to rows whose ``match[0]`` column equals ``match[1]`` (a SUMIF), e.g. labour only.
    """

    label: str
    values: dict[str, object]
    match: tuple[str, str] | None = None


@dataclass
class Table:
    """One sheet of figures: a title, a sentence saying what it shows, columns, rows and totals rows."""

    sheet: str
    title: str
    explanation: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    totals: list[TotalRow] = field(default_factory=list)
    empty_message: str = "Nothing to show."

    def column_index(self, key: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == key)


@dataclass
class ReturnData:
    """Everything in one return: the cover facts, the tables, and the narrative."""

    year: FundingYear
    quarter: int
    quarter_start: date
    quarter_end: date
    vru_name: str
    pcc_name: str
    version: int
    status: str
    prepared_by: str
    issued_by: str
    issued_at: datetime | None
    generated_at: datetime
    narrative: str
    tables: list[Table]
    #: Why this version corrects the one before (versions 2 and later).
    correction_reason: str = ""
    #: The figures the tables came from (not kept when the return is frozen).
    figures: object = None

    @property
    def title(self) -> str:
        return f"Quarterly return to the PCC: {self.year.label} {QUARTER_NAMES[self.quarter]}"

    @property
    def quarter_name(self) -> str:
        return QUARTER_NAMES[self.quarter]

    def table(self, sheet: str) -> Table:
        return next(t for t in self.tables if t.sheet == sheet)

    def cover(self) -> list[tuple[str, object]]:
        """The cover sheet's facts, in order (label, value)."""
        return [
            ("Violence Reduction Unit", self.vru_name),
            ("Return to", self.pcc_name),
            ("Funding year", self.year.label),
            ("Quarter", self.quarter_name),
            ("Period covered", f"{self.quarter_start:%d/%m/%Y} to {self.quarter_end:%d/%m/%Y}"),
            ("Figures to date", f"{self.year.start_date:%d/%m/%Y} to {self.quarter_end:%d/%m/%Y}"),
            ("Prepared by", self.prepared_by or "-"),
            ("Issued by", self.issued_by or "-"),
            ("Date issued", self.issued_at.strftime("%d/%m/%Y %H:%M") if self.issued_at else "Not issued"),
            ("Version", self.version),
            *([("Reason for correction", self.correction_reason or "-")] if self.version > 1 else []),
            ("Status", "Issued" if self.status == "issued" else "Draft: not issued, figures may change"),
        ]

    def guide(self) -> list[tuple[str, str]]:
        """A line on each sheet for the cover."""
        return [(t.sheet, t.explanation) for t in self.tables] + [
            ("Notes", "The unit's narrative on risks and underspend this quarter."),
        ]


def monitoring_outputs(year: FundingYear, quarter: int) -> list[list]:
    """The commissions' measures, targets and actuals kept by delivery monitoring."""
    from tracker.monitoring.service import return_output_rows

    return return_output_rows(year, quarter)


def _money_columns(first: list[Column], budget_words: str) -> list[Column]:
    """The figures of a summary table. The quarter-by-quarter profile and spend are a sheet of their own, so
    this one prints one page wide at a size people can read."""
    return list(first) + [
        Column("original", f"{budget_words} (original)", MONEY, 13, "sum"),
        Column("revised", f"{budget_words} (revised)", MONEY, 13, "sum"),
        Column("profile_to_date", "Profile to date", MONEY, 13, "sum"),
        Column("actual_to_date", "Actual to date", MONEY, 13, "sum"),
        Column("committed", "Committed", MONEY, 13, "sum"),
        Column("outstanding", "Outstanding commitment", MONEY, 13, "sum"),
        Column("planned", "Planned, not contracted", MONEY, 13, "sum"),
        Column("forecast", "Forecast outturn", MONEY, 13, "sum"),
        Column("movement", "Forecast movement since the last return", MONEY, 13, "sum"),
        # "against allocation" (streams) or "against budget" (categories): two different totals, never one label.
        Column("variance", f"Variance against {budget_words.lower()} (£)", MONEY, 13, "sum"),
        Column("variance_percent", f"Variance against {budget_words.lower()} (%)", PERCENT, 10, "ratio",
               ("variance", "revised")),
        Column("rag", "RAG", RAG, 8, "value"),
    ]


def _quarter_columns(first: list[Column]) -> list[Column]:
    cols = list(first)
    cols += [Column(f"profile_q{q}", f"Q{q} profile", MONEY, 13, "sum") for q in range(1, 5)]
    cols += [Column(f"actual_q{q}", f"Q{q} actual", MONEY, 13, "sum") for q in range(1, 5)]
    return cols + [Column("actual_to_date", "Actual to date", MONEY, 13, "sum")]


def _money_values(f: figures.Figures) -> dict:
    """A row's money by column key, as at the quarter end; the budget columns hold the allocation for a stream
    (what its variance is measured against) and the budget otherwise. Quarters after the return's are blank."""
    if f.allocation is not None:
        original, revised = f.original_allocation or 0, f.allocation
    else:
        original, revised = f.original_budget, f.budget
    values = {"original": original, "revised": revised, "profile_to_date": f.profile_to_date,
              "actual_to_date": f.actual_to_date, "committed": f.committed, "outstanding": f.outstanding,
              "planned": f.planned, "forecast": f.forecast, "movement": f.movement, "variance": f.variance,
              "variance_percent": f.variance_percent, "rag": f.rag}
    for q in range(1, 5):
        values[f"profile_q{q}"] = f.profile[q - 1]
        values[f"actual_q{q}"] = f.actual_by_quarter[q - 1] if q <= f.quarter else None
    return values


def _row(columns: list[Column], first: list, f: figures.Figures) -> list:
    values = _money_values(f)
    return list(first) + [values[c.key] for c in columns[len(first):]]


def _figures_total(label: str, parts: list[figures.Figures], quarter: int, columns: list[Column],
                   match: tuple[str, str] | None = None) -> TotalRow:
    values = _money_values(figures.table_total(parts, quarter, label))
    keys = {c.key for c in columns if c.kind in (MONEY, PERCENT, RAG)}
    # A column left blank in every row (quarters to come; movement before any return) stays blank in the total.
    return TotalRow(label, {k: v for k, v in values.items() if k in keys}, match)


UNASSIGNED = figures.NOT_ON_A_LINE
CONTRACTED, PIPELINE = "Contracted", "Pipeline"


def summary_table(yf: figures.YearFigures) -> Table:
    quarter = yf.quarter
    columns = _money_columns([Column("name", "Funding stream", TEXT, 30)], "Allocation")
    streams = figures.with_not_on_a_line(yf.streams, yf)
    table = Table(
        "Summary by funding stream", "Summary by funding stream",
        "Allocation, profile, actual spend, commitments and forecast outturn for each funding stream, as at the end of "
        "the quarter. Forecast outturn is actual to date plus commitments not yet paid plus spend planned but not yet "
        "contracted; variance is forecast outturn minus the revised allocation (negative is an underspend). Forecast "
        "movement is the change since the forecast stated in the last return issued for the year (blank before the "
        f"first). “{figures.NOT_ON_A_LINE}” is spend and contract shares not yet put on a budget line.",
        columns, empty_message="No funding streams or budget lines in this year yet.",
    )
    table.rows = [_row(columns, [f.name], f) for f in streams]
    table.totals = [_figures_total("Total", streams, quarter, columns)]
    return table


def quarterly_table(yf: figures.YearFigures) -> Table:
    """Each stream's profile and actual spend quarter by quarter (quarters after the return's are blank)."""
    quarter = yf.quarter
    columns = _quarter_columns([Column("name", "Funding stream", TEXT, 30)])
    streams = figures.with_not_on_a_line(yf.streams, yf)
    table = Table(
        "Quarterly profile and spend", "Profile and actual spend by quarter",
        "Each funding stream's profile (planned spend) and actual spend quarter by quarter; quarters after this "
        "return's are left blank.",
        columns, empty_message="No funding streams or budget lines in this year yet.",
    )
    table.rows = [_row(columns, [f.name], f) for f in streams]
    table.totals = [_figures_total("Total", streams, quarter, columns)]
    return table


def category_table(yf: figures.YearFigures) -> Table:
    quarter = yf.quarter
    columns = _money_columns(
        [Column("name", "Category", TEXT, 26), Column("labour", "Labour or non-labour", TEXT, 11)], "Budget")
    rows, by_kind = [], {"Labour": [], "Non-labour": []}
    for g in yf.categories:
        kind = "Labour" if g.key[-1] else "Non-labour"
        by_kind[kind].append(g)
        rows.append(_row(columns, [g.name, kind], g))
    loose = [yf.not_on_a_line] if yf.not_on_a_line else []
    for f in loose:
        rows.append(_row(columns, [f.name, "Not assigned"], f))
    table = Table(
        "Expenditure by category", "Expenditure by category",
        "The budget lines added up by category, labour (staff costs) first, then non-labour. Variance is "
        "forecast outturn minus the revised budget.",
        columns, rows, empty_message="No budget lines in this year yet.",
    )
    table.totals = [
        _figures_total("Labour total", by_kind["Labour"], quarter, columns, ("labour", "Labour")),
        _figures_total("Non-labour total", by_kind["Non-labour"], quarter, columns, ("labour", "Non-labour")),
        _figures_total("Total", by_kind["Labour"] + by_kind["Non-labour"] + loose, quarter, columns),
    ]
    return table


def commissions_table(yf: figures.YearFigures) -> Table:
    """One row per contract share in the year: what it commits, what was paid, what remains, and the contract's
    status as at the quarter end. A terminated contract shows what was paid and nothing remaining."""
    columns = [
        Column("reference", "Reference", TEXT, 12), Column("service", "Service", TEXT, 30),
        Column("provider", "Provider", TEXT, 22), Column("strand", "Strand", TEXT, 18),
        Column("stream", "Funding stream", TEXT, 18), Column("value", "Share of the year", MONEY, 13, "sum"),
        Column("paid_quarter", "Paid this quarter", MONEY, 13, "sum"),
        Column("paid_to_date", "Paid to date", MONEY, 13, "sum"), Column("committed", "Committed", MONEY, 13, "sum"),
        Column("remaining", "Remaining", MONEY, 13, "sum"), Column("start", "Start", DATE, 11),
        Column("end", "End", DATE, 11), Column("status", "Status at quarter end", TEXT, 12),
        Column("stage", "Contracted or pipeline", TEXT, 12),
    ]
    ids = {s.share.commission_id for s in yf.shares}
    # Plain columns in one joined query: the biggest table in the return, so no more ORM objects are built.
    facts = {row[0]: row[1:] for row in db.session.execute(
        select(Commission.id, Commission.reference, Commission.title, Provider.name, Strand.name,
               Commission.start_date, Commission.end_date)
        .join(Provider, Commission.provider_id == Provider.id)
        .join(Strand, Commission.strand_id == Strand.id)
        .where(Commission.id.in_(ids or [0])))}
    stream_names = dict(db.session.execute(select(FundingStream.id, FundingStream.name)).all())
    rows = []
    for s in sorted(yf.shares, key=lambda s: (facts[s.share.commission_id][0], s.share.id)):
        reference, title, provider, strand, start, end = facts[s.share.commission_id]
        then = yf.facts_then.get(s.share.commission_id, {})  # dates as at the quarter end, where changed since
        start, end = then.get("start_date", start), then.get("end_date", end)
        rows.append([reference, title, provider, strand, stream_names.get(s.share.funding_stream_id, ""),
                     s.share.amount_pence, s.paid_this_quarter, s.paid_to_date, s.committed, s.remaining,
                     start, end, s.status.capitalize(), CONTRACTED if s.contracted else PIPELINE])
    table = Table(
        "Commissioned services", "Commissioned services",
        "Each contract's share of the year's money, one row per budget line it is paid from. Paid figures are "
        "ledger spend matched to it, credits netted off; committed is the share once awarded (for a terminated "
        "contract, what was paid); remaining is the share less paid to date, and nothing once terminated. Status "
        "is as at the end of the quarter. Contracted services (awarded, live, ended or terminated) are totalled "
        "apart from the pipeline (not yet awarded), which commits nothing.",
        columns, rows, empty_message="No commissioned services in this year yet.",
    )

    def sums(stage=None) -> dict:
        return {c.key: sum(r[i] for r in rows if stage is None or r[-1] == stage)
                for i, c in enumerate(columns) if c.total == "sum"}

    table.totals = [TotalRow("Contracted total", sums(CONTRACTED), ("stage", CONTRACTED)),
                    TotalRow("Pipeline total", sums(PIPELINE), ("stage", PIPELINE)),
                    TotalRow("Total", sums())]
    return table


def conditions_table(yf: figures.YearFigures) -> Table:
    """Each grant condition of the year with its status and shortfall (tracker.claims: the rules live there)."""
    from tracker.claims.service import year_conditions

    columns = [
        Column("stream", "Funding stream", TEXT, 26), Column("condition", "Condition", TEXT, 44),
        Column("required", "Required", MONEY, 14), Column("budget", "On budget (pledged)", MONEY, 14),
        Column("forecast", "On forecast (evidenced)", MONEY, 14), Column("status", "Status", TEXT, 10),
        Column("shortfall", "Shortfall", MONEY, 14),
    ]
    rows = [[r.condition.funding_stream.name, r.wording, r.assessment.required, r.assessment.on_budget,
             r.assessment.on_forecast, r.assessment.words, r.assessment.shortfall] for r in year_conditions(yf.year, yf)]
    return Table("Grant conditions", "Grant conditions",
                 "Each condition of the grants: met when met on budget and on forecast outturn, at risk when met on "
                 "budget but not on forecast, not met otherwise. Match funding counts evidenced money; pledged money "
                 "is shown as the budget figure. A ring fence is two rows, labour and non-labour, each on its own "
                 "figures: Required is the most that side may have, the shortfall how far it goes over. The "
                 "shortfall is in pounds.",
                 columns, rows, empty_message="No grant conditions are recorded for this year.")


def outputs_table(year: FundingYear, quarter: int) -> Table:
    columns = [
        Column("metric", "Output", TEXT, 30), Column("commission", "Commissioned service", TEXT, 16),
        Column("target_quarter", "Target this quarter", NUMBER, 12), Column("this_quarter", "This quarter", NUMBER, 12),
        Column("target_to_date", "Target to date", NUMBER, 12), Column("to_date", "To date", NUMBER, 12),
        Column("rag", "RAG to date", RAG, 10),
    ]
    rows = monitoring_outputs(year, quarter)
    return Table("Outputs", "Outputs",
                 "What each commissioned service delivered against its targets: this quarter, and from Q1 to this "
                 "quarter (blank: nothing recorded yet). RAG compares the total to date with the target to date.",
                 columns, rows, empty_message="No commissioned service in this year has outputs to report yet.")


def milestones_table(year: FundingYear, quarter: int, quarter_end: date) -> Table:
    columns = [
        Column("due", "Due", DATE, 11), Column("title", "Milestone", TEXT, 34), Column("programme", "Programme", TEXT, 18),
        Column("owner", "Owner", TEXT, 18), Column("status", "Status", TEXT, 12), Column("done", "Done on", DATE, 11),
        Column("evidence", "Evidence", TEXT, 34), Column("link", "Evidence link", TEXT, 24),
        Column("commission", "Commissioned service", TEXT, 16),
    ]
    milestones = db.session.scalars(
        select(Milestone)
        .where(Milestone.due_date <= quarter_end,
               or_(Milestone.funding_year_id == year.id,
                   and_(Milestone.funding_year_id.is_(None), Milestone.due_date >= year.start_date)))
        .options(selectinload(Milestone.owner), selectinload(Milestone.commission))
        .order_by(Milestone.due_date, Milestone.title)
    ).all()
    # An event (a contract ends) has no status of its own: only tasks are done, missed or overdue.
    rows = [[m.due_date, m.title, m.programme, m.owner.name if m.owner else "", "Event" if m.is_event else m.status.capitalize(),
             m.completed_date, m.evidence, m.evidence_link, m.commission.reference if m.commission else ""]
            for m in milestones]
    return Table("Milestones", "Milestones due to date",
                 "Every milestone of the year due by the end of the quarter, with its status and evidence.",
                 columns, rows, empty_message="No milestones were due by the end of the quarter.")


def build_return(year: FundingYear, quarter: int, record: PccReturn | None = None,
                 generated_at: datetime | None = None) -> ReturnData:
    """The whole return for ``year`` and ``quarter`` (figures as at the quarter's end).

    ``record`` (a draft or issued PccReturn) supplies the narrative, version, status and people; without it
    the return is an unsaved draft, version 1 or the next after the last issue.
    """
    from tracker.models.base import utcnow

    if quarter not in (1, 2, 3, 4):
        raise ValueError("quarter must be 1 to 4")
    start, end = quarter_bounds(year.label, quarter)
    names = settings.get_many("vru_name", "pcc_name")
    yf = figures.year_figures(year, quarter)
    tables = [
        summary_table(yf),
        quarterly_table(yf),
        category_table(yf),
        commissions_table(yf),
        conditions_table(yf),
        outputs_table(year, quarter),
        milestones_table(year, quarter, end),
    ]
    version = record.version if record else next_version(year, quarter)
    return ReturnData(
        year=year, quarter=quarter, quarter_start=start, quarter_end=end,
        vru_name=names["vru_name"], pcc_name=names["pcc_name"],
        version=version, status=record.status if record else "draft",
        prepared_by=record.prepared_by.name if record and record.prepared_by else "",
        issued_by=record.issued_by.name if record and record.issued_by else "",
        issued_at=record.issued_at if record else None,
        generated_at=(generated_at or utcnow()).replace(microsecond=0),
        narrative=record.narrative if record else "",
        tables=tables,
        correction_reason=record.correction_reason if record else "",
        figures=yf,
    )


def next_version(year: FundingYear, quarter: int) -> int:
    from sqlalchemy import func

    latest = db.session.scalar(
        select(func.max(PccReturn.version)).where(
            PccReturn.funding_year_id == year.id, PccReturn.quarter == quarter, PccReturn.status == "issued"))
    return (latest or 0) + 1

