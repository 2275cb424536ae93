"""Reading the register: filters from the query string, the page of rows and the totals for everything filtered.

Every function here runs a fixed number of queries whatever the data size: spend is summed in SQL with
one aggregate per page, never per row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from tracker.extensions import db
from tracker.models import Commission, FundingShare, FundingStream, FundingYear, LedgerTransaction, Provider, Strand
from tracker.models.commissions import COMMISSION_STATUSES
from tracker.funding.rules import choose_quarter, choose_year, current_year
from tracker.periods import label_for, reporting_quarter

PER_PAGE_CHOICES = (10, 25, 50, 100)
DEFAULT_PER_PAGE = 25
ENDING_CHOICES = (30, 90)
# "Off track" filter: red or amber, or red only, against the quarter's targets (tracker/monitoring/service.py).
OFF_TRACK_CHOICES = {"amber": "Red or amber", "red": "Red only"}
FINAL_STATUSES = ("ended", "terminated")

# What spend means everywhere on these screens: ledger lines matched to the commission (credits are negative),
# not held (a match finance has yet to confirm: imports.matching.hold_for).
def spent_subquery():
    """A correlated subquery: the net ledger spend matched to the outer commission, in pence."""
    return (
        select(func.coalesce(func.sum(LedgerTransaction.net_pence), 0))
        .where(LedgerTransaction.commission_id == Commission.id, LedgerTransaction.held_reason.is_(None))
        .correlate(Commission)
        .scalar_subquery()
    )


# The sort keys people can ask for; anything else falls back to the default rather than failing.
SORTS = {
    "reference": lambda: Commission.reference,
    "title": lambda: func.lower(Commission.title),
    "provider": lambda: func.lower(Provider.name),
    "strand": lambda: Strand.name,
    "value": lambda: Commission.value_pence,
    "spent": spent_subquery,
    "remaining": lambda: Commission.value_pence - spent_subquery(),
    "start": lambda: Commission.start_date,
    "end": lambda: Commission.end_date,
    "status": lambda: case({s: i for i, s in enumerate(COMMISSION_STATUSES)}, value=Commission.status, else_=99),
}
DEFAULT_SORT = "reference"


def like_pattern(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere, with LIKE's own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _int(text: str | None) -> int | None:
    from tracker.web import whole_number

    return whole_number(text, low=-MAX, high=MAX) if text not in (None, "") else None


MAX = 2_147_483_647  # tracker.web.MAX_WHOLE_NUMBER: beyond it a value is ignored with a message


@dataclass
class RegisterFilters:
    """The register's state as the URL carries it. Values that make no sense are dropped and reported."""

    q: str = ""
    #: The chosen funding year's label ("" for every year) and the year itself.
    year: str = ""
    funding_year: FundingYear | None = None
    strand: int | None = None
    stream: int | None = None
    status: str = ""
    provider: int | None = None
    ending: int | None = None
    off_track: str = ""
    #: The quarter "off track" looks at; None means the reporting quarter (``tracker/periods.py``).
    quarter: int | None = None
    sort: str = DEFAULT_SORT
    order: str = "asc"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args) -> "RegisterFilters":
        f = cls(ignored=[])
        f.q = (args.get("q") or "").strip()[:100]
        year = choose_year(args, default=lambda: None)  # no year chosen: every year
        f.year, f.funding_year = (year.label, year) if year is not None else ("", None)
        for name in ("strand", "stream", "provider"):
            raw = args.get(name)
            value = _int(raw)
            if raw not in (None, "") and (value is None or value < 1):
                f.ignored.append(f"{name} “{raw[:30]}”")
                value = None
            setattr(f, name, value)
        status = (args.get("status") or "").strip()
        if status and status not in COMMISSION_STATUSES:
            f.ignored.append(f"status “{status[:30]}”")
            status = ""
        f.status = status
        raw_ending = args.get("ending")
        f.ending = _int(raw_ending)
        if raw_ending not in (None, "") and f.ending not in ENDING_CHOICES:
            f.ignored.append(f"ending within “{raw_ending[:30]}”")
            f.ending = None
        off_track = (args.get("off_track") or "").strip()
        if off_track and off_track not in OFF_TRACK_CHOICES:
            f.ignored.append(f"off track “{off_track[:30]}”")
            off_track = ""
        f.off_track = off_track
        # A bad quarter or year is not ignored like the other filters: every page reading them answers the same
        # 4xx and message (tracker/funding/rules.py).
        f.quarter = choose_quarter(args, default=None)
        sort = (args.get("sort") or DEFAULT_SORT).strip()
        if sort not in SORTS:
            f.ignored.append(f"sort “{sort[:30]}”")
            sort = DEFAULT_SORT
        f.sort = sort
        f.order = "desc" if args.get("order") == "desc" else "asc"
        page = _int(args.get("page"))
        if args.get("page") not in (None, "") and (page is None or page < 1):
            f.ignored.append(f"page “{args.get('page')[:30]}”")
        f.page = page if page and page > 0 else 1
        per_page = _int(args.get("per_page"))
        f.per_page = per_page if per_page in PER_PAGE_CHOICES else DEFAULT_PER_PAGE
        return f

    def args(self, **changes) -> dict:
        """The non-default values as query-string arguments, with ``changes`` applied (None removes one)."""
        values = {
            "q": self.q, "year": self.year, "strand": self.strand, "stream": self.stream, "status": self.status,
            "provider": self.provider, "ending": self.ending, "off_track": self.off_track, "quarter": self.quarter,
            "sort": self.sort if self.sort != DEFAULT_SORT else None,
            "order": self.order if self.order != "asc" else None, "page": self.page if self.page != 1 else None,
            "per_page": self.per_page if self.per_page != DEFAULT_PER_PAGE else None,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}

    def sort_args(self, key: str) -> dict:
        """Arguments for a column heading's link: sort by it, or reverse it when it is already the sort."""
        order = "desc" if self.sort == key and self.order == "asc" else "asc"
        return self.args(sort=key if key != DEFAULT_SORT or order != "asc" else None,
                         order=order if order != "asc" else None, page=None)

    @property
    def active(self) -> bool:
        return bool(self.q or self.year or self.strand or self.stream or self.status or self.provider or self.ending
                    or self.off_track)


