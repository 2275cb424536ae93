"""Delivery monitoring as plain functions: measures and targets, quarterly actuals and narratives, RAG against
target, totals per strand and stream, what is off track or overdue. (Whether a milestone has evidence, its
attached documents among it, is the milestones area's rule: ``tracker.milestones.service.has_evidence``.)

Outputs belong to a funding year: a measure (its targets and actuals) and a quarter's narrative are for one year,
one the contract has a funding share or delivery dates in (``contract_years``); a contract that spans years
reports in each. "To date" on the outputs grid is the quarters recorded so far against those quarters' targets.

Other areas call these:
- ``commission_ids_off_track(year, quarter)``: commissions with a measure red or amber in a quarter (register filter);
- ``monitoring_due(today)``: commissions whose quarter has ended with no actuals recorded (deadlines view).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from tracker import audit, locking, settings
from tracker.commissions.service import get_commission_or_404
from tracker.commissions.shares import years_spanned
from tracker.errors import abort_with, get_or_404
from tracker.extensions import db
from tracker.funding.rules import require_open_year, year_named
from tracker.models import Commission, FundingShare, FundingStream, FundingYear, Strand
from tracker.models.monitoring import Measure, MeasureActual, Metric, QuarterNarrative
from tracker.figures import COMMITTED_STATUSES
from tracker.periods import quarter_bounds, reporting_quarter

REALM = "monitoring"
QUARTERS = (1, 2, 3, 4)
MAX_VALUE = 10_000_000  # no service delivers ten million of anything in a quarter: a typo
# The one message for a count that is not a whole number in range, wherever it is typed.
WHOLE_MESSAGE = f"Enter a whole number from 0 to {MAX_VALUE:,}, like 12"
NARRATIVE_MAX = 4000
# Commissions expected to report delivery: once awarded, while live, and for quarters before they ended.
REPORTING_STATUSES = COMMITTED_STATUSES
# The standard metrics (seeded as reference data): code, name, unit, description.
STANDARD_METRICS = [
    ("referrals_received", "Referrals received", "referrals", "Referrals the service received in the quarter."),
    ("cyp_engaged", "CYP engaged", "people", "Children and young people who took part at least once."),
    ("cyp_completed", "CYP completed", "people", "Children and young people who completed the programme."),
    ("sessions_delivered", "Sessions delivered", "sessions", "Sessions, groups or one-to-ones delivered."),
    ("hours_delivered", "Hours of delivery", "hours", "Hours of direct delivery."),
]
CYP_REACHED = "cyp_engaged"
MEASURE_FIELDS = ("metric_id", "funding_year_id", "unit", "target_q1", "target_q2", "target_q3", "target_q4",
                  "target_year")


# --- lookups ------------------------------------------------------------------------------------------------

def contract_years(commission: Commission) -> list[FundingYear]:
    """The set-up funding years a contract's outputs can belong to, oldest first (one query): the year it was let
    in, every year it has a funding share in or its delivery dates touch, and any year it already has measures or
    narratives in (so outputs recorded before its dates changed stay reachable)."""
    labels = years_spanned(commission.start_date, commission.end_date)
    return list(db.session.scalars(select(FundingYear).where(or_(
        FundingYear.id == commission.funding_year_id,
        FundingYear.label.in_(labels),
        FundingYear.id.in_(select(FundingShare.funding_year_id).where(FundingShare.commission_id == commission.id)),
        FundingYear.id.in_(select(Measure.funding_year_id).where(Measure.commission_id == commission.id)),
        FundingYear.id.in_(select(QuarterNarrative.funding_year_id)
                           .where(QuarterNarrative.commission_id == commission.id)),
    )).order_by(FundingYear.start_date)))


def default_outputs_year(years: list[FundingYear], today: date) -> FundingYear:
    """The year a contract's outputs page opens on: the one containing today, else the latest that has begun,
    else the first (``years`` as ``contract_years`` gives them, never empty)."""
    for year in years:
        if year.start_date <= today <= year.end_date:
            return year
    begun = [y for y in years if y.start_date <= today]
    return begun[-1] if begun else years[0]


def outputs_year(commission: Commission, label: str | None, today: date | None = None) -> FundingYear:
    """The funding year ``?year=`` names for a contract's outputs, or its default year when none is named.

    A malformed name is refused with 400 and a year not set up with 404 (``year_named``'s message); a set-up year
    the contract has no share or dates in is refused with 404 and the years it can be, never quietly swapped for
    another year."""
    years = contract_years(commission)
    label = (label or "").strip()
    if not label:
        return default_outputs_year(years, today or date.today())
    year = year_named(label)
    if year.id not in {y.id for y in years}:
        abort_with(404, f"{commission.reference} has no funding share or delivery dates in {year.label}, so it has "
                        f"no outputs there. Choose {' or '.join(y.label for y in years)}.")
    return year


def outputs_to_change_or_404(commission_id: int, label: str | None = None) -> tuple[Commission, FundingYear]:
    """A commission and the funding year of its outputs (``outputs_year``) that may change: 404 when there is
    none, 409 when that year is closed. The outputs are that year's record, so that year alone decides, not every
    year the contract is funded in (that is ``commissions.service.commission_to_change_or_404``)."""
    commission = get_commission_or_404(commission_id, joinedload(Commission.provider),
                                       joinedload(Commission.funding_year), joinedload(Commission.strand))
    year = outputs_year(commission, label)
    require_open_year(year)
    return commission, year


def get_measure_or_404(measure_id: int) -> Measure:
    return get_or_404(Measure, measure_id, "There is no such measure.", joinedload(Measure.metric),
                      joinedload(Measure.funding_year), joinedload(Measure.commission))


def measure_to_change_or_404(measure_id: int) -> Measure:
    """A measure whose targets may change: 404, or 409 when its funding year is closed (as above)."""
    measure = get_measure_or_404(measure_id)
    require_open_year(measure.funding_year)
    return measure


def get_metric_or_404(metric_id: int) -> Metric:
    return get_or_404(Metric, metric_id, "There is no such metric.")


def all_metrics(active_only: bool = False) -> list[Metric]:
    query = select(Metric).order_by(Metric.sort_order, Metric.name)
    if active_only:
        query = query.where(Metric.active.is_(True))
    return list(db.session.scalars(query))


def seed_standard_metrics() -> None:
    """The standard metrics, added once (an admin may rename them; the code keeps them recognisable)."""
    have = set(db.session.scalars(select(Metric.code).where(Metric.code.is_not(None))))
    names = set(db.session.scalars(select(Metric.name)))
    for order, (code, name, unit, description) in enumerate(STANDARD_METRICS):
        if code in have or name in names:
            continue
        db.session.add(Metric(code=code, name=name, unit=unit, description=description, in_template=True,
                              sort_order=order))
    db.session.flush()


def metric_name_taken(name: str, except_id: int | None = None) -> bool:
    query = select(Metric.id).where(func.lower(Metric.name) == name.strip().lower())
    if except_id is not None:
        query = query.where(Metric.id != except_id)
    return db.session.scalar(query) is not None


def save_metric(metric: Metric | None, **values) -> Metric:
    """Add a custom metric or change one (admin); audited."""
    fields = ("name", "unit", "description", "in_template", "sort_order", "active")
    if metric is None:
        metric = Metric(**values)
        db.session.add(metric)
        audit.record(REALM, "create", metric, f"Metric {metric.name} added", None, audit.snapshot(metric, fields))
        return metric
    audit.update(REALM, metric, fields, f"Metric {values.get('name', metric.name)} changed", **values)
    return metric


# --- RAG ----------------------------------------------------------------------------------------------------

def kpi_thresholds() -> tuple[Decimal, Decimal]:
    values = settings.get_many("kpi_amber_percent", "kpi_red_percent")
    return Decimal(values["kpi_amber_percent"]), Decimal(values["kpi_red_percent"])


def rag(target: int, actual: int | None, thresholds: tuple[Decimal, Decimal]) -> str | None:
    """R, A or G for delivery against a target; None with no target or nothing recorded yet.

    Shortfall = (target - actual) / target. Meeting or beating the target is green; a shortfall of the amber
    threshold or more is amber, of the red threshold or more red (both settings, in per cent).
    """
    if actual is None or not target or target <= 0:
        return None
    amber, red = thresholds
    shortfall = (Decimal(target) - Decimal(actual)) * 100 / Decimal(target)
    if shortfall >= red:
        return "R"
    if shortfall >= amber:
        return "A"
    return "G"


# --- the outputs grid ---------------------------------------------------------------------------------------

@dataclass
class Cell:
    quarter: int
    target: int
    actual: MeasureActual | None
    rag: str | None

    @property
    def value(self) -> int | None:
        return self.actual.value if self.actual else None


@dataclass
class Row:
    measure: Measure
    cells: list[Cell]
    to_date_target: int
    to_date_actual: int | None
    to_date_rag: str | None


@dataclass
class Grid:
    commission: Commission
    year: FundingYear
    rows: list[Row]
    narratives: dict[int, QuarterNarrative]
    quarter_ended: dict[int, bool]
    thresholds: tuple[Decimal, Decimal]


def build_row(measure: Measure, thresholds, actuals: dict[int, MeasureActual] | None = None) -> Row:
    """A measure's row: each quarter against its target, and to date: the quarters recorded so far against
    those quarters' targets (Q1 11 of 12 recorded, the rest not yet: to date 11 of 12)."""
    actuals = actuals if actuals is not None else {a.quarter: a for a in measure.actuals}
    cells = [Cell(q, measure.target(q), actuals.get(q), rag(measure.target(q), getattr(actuals.get(q), "value", None),
                                                             thresholds)) for q in QUARTERS]
    reported = [c for c in cells if c.actual is not None]
    to_date_target = sum(c.target for c in reported)
    to_date_actual = sum(c.value for c in reported) if reported else None
    return Row(measure, cells, to_date_target, to_date_actual, rag(to_date_target, to_date_actual, thresholds))


def outputs_grid(commission: Commission, year: FundingYear, today: date | None = None) -> Grid:
    """The year's measures with their targets, actuals and RAG per quarter, and the narratives (four queries)."""
    today = today or date.today()
    thresholds = kpi_thresholds()
    measures = db.session.scalars(
        select(Measure).where(Measure.commission_id == commission.id, Measure.funding_year_id == year.id)
        .options(joinedload(Measure.metric), selectinload(Measure.actuals).joinedload(MeasureActual.recorded_by))
        .join(Metric).order_by(Metric.sort_order, Metric.name)
    ).unique().all()
    narratives = {n.quarter: n for n in db.session.scalars(
        select(QuarterNarrative).where(QuarterNarrative.commission_id == commission.id,
                                       QuarterNarrative.funding_year_id == year.id)
        .options(joinedload(QuarterNarrative.recorded_by)))}
    ended = {q: quarter_bounds(year.label, q)[1] < today for q in QUARTERS}
    return Grid(commission, year, [build_row(m, thresholds) for m in measures], narratives, ended, thresholds)


# --- changing measures, actuals and narratives ----------------------------------------------------------------

class MonitoringError(ValueError):
    """A change that cannot be made; the message is for the user."""


def add_measure(commission: Commission, year: FundingYear, metric: Metric, unit: str = "", targets=(0, 0, 0, 0),
                target_year: int | None = None) -> Measure:
    require_open_year(year)
    if db.session.scalar(select(Measure.id).where(Measure.commission_id == commission.id,
                                                  Measure.funding_year_id == year.id, Measure.metric_id == metric.id)):
        raise MonitoringError(f"{commission.reference} already has a measure for {metric.name} in {year.label}.")
    q1, q2, q3, q4 = (int(t or 0) for t in targets)
    measure = Measure(commission_id=commission.id, funding_year_id=year.id, metric_id=metric.id,
                      unit=(unit or metric.unit).strip(),
                      target_q1=q1, target_q2=q2, target_q3=q3, target_q4=q4,
                      target_year=target_year if target_year is not None else q1 + q2 + q3 + q4)
    measure.metric = metric
    measure.funding_year = year
    db.session.add(measure)
    audit.record(REALM, "create", measure, f"{commission.reference}: measure {metric.name} added for {year.label}",
                 None, audit.snapshot(measure, MEASURE_FIELDS))
    return measure


def update_measure(measure: Measure, unit: str, targets, target_year: int | None,
                   version: int | None = None) -> None:
    """Change a measure's unit and targets from a form shown at ``version`` (``locking.Stale`` when someone else
    saved it since, or saves it at the same moment)."""
    require_open_year(measure.funding_year)
    locking.check_version(measure, version)
    before = audit.snapshot(measure, MEASURE_FIELDS)
    measure.unit = unit.strip()
    measure.target_q1, measure.target_q2, measure.target_q3, measure.target_q4 = (int(t or 0) for t in targets)
    measure.target_year = target_year if target_year is not None else sum(measure.targets)
    b, a = audit.diff(before, audit.snapshot(measure, MEASURE_FIELDS))
    if a:
        audit.record(REALM, "change", measure,
                     f"{measure.commission.reference}: targets for {measure.metric.name} changed", b, a)
    locking.flush(measure)


def delete_measure(measure: Measure) -> None:
    require_open_year(measure.funding_year)
    before = audit.snapshot(measure, MEASURE_FIELDS)
    before["actuals"] = {str(a.quarter): a.value for a in measure.actuals}
    audit.record(REALM, "delete", measure,
                 f"{measure.commission.reference}: measure {measure.metric.name} removed", before, None)
    db.session.delete(measure)


def check_value(value: int | None) -> None:
    if value is not None and not 0 <= value <= MAX_VALUE:
        raise MonitoringError(WHOLE_MESSAGE)


def set_actual(measure: Measure, quarter: int, value: int | None, user_id: int | None = None,
               batch_id: int | None = None) -> MeasureActual | None:
    """Record (or clear, with None) what was delivered in a quarter of the measure's funding year; who and when
    are kept, and audited."""
    require_open_year(measure.funding_year)
    if quarter not in QUARTERS:
        raise MonitoringError("The quarter must be 1 to 4.")
    check_value(value)
    user_id = user_id if user_id is not None else audit.acting_user_id()
    existing = next((a for a in measure.actuals if a.quarter == quarter), None)
    where = f"{measure.commission.reference}: {measure.metric.name} Q{quarter} {measure.funding_year.label}"
    if value is None:
        if existing is not None:
            audit.record(REALM, "delete", existing, f"{where} actual cleared", {"value": existing.value}, None)
            measure.actuals.remove(existing)
        return None
    if existing is None:
        existing = MeasureActual(quarter=quarter, value=value, recorded_by_id=user_id, import_batch_id=batch_id)
        measure.actuals.append(existing)
        audit.record(REALM, "create", existing, f"{where} actual {value} recorded", None,
                     {"value": value, "measure_id": measure.id, "quarter": quarter})
        return existing
    if existing.value != value or existing.import_batch_id != batch_id:
        audit.record(REALM, "change", existing, f"{where} actual {existing.value} → {value}",
                     {"value": existing.value}, {"value": value})
        existing.value = value
        existing.recorded_by_id = user_id
        existing.import_batch_id = batch_id
        existing.recorded_at = audit_now()
    return existing


def audit_now():
    from tracker.models import utcnow

    return utcnow()


def set_narrative(commission: Commission, year: FundingYear, quarter: int, text: str, user_id: int | None = None,
                  batch_id: int | None = None) -> QuarterNarrative | None:
    require_open_year(year)
    if quarter not in QUARTERS:
        raise MonitoringError("The quarter must be 1 to 4.")
    text = (text or "").strip()
    if len(text) > NARRATIVE_MAX:
        raise MonitoringError(f"Keep the narrative to {NARRATIVE_MAX:,} characters or fewer.")
    user_id = user_id if user_id is not None else audit.acting_user_id()
    existing = db.session.scalar(select(QuarterNarrative).where(
        QuarterNarrative.commission_id == commission.id, QuarterNarrative.funding_year_id == year.id,
        QuarterNarrative.quarter == quarter))
    old = existing.text if existing else ""
    if old == text:
        return existing
    if existing is None:
        existing = QuarterNarrative(commission_id=commission.id, funding_year_id=year.id, quarter=quarter, text=text)
        db.session.add(existing)
    existing.text = text
    existing.recorded_by_id = user_id
    existing.recorded_at = audit_now()
    existing.import_batch_id = batch_id
    audit.record(REALM, "change", existing, f"{commission.reference}: Q{quarter} {year.label} narrative changed",
                 {"text": old}, {"text": text})
    return existing


def copy_sources(commission: Commission, year: FundingYear) -> list[tuple[Commission, FundingYear]]:
    """What a contract's measures for ``year`` can be copied from: every other (contract, year) that has measures,
    this contract's other years among them (so 2026-27 can start from 2025-26's measures and targets); two
    queries."""
    pairs = db.session.execute(select(Measure.commission_id, Measure.funding_year_id).distinct()).all()
    pairs = [(c, y) for c, y in pairs if (c, y) != (commission.id, year.id)]
    if not pairs:
        return []
    commissions = {c.id: c for c in db.session.scalars(
        select(Commission).where(Commission.id.in_({c for c, _ in pairs})))}
    years = {y.id: y for y in db.session.scalars(select(FundingYear).where(FundingYear.id.in_({y for _, y in pairs})))}
    out = [(commissions[c], years[y]) for c, y in pairs]
    # This contract's own years first (the likeliest source), then the others by reference and year.
    return sorted(out, key=lambda p: (p[0].id != commission.id, p[0].reference, p[1].start_date))


def copy_measures(source: tuple[Commission, FundingYear] | None, target: Commission, year: FundingYear,
                  with_targets: bool = True) -> int:
    """Copy measures into ``target``'s ``year`` from another contract's or year's measures (with their targets)
    or, with ``source`` None, from the standard template (every active template metric, targets 0). Metrics it
    already has in ``year`` are left alone."""
    require_open_year(year)
    if target.id is None:  # a commission added in this transaction and not yet flushed has no id to match on
        db.session.flush()
    have = set(db.session.scalars(select(Measure.metric_id).where(Measure.commission_id == target.id,
                                                                  Measure.funding_year_id == year.id)))
    added = 0
    if source is None:
        for metric in db.session.scalars(select(Metric).where(Metric.in_template.is_(True), Metric.active.is_(True))
                                         .order_by(Metric.sort_order, Metric.name)):
            if metric.id not in have:
                add_measure(target, year, metric)
                added += 1
        return added
    source_commission, source_year = source
    if (source_commission.id, source_year.id) == (target.id, year.id):
        raise MonitoringError("Choose a different commission or year to copy from.")
    for m in db.session.scalars(select(Measure).where(Measure.commission_id == source_commission.id,
                                                      Measure.funding_year_id == source_year.id)
                                .options(joinedload(Measure.metric))):
        if m.metric_id in have:
            continue
        targets = m.targets if with_targets else (0, 0, 0, 0)
        add_measure(target, year, m.metric, m.unit, targets, m.target_year if with_targets else None)
        added += 1
    return added


# --- across commissions ---------------------------------------------------------------------------------------

def _year_id(year: FundingYear | int) -> int:
    return year if isinstance(year, int) else year.id


def commission_ids_off_track(year: FundingYear | int, quarter: int, include_amber: bool = True) -> set[int]:
    """Commissions of a funding year with at least one measure red (or amber) against its target in ``quarter``
    (two queries). A measure with no actual yet is not off track: it is due (see ``monitoring_due``)."""
    thresholds = kpi_thresholds()
    bad = {"R", "A"} if include_amber else {"R"}
    rows = db.session.execute(
        select(Measure.commission_id, getattr(Measure, f"target_q{quarter}"), MeasureActual.value)
        .join(MeasureActual, (MeasureActual.measure_id == Measure.id) & (MeasureActual.quarter == quarter))
        .where(Measure.funding_year_id == _year_id(year))
    )
    return {cid for cid, target, value in rows if rag(target, value, thresholds) in bad}


def off_track_in_reporting_quarter(year: FundingYear, today: date) -> tuple[int, list[Commission]]:
    """The monitoring overview's "off track" list: the year's commissions red or amber in its reporting quarter
    (the last that has ended, as the register's off-track filter uses: actuals arrive after a quarter closes),
    by reference; and that quarter (three queries)."""
    quarter = reporting_quarter(year.label, today)
    ids = commission_ids_off_track(year, quarter)
    commissions = db.session.scalars(
        select(Commission).where(Commission.id.in_(ids)).order_by(Commission.reference)).all() if ids else []
    return quarter, list(commissions)


@dataclass
class DueItem:
    commission: Commission
    quarter: int
    quarter_end: date
    #: The funding year the quarter is of (a contract that spans years is due in each).
    year: FundingYear | None = None


def monitoring_due(today: date | None = None, year: FundingYear | int | None = None) -> list[DueItem]:
    """Commissions whose quarter has ended with no actuals recorded for it, oldest quarter first (three queries).

    Counted: awarded, live or ended commissions, in each open funding year (or ``year``) they have measures in,
    for each quarter of that year that ended before today and overlaps the commission's delivery dates.
    """
    today = today or date.today()
    query = (select(Commission, FundingYear).join(Measure, Measure.commission_id == Commission.id)
             .join(FundingYear, FundingYear.id == Measure.funding_year_id)
             .where(Commission.status.in_(REPORTING_STATUSES))
             .options(joinedload(Commission.provider), joinedload(Commission.funding_year))
             .distinct())
    if year is not None:
        query = query.where(Measure.funding_year_id == _year_id(year))
    else:
        query = query.where(FundingYear.status == "open")
    pairs = db.session.execute(query).unique().all()
    if not pairs:
        return []
    reported = set(db.session.execute(
        select(Measure.commission_id, Measure.funding_year_id, MeasureActual.quarter)
        .join(MeasureActual, MeasureActual.measure_id == Measure.id)
        .where(Measure.commission_id.in_({c.id for c, _ in pairs})).distinct()).all())
    due = []
    for c, y in pairs:
        for q in QUARTERS:
            start, end = quarter_bounds(y.label, q)
            if end >= today or c.end_date < start or c.start_date > end or (c.id, y.id, q) in reported:
                continue
            due.append(DueItem(c, q, end, y))
    return sorted(due, key=lambda d: (d.quarter_end, d.commission.reference))


@dataclass
class Total:
    name: str
    target: int = 0
    actual: int = 0
    rag: str | None = None


@dataclass
class MetricTotals:
    metric: Metric
    by_strand: list[Total] = field(default_factory=list)
    by_stream: list[Total] = field(default_factory=list)
    total: Total = field(default_factory=lambda: Total("Total"))


def year_totals(year: FundingYear) -> list[MetricTotals]:
    """For each metric used in a year: year target and actual to date, per strand and per funding stream
    (a commission counts under its budget line's stream; three queries)."""
    rows = db.session.execute(
        select(Measure.id, Measure.metric_id, Measure.target_year, Commission.strand_id, Commission.id)
        .join(Commission, Commission.id == Measure.commission_id)
        .where(Measure.funding_year_id == year.id)
    ).all()
    if not rows:
        return []
    # A contract counts under the stream of its largest funding share in the year.
    main_stream: dict[int, tuple[int, int]] = {}
    for cid, stream_id, amount in db.session.execute(
            select(FundingShare.commission_id, FundingShare.funding_stream_id, FundingShare.amount_pence)
            .where(FundingShare.funding_year_id == year.id)):
        if stream_id is not None and (cid not in main_stream or amount > main_stream[cid][1]):
            main_stream[cid] = (stream_id, amount)
    rows = [(m, metric, target, strand, main_stream.get(cid, (None, 0))[0]) for m, metric, target, strand, cid in rows]
    actual = dict(db.session.execute(
        select(MeasureActual.measure_id, func.sum(MeasureActual.value))
        .where(MeasureActual.measure_id.in_([r[0] for r in rows])).group_by(MeasureActual.measure_id)).all())
    metrics = {m.id: m for m in db.session.scalars(select(Metric))}
    strands = dict(db.session.execute(select(Strand.id, Strand.name)).all())
    strand_order = {sid: i for i, sid in enumerate(db.session.scalars(
        select(Strand.id).order_by(Strand.sort_order, Strand.name)))}
    streams = dict(db.session.execute(select(FundingStream.id, FundingStream.name)).all())
    out: dict[int, MetricTotals] = {}
    by_strand: dict[int, dict] = defaultdict(dict)
    by_stream: dict[int, dict] = defaultdict(dict)
    for measure_id, metric_id, target, strand_id, stream_id in rows:
        value = int(actual.get(measure_id) or 0)
        mt = out.setdefault(metric_id, MetricTotals(metrics[metric_id]))
        for bucket, key, name in ((by_strand[metric_id], strand_id, strands.get(strand_id, "?")),
                                  (by_stream[metric_id], stream_id, streams.get(stream_id, "No budget line"))):
            t = bucket.setdefault(key, Total(name))
            t.target += target
            t.actual += value
        mt.total.target += target
        mt.total.actual += value
    result = []
    for metric_id, mt in out.items():
        mt.by_strand = [by_strand[metric_id][k] for k in sorted(by_strand[metric_id],
                                                                 key=lambda k: strand_order.get(k, 999))]
        mt.by_stream = sorted(by_stream[metric_id].values(), key=lambda t: t.name)
        result.append(mt)
    result.sort(key=lambda mt: (mt.metric.sort_order, mt.metric.name))
    return result


@dataclass
class ChartBar:
    name: str
    target: int
    actual: int
    actual_width: float  # float ok: chart geometry (SVG units), not money
    target_x: float  # float ok: chart geometry


def cyp_by_strand(year: FundingYear | None) -> list[ChartBar]:
    """Children and young people reached (the CYP engaged metric) per strand in a year, scaled for a bar chart
    (percentages of the largest of target and actual)."""
    if year is None:
        return []
    # One query (home's budget of queries is fixed): the CYP metric's part of ``year_totals``, summed per strand in SQL.
    actuals = (select(MeasureActual.measure_id, func.sum(MeasureActual.value).label("value"))
               .group_by(MeasureActual.measure_id).subquery())
    rows = db.session.execute(
        select(Commission.strand_id, Strand.name, Strand.sort_order, func.sum(Measure.target_year),
               func.sum(func.coalesce(actuals.c.value, 0)))
        .join(Commission, Commission.id == Measure.commission_id)
        .join(Metric, Metric.id == Measure.metric_id)
        .outerjoin(Strand, Strand.id == Commission.strand_id)
        .outerjoin(actuals, actuals.c.measure_id == Measure.id)
        .where(Measure.funding_year_id == year.id, Metric.code == CYP_REACHED)
        .group_by(Commission.strand_id, Strand.name, Strand.sort_order)).all()
    # Strands in their order, a commission of no strand last (as ``year_totals`` orders them).
    rows.sort(key=lambda r: (r[1] is None, r[2] or 0, r[1] or ""))
    bars = [Total(name or "?", int(target or 0), int(actual or 0)) for _, name, _, target, actual in rows]
    top = max([max(t.target, t.actual) for t in bars] + [1])
    return [ChartBar(t.name, t.target, t.actual, round(t.actual * 100 / top, 1), round(t.target * 100 / top, 1))
            for t in bars]


# --- the quarterly return to the PCC ------------------------------------------------------------------------

def return_output_rows(year: FundingYear | int, quarter: int) -> list[list]:
    """Rows for the PCC return's Outputs table (tracker/returns/builder.py): for every measure of the return's
    funding year (a contract that spans years reports that year's measures only), [metric, commission reference,
    target this quarter, actual this quarter, target to date, actual to date, RAG to date], by metric then
    reference (three queries).

    To date means Q1 to ``quarter``: the targets of those quarters against what was recorded for them (a quarter
    with nothing recorded counts as nothing delivered). Actuals are None, left blank, while nothing at all has
    been recorded, and so is the RAG then; later quarters' actuals are left out.
    """
    thresholds = kpi_thresholds()
    measures = db.session.execute(
        select(Measure, Metric.name, Commission.reference)
        .join(Metric, Metric.id == Measure.metric_id)
        .join(Commission, Commission.id == Measure.commission_id)
        .where(Measure.funding_year_id == _year_id(year))
        .order_by(Metric.sort_order, Metric.name, Commission.reference)
    ).all()
    if not measures:
        return []
    actuals: dict[int, dict[int, int]] = defaultdict(dict)
    for measure_id, q, value in db.session.execute(
            select(MeasureActual.measure_id, MeasureActual.quarter, MeasureActual.value)
            .where(MeasureActual.measure_id.in_([m.id for m, _, _ in measures]), MeasureActual.quarter <= quarter)):
        actuals[measure_id][q] = value
    rows = []
    for measure, metric_name, reference in measures:
        recorded = actuals.get(measure.id, {})
        target_to_date = sum(measure.target(q) for q in range(1, quarter + 1))
        to_date = sum(recorded.values()) if recorded else None
        rows.append([metric_name, reference, measure.target(quarter), recorded.get(quarter), target_to_date, to_date,
                     rag(target_to_date, to_date, thresholds)])
    return rows