def off_track_scope(f: RegisterFilters, today: date) -> tuple[FundingYear | None, int]:
    """The funding year and quarter the off-track filter looks at: the chosen year, else the current one (as on
    the monitoring overview), and the chosen quarter, else the reporting quarter (the last that has ended:
    actuals arrive after a quarter closes)."""
    year = f.funding_year or current_year(today)
    if year is None:
        return None, f.quarter or 1
    return year, f.quarter or reporting_quarter(year.label, today)


def _conditions(f: RegisterFilters, today: date, off_track_in: tuple[FundingYear | None, int] | None) -> list:
    conditions = []
    if f.q:
        like = like_pattern(f.q)
        conditions.append(or_(
            Commission.reference.ilike(like, escape="\\"),
            Commission.title.ilike(like, escape="\\"),
            Provider.name.ilike(like, escape="\\"),
        ))
    if f.funding_year is not None:
        # A contract belongs to every year it is funded in, as well as the year it was let in.
        year_id = f.funding_year.id
        conditions.append(or_(Commission.funding_year_id == year_id, Commission.id.in_(
            select(FundingShare.commission_id).where(FundingShare.funding_year_id == year_id))))
    if f.strand:
        conditions.append(Commission.strand_id == f.strand)
    if f.stream:
        conditions.append(Commission.id.in_(
            select(FundingShare.commission_id).where(FundingShare.funding_stream_id == f.stream)))
    if f.status:
        conditions.append(Commission.status == f.status)
    if f.provider:
        conditions.append(Commission.provider_id == f.provider)
    if f.ending:
        conditions.append(and_(
            Commission.end_date >= today, Commission.end_date <= today + timedelta(days=f.ending),
            Commission.status.not_in(FINAL_STATUSES),
        ))
    if f.off_track:
        from tracker.monitoring.service import commission_ids_off_track

        off_year, quarter = off_track_in or off_track_scope(f, today)
        ids = commission_ids_off_track(off_year, quarter, include_amber=f.off_track == "amber") if off_year else set()
        conditions.append(Commission.id.in_(sorted(ids)) if ids else Commission.id.is_(None))
    return conditions


def filtered_select(f: RegisterFilters, today: date, off_track_in: tuple[FundingYear | None, int] | None = None):
    """Commissions matching the filters, joined to what the search and sorts need (``off_track_in``: the
    ``off_track_scope`` when the caller has it already)."""
    return (
        select(Commission)
        .join(Provider, Commission.provider_id == Provider.id)
        .join(Strand, Commission.strand_id == Strand.id)
        .where(*_conditions(f, today, off_track_in))
    )


@dataclass
class Totals:
    count: int
    value: int
    spent: int

    @property
    def remaining(self) -> int:
        return self.value - self.spent


@dataclass
class RegisterPage:
    filters: RegisterFilters
    pagination: object
    rows: list[tuple[Commission, int]]
    totals: Totals
    #: (funding year label, quarter) the off-track filter looked at, when it is on.
    off_track_in: tuple[str, int] | None = None


def totals_for(stmt) -> Totals:
    """Count, value and spend of everything ``stmt`` selects (not just one page), in one query."""
    ids = stmt.with_only_columns(Commission.id).order_by(None).scalar_subquery()
    value = select(func.count(Commission.id), func.coalesce(func.sum(Commission.value_pence), 0)).where(
        Commission.id.in_(ids))
    spent = (select(func.coalesce(func.sum(LedgerTransaction.net_pence), 0))
             .where(LedgerTransaction.commission_id.in_(ids), LedgerTransaction.held_reason.is_(None))
             .scalar_subquery())
    count, total_value, total_spent = db.session.execute(value.add_columns(spent)).one()
    return Totals(int(count or 0), int(total_value or 0), int(total_spent or 0))


def spent_by_commission(ids: list[int]) -> dict[int, int]:
    """Ledger spend per commission for a handful of ids (the figures engine's ``paid_by_contract``)."""
    from tracker.figures import paid_by_contract

    return paid_by_contract(ids)


def register_page(f: RegisterFilters, today: date | None = None) -> RegisterPage:
    """One page of the register and the totals for everything filtered (five queries at most)."""
    today = today or date.today()
    scope = off_track_scope(f, today) if f.off_track else None
    stmt = filtered_select(f, today, scope)
    key = SORTS[f.sort]()
    ordering = [key.desc() if f.order == "desc" else key.asc(), Commission.id.asc()]
    page_stmt = stmt.options(
        joinedload(Commission.provider), joinedload(Commission.strand), joinedload(Commission.funding_year),
        selectinload(Commission.funding_shares).selectinload(FundingShare.funding_stream),
    ).order_by(*ordering)
    pagination = db.paginate(page_stmt, page=f.page, per_page=f.per_page, error_out=False, count=True)
    if f.page > 1 and not pagination.items and pagination.total:
        # Past the last page (an old bookmark, or a filter that now matches less): show the last page.
        f.page = pagination.pages
        pagination = db.paginate(page_stmt, page=f.page, per_page=f.per_page, error_out=False, count=True)
    spent = spent_by_commission([c.id for c in pagination.items])
    rows = [(c, spent.get(c.id, 0)) for c in pagination.items]
    off_track_in = None
    if scope is not None:
        off_year, quarter = scope
        off_track_in = (off_year.label if off_year is not None else label_for(today), quarter)
    return RegisterPage(f, pagination, rows, totals_for(stmt), off_track_in)


def filter_choices() -> dict:
    """The options the filter form offers (four queries)."""
    return {
        "years": db.session.scalars(select(FundingYear.label).order_by(FundingYear.start_date.desc())).all(),
        "strands": db.session.execute(select(Strand.id, Strand.name).order_by(Strand.sort_order, Strand.name)).all(),
        "streams": db.session.execute(select(FundingStream.id, FundingStream.name).order_by(FundingStream.name)).all(),
        "providers": db.session.execute(select(Provider.id, Provider.name).order_by(Provider.name)).all(),
    }


def ending_soon(days: int, today: date | None = None, limit: int = 20) -> tuple[list[tuple[Commission, int]], int]:
    """Commissions still running whose end date falls in the next ``days`` days, soonest first, and how many (one
    query: the count is a window over every match, taken before the limit)."""
    today = today or date.today()
    where = (Commission.end_date >= today, Commission.end_date <= today + timedelta(days=days),
             Commission.status.not_in(FINAL_STATUSES))
    total = func.count().over().label("total")
    rows = db.session.execute(
        select(Commission, total).where(*where).options(joinedload(Commission.provider))
        .order_by(Commission.end_date, Commission.reference).limit(limit)
    ).all()
    return [(c, (c.end_date - today).days) for c, _ in rows], int(rows[0][1]) if rows else 0


# --- One commission ---------------------------------------------------------------------------------------

def spend_by_quarter(commission_id: int) -> list[tuple[str, int, int]]:
    """(funding year label, quarter 1-4, net spend in pence) for one commission (the figures engine's)."""
    from tracker.figures import paid_by_quarter

    return paid_by_quarter(commission_id)


# --- Providers --------------------------------------------------------------------------------------------

def provider_list(q: str, page: int, per_page: int = 50):
    """Providers matching ``q`` with how many commissions each has and their total value (paginated)."""
    totals = (
        select(Commission.provider_id.label("pid"), func.count(Commission.id).label("n"),
               func.sum(Commission.value_pence).label("value"))
        .group_by(Commission.provider_id).subquery()
    )
    stmt = select(Provider).outerjoin(totals, totals.c.pid == Provider.id)
    if q:
        like = like_pattern(q)
        stmt = stmt.where(Provider.name.ilike(like, escape="\\"))
    pagination = db.paginate(stmt.order_by(func.lower(Provider.name)), page=page, per_page=per_page,
                             error_out=False)
    ids = [p.id for p in pagination.items]
    figures = {}
    if ids:
        figures = {pid: (int(n or 0), int(v or 0)) for pid, n, v in db.session.execute(
            select(totals.c.pid, totals.c.n, totals.c.value).where(totals.c.pid.in_(ids)))}
    all_value = db.session.scalar(
        select(func.coalesce(func.sum(Commission.value_pence), 0)).join(Provider).where(
            *([Provider.name.ilike(like_pattern(q), escape="\\")] if q else []))) or 0
    return pagination, figures, int(all_value)
