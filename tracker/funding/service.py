"""Funding years, streams, allocations, budget lines and the year-end roll-over, as plain functions.

Views call these; tests call them directly. Each change records its audit event in the same transaction and
leaves the commit to the caller, so a request either saves everything or nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from tracker import audit
from tracker.errors import abort_with, get_or_404
from tracker.extensions import db
from tracker.figures import COMMITTED_STATUSES, LineFigures, line_figures, roll_up
from tracker.funding.rules import require_open_year
from tracker.models import (
    Allocation, AllocationRevision, BudgetLine, Commission, FundingStream, FundingYear, LedgerTransaction, Variation,
)
from tracker.money import format_pence
from tracker.models.funding import YEAR_CLOSED, YEAR_DRAFT, YEAR_OPEN
from tracker.monitoring.service import roll_over_measures
from tracker.periods import label_for_start, parse_label, quarter_of, year_bounds

REALM = "funding"
YEAR_FIELDS = ("label", "start_date", "end_date", "status", "notes")
STREAM_FIELDS = ("name", "funder", "labour_split", "claim_frequency", "claim_due_days", "active", "finance_lead_id")
ALLOCATION_FIELDS = ("original_pence", "revised_pence", "status", "notes")
LINE_FIELDS = ("funding_stream_id", "category_id", "strand_id", "labour", "description", "amount_pence",
               "original_amount_pence", "q1_pence", "q2_pence", "q3_pence", "q4_pence")


# --- Getting records ----------------------------------------------------------------------------------------

def get_year_or_404(year_id: int) -> FundingYear:
    return get_or_404(FundingYear, year_id, "There is no such funding year.")


def get_stream_or_404(stream_id: int) -> FundingStream:
    return get_or_404(FundingStream, stream_id, "There is no such funding stream.")


def get_allocation_or_404(allocation_id: int) -> Allocation:
    allocation = db.session.scalar(
        select(Allocation).where(Allocation.id == allocation_id)
        .options(joinedload(Allocation.funding_year), joinedload(Allocation.funding_stream),
                 selectinload(Allocation.revisions).joinedload(AllocationRevision.changed_by))
    )
    if allocation is None:
        abort_with(404, "There is no such allocation.")
    return allocation


def get_line_or_404(line_id: int) -> BudgetLine:
    line = db.session.scalar(
        select(BudgetLine).where(BudgetLine.id == line_id)
        .options(joinedload(BudgetLine.funding_year), joinedload(BudgetLine.funding_stream),
                 joinedload(BudgetLine.category), joinedload(BudgetLine.strand))
    )
    if line is None:
        abort_with(404, "There is no such budget line.")
    return line


def year_by_label(label: str) -> FundingYear | None:
    return db.session.scalar(select(FundingYear).where(FundingYear.label == (label or "").strip()))


def all_years() -> list[FundingYear]:
    return list(db.session.scalars(select(FundingYear).order_by(FundingYear.start_date.desc())))


def all_streams() -> list[FundingStream]:
    return list(db.session.scalars(select(FundingStream).options(joinedload(FundingStream.finance_lead))
                                   .order_by(FundingStream.name)))


# --- Funding years ------------------------------------------------------------------------------------------

def create_year(label: str, notes: str = "", status: str = YEAR_DRAFT) -> FundingYear:
    """A new funding year; start and end follow from the label (ValueError for a bad label)."""
    start, end = year_bounds(label)
    year = FundingYear(label=label.strip(), start_date=start, end_date=end, status=status, notes=notes or "")
    db.session.add(year)
    db.session.flush()
    audit.record(REALM, "create", year, f"Funding year {year.label} set up", None, audit.snapshot(year, YEAR_FIELDS))
    return year


def update_year_notes(year: FundingYear, notes: str) -> None:
    require_open_year(year)
    audit.update(REALM, year, YEAR_FIELDS, f"Notes of funding year {year.label} changed", notes=notes or "")


def set_year_status(year: FundingYear, status: str) -> None:
    """Open or close a year. Reopening a closed year is ``reopen_year`` (admins only: the view checks)."""
    if status not in (YEAR_DRAFT, YEAR_OPEN, YEAR_CLOSED):
        abort_with(400, "Choose draft, open or closed.")
    require_open_year(year)
    if year.status == status:
        return
    before = audit.snapshot(year, ("status",))
    year.status = status
    words = {YEAR_OPEN: "opened", YEAR_CLOSED: "closed", YEAR_DRAFT: "returned to draft"}[status]
    audit.record(REALM, "change", year, f"Funding year {year.label} {words}", before, {"status": status})


def reopen_year(year: FundingYear, reason: str) -> None:
    """Reopen a closed year for a correction; the reason goes in the audit trail."""
    if not year.is_closed:
        abort_with(409, f"Funding year {year.label} is not closed.")
    year.status = YEAR_OPEN
    audit.record(REALM, "change", year, f"Funding year {year.label} reopened: {reason}",
                 {"status": YEAR_CLOSED}, {"status": YEAR_OPEN, "reason": reason})


# --- Funding streams ----------------------------------------------------------------------------------------

def save_stream(stream: FundingStream | None, **values) -> FundingStream:
    """Create a stream (``stream`` None) or change one, audited."""
    if stream is None:
        stream = FundingStream(**values)
        db.session.add(stream)
        db.session.flush()
        audit.record(REALM, "create", stream, f"Funding stream {stream.name} added", None,
                     audit.snapshot(stream, STREAM_FIELDS))
        return stream
    audit.update(REALM, stream, STREAM_FIELDS, f"Funding stream {values.get('name', stream.name)} changed", **values)
    return stream


def stream_name_taken(name: str, except_id: int | None = None) -> bool:
    q = select(FundingStream.id).where(func.lower(FundingStream.name) == name.strip().lower())
    if except_id is not None:
        q = q.where(FundingStream.id != except_id)
    return db.session.scalar(q) is not None


# --- Allocations and their revisions (virements) --------------------------------------------------------------

def create_allocation(year: FundingYear, stream: FundingStream, pence: int, status: str = "confirmed",
                      notes: str = "") -> Allocation:
    require_open_year(year)
    allocation = Allocation(funding_year=year, funding_stream=stream, original_pence=pence, revised_pence=pence,
                            status=status, notes=notes or "")
    db.session.add(allocation)
    db.session.flush()
    audit.record(REALM, "create", allocation, f"Allocation of {stream.name} for {year.label} set",
                 None, audit.snapshot(allocation, ALLOCATION_FIELDS))
    return allocation


def revise_allocation(allocation: Allocation, new_pence: int, reason: str, status: str | None = None,
                      user_id: int | None = None) -> AllocationRevision | None:
    """Change an allocation's current figure, keeping the original and a revision with the reason.

    Returns the revision, or None when only the status changed.
    """
    require_open_year(allocation.funding_year)
    before = audit.snapshot(allocation, ALLOCATION_FIELDS)
    revision = None
    if new_pence != allocation.revised_pence:
        revision = AllocationRevision(allocation=allocation, previous_pence=allocation.revised_pence,
                                      new_pence=new_pence, reason=reason.strip(),
                                      changed_by_id=user_id if user_id is not None else audit.acting_user_id())
        db.session.add(revision)
        allocation.revised_pence = new_pence
    if status and status != allocation.status:
        allocation.status = status
    b, a = audit.diff(before, audit.snapshot(allocation, ALLOCATION_FIELDS))
    if a:
        a = {**a, "reason": reason.strip()}
        audit.record(REALM, "change", allocation, f"Allocation of {allocation.funding_stream.name} for "
                     f"{allocation.funding_year.label} revised: {reason.strip()}", b, a)
    return revision


# --- Budget lines -------------------------------------------------------------------------------------------

def profile_difference(amount_pence: int, profile: list[int]) -> int:
    """How far the profile is from the amount: positive when the profile adds up to more."""
    return sum(profile) - amount_pence


def profile_problem(amount_pence: int, profile: list[int]) -> str | None:
    """The message shown at the profile when Q1-Q4 do not add up to the amount, else None."""
    from tracker.money import format_pence

    diff = profile_difference(amount_pence, profile)
    if diff == 0:
        return None
    side = "more" if diff > 0 else "less"
    return (f"The profile adds up to {format_pence(sum(profile))}, {format_pence(abs(diff))} {side} than the amount "
            f"({format_pence(amount_pence)})")


def create_line(year: FundingYear, **values) -> BudgetLine:
    require_open_year(year)
    values.setdefault("original_amount_pence", values["amount_pence"])
    line = BudgetLine(funding_year=year, **values)
    db.session.add(line)
    db.session.flush()
    audit.record(REALM, "create", line, f"Budget line added to {year.label}: {line.description}", None,
                 audit.snapshot(line, LINE_FIELDS))
    return line


def update_line(line: BudgetLine, reason: str = "", **values) -> None:
    """Change a line; the original amount stays as first set, so every revision can be seen against it."""
    require_open_year(line.funding_year)
    before = audit.snapshot(line, LINE_FIELDS)
    for k, v in values.items():
        setattr(line, k, v)
    b, a = audit.diff(before, audit.snapshot(line, LINE_FIELDS))
    if a:
        summary = f"Budget line {line.description or line.id} changed"
        if "amount_pence" in a:
            summary += f" (amount revised{': ' + reason.strip() if reason.strip() else ''})"
        audit.record(REALM, "change", line, summary, b, a)


def line_use(line: BudgetLine) -> tuple[int, int]:
    """How many commissions and ledger lines use a budget line."""
    commissions = db.session.scalar(select(func.count(Commission.id)).where(Commission.budget_line_id == line.id))
    ledger = db.session.scalar(
        select(func.count(LedgerTransaction.id)).where(LedgerTransaction.budget_line_id == line.id))
    return int(commissions or 0), int(ledger or 0)


def delete_line(line: BudgetLine) -> None:
    """Delete a line no commission or ledger line uses (409 with the reason otherwise)."""
    require_open_year(line.funding_year)
    commissions, ledger = line_use(line)
    if commissions or ledger:
        abort_with(409, f"This budget line cannot be deleted: {commissions} commission(s) and {ledger} ledger "
                        "line(s) use it. Move them to another line first, or set its amount to £0.00.")
    audit.record(REALM, "delete", line, f"Budget line deleted from {line.funding_year.label}: {line.description}",
                 audit.snapshot(line, LINE_FIELDS), None)
    db.session.delete(line)


# --- The budget page ----------------------------------------------------------------------------------------

def default_quarter(year: FundingYear, today: date | None = None) -> int:
    """The quarter today falls in, for a year under way; Q4 for a past year, Q1 for a future one."""
    today = today or date.today()
    if today < year.start_date:
        return 1
    if today > year.end_date:
        return 4
    return quarter_of(today)


@dataclass
class BudgetPage:
    """Everything the budget page shows for one year as at the end of one quarter."""

    year: FundingYear
    quarter: int
    lines: list[tuple[BudgetLine, LineFigures]]
    streams: list[LineFigures]
    strands: list[LineFigures]
    total: LineFigures
    allocations: dict[str, Allocation] = field(default_factory=dict)  # by stream name

    @property
    def over_committed(self) -> list[tuple[BudgetLine, LineFigures]]:
        return [(line, f) for line, f in self.lines if f.over_committed]


def budget_page(year: FundingYear, quarter: int) -> BudgetPage:
    """Per line, per stream and per strand figures (a fixed number of queries whatever the data size)."""
    from tracker import settings
    from tracker.figures import rag

    pairs = line_figures(year, quarter)
    streams = roll_up(pairs, key=lambda l: l.funding_stream_id, name_of=lambda l: l.funding_stream.name, quarter=quarter)
    strands = roll_up(pairs, key=lambda l: l.strand_id, name_of=lambda l: l.strand.name, quarter=quarter)
    streams.sort(key=lambda f: f.name)
    strand_order = {}
    for line, _ in pairs:
        strand_order.setdefault(line.strand.name, (line.strand.sort_order, line.strand.name))
    strands.sort(key=lambda f: strand_order.get(f.name, (0, f.name)))
    total = LineFigures(name="Total", quarter=quarter)
    for _, f in pairs:
        total.add(f)
    thresholds = settings.get_many("rag_amber_percent", "rag_red_percent")
    total.rag = rag(total.actual_to_date, total.profile_to_date, thresholds["rag_amber_percent"],
                    thresholds["rag_red_percent"])
    allocations = {
        a.funding_stream_id: a
        for a in db.session.scalars(
            select(Allocation).where(Allocation.funding_year_id == year.id).options(joinedload(Allocation.funding_stream))
        )
    }
    # A stream with an allocation but no budget lines yet still shows, with nothing budgeted.
    named = {f.name for f in streams}
    for a in allocations.values():
        if a.funding_stream.name not in named:
            streams.append(LineFigures(name=a.funding_stream.name, quarter=quarter, rag="G"))
    streams.sort(key=lambda f: f.name)
    by_name = {a.funding_stream.name: a for a in allocations.values()}
    return BudgetPage(year, quarter, pairs, streams, strands, total, by_name)


def over_committed_lines(year: FundingYear | None) -> list[tuple[BudgetLine, int]]:
    """Budget lines of a year whose committed commission value is above their amount (one query)."""
    if year is None:
        return []
    committed = (
        select(Commission.budget_line_id.label("line_id"), func.sum(Commission.value_pence).label("committed"))
        .where(Commission.funding_year_id == year.id, Commission.status.in_(COMMITTED_STATUSES))
        .group_by(Commission.budget_line_id)
        .subquery()
    )
    rows = db.session.execute(
        select(BudgetLine, committed.c.committed)
        .join(committed, committed.c.line_id == BudgetLine.id)
        .where(committed.c.committed > BudgetLine.amount_pence)
        .options(joinedload(BudgetLine.funding_stream), joinedload(BudgetLine.category), joinedload(BudgetLine.strand))
        .order_by(BudgetLine.id)
    ).all()
    return [(line, int(total)) for line, total in rows]


# --- Rolling a year over ------------------------------------------------------------------------------------
# What the roll-over copies into the next year, and how:
# - each allocation of the source year, as a *draft* allocation of the same amount (the grant letter for the new
#   year usually arrives late; finance confirms or revises it then);
# - each budget line, with its amount and profile (the new year starts from last year's plan);
# - each commission that runs past 31 March of the source year (unless terminated or ended early), as a new
#   record in the new year with ``rolled_from_id`` set. Its value is the part still to deliver: the source
#   value pro rata to the days of the service after 31 March over all its days, rounded half-up to the penny.
#   Its reference is the source reference followed by "/" and the new year's label (references are unique).
#   The source commission is left as it was.
# Running it again creates nothing new: each item is recognised (allocation by stream; line by stream, category,
# strand and description; commission by rolled_from_id) and the preview marks it "already there".

ROLLOVER_SKIP_STATUSES = ("terminated", "ended")


@dataclass
class RolloverItem:
    kind: str  # year, allocation, line, commission
    description: str
    amount_pence: int | None
    exists: bool
    source: object = None
    note: str = ""


@dataclass
class RolloverPlan:
    source: FundingYear
    target_label: str
    target: FundingYear | None
    items: list[RolloverItem]

    def of(self, kind: str) -> list[RolloverItem]:
        return [i for i in self.items if i.kind == kind]

    @property
    def to_create(self) -> list[RolloverItem]:
        return [i for i in self.items if not i.exists]


def next_label(year: FundingYear) -> str:
    return label_for_start(parse_label(year.label) + 1)


def pro_rata_after(value_pence: int, start: date, end: date, cut: date) -> int:
    """The part of ``value_pence`` for the days after ``cut``, by days, rounded half-up to the penny."""
    if end <= cut:
        return 0
    total_days = (end - start).days + 1
    if total_days <= 0:
        return 0
    after_days = (end - max(start, cut)).days if start <= cut else total_days
    share = Decimal(value_pence) * after_days / Decimal(total_days)
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _line_key(line: BudgetLine) -> tuple:
    return (line.funding_stream_id, line.category_id, line.strand_id, (line.description or "").strip().lower())


def rolled_reference(reference: str, target_label: str) -> str:
    return f"{reference}/{target_label}"[:40]


def rollover_plan(source: FundingYear) -> RolloverPlan:
    """What rolling ``source`` over would create in the next year, and what is already there."""
    label = next_label(source)
    target = year_by_label(label)
    items: list[RolloverItem] = [RolloverItem("year", f"Funding year {label} (draft)", None, target is not None)]

    allocations = db.session.scalars(
        select(Allocation).where(Allocation.funding_year_id == source.id)
        .options(joinedload(Allocation.funding_stream)).order_by(Allocation.id)).all()
    lines = db.session.scalars(
        select(BudgetLine).where(BudgetLine.funding_year_id == source.id)
        .options(joinedload(BudgetLine.funding_stream), joinedload(BudgetLine.category), joinedload(BudgetLine.strand))
        .order_by(BudgetLine.id)).all()
    commissions = db.session.scalars(
        select(Commission).where(Commission.funding_year_id == source.id, Commission.end_date > source.end_date,
                                 Commission.status.not_in(ROLLOVER_SKIP_STATUSES))
        .options(joinedload(Commission.provider)).order_by(Commission.reference)).all()

    have_streams: set[int] = set()
    have_lines: set[tuple] = set()
    have_rolled: set[int] = set()
    taken_refs: set[str] = set()
    if target is not None:
        have_streams = set(db.session.scalars(
            select(Allocation.funding_stream_id).where(Allocation.funding_year_id == target.id)))
        have_lines = {_line_key(l) for l in db.session.scalars(
            select(BudgetLine).where(BudgetLine.funding_year_id == target.id))}
        have_rolled = set(db.session.scalars(
            select(Commission.rolled_from_id).where(Commission.funding_year_id == target.id,
                                                    Commission.rolled_from_id.is_not(None))))
    wanted_refs = [rolled_reference(c.reference, label) for c in commissions]
    if wanted_refs:
        taken_refs = set(db.session.scalars(select(Commission.reference).where(Commission.reference.in_(wanted_refs))))

    for a in allocations:
        items.append(RolloverItem("allocation", f"{a.funding_stream.name}: draft allocation", a.revised_pence,
                                  a.funding_stream_id in have_streams, a))
    for line in lines:
        items.append(RolloverItem("line", line.name + (f" – {line.description}" if line.description else ""),
                                  line.amount_pence, _line_key(line) in have_lines, line))
    new_start = date(source.end_date.year, 4, 1)
    for c in commissions:
        value = pro_rata_after(c.value_pence, c.start_date, c.end_date, source.end_date)
        ref = rolled_reference(c.reference, label)
        exists = c.id in have_rolled
        note = ""
        if not exists and ref in taken_refs:
            exists, note = True, f"the reference {ref} is already used"
        elif not exists and source.is_closed:
            note = f"{source.label} is closed, so {c.reference} keeps its whole value there"
        elif not exists:
            note = f"{c.reference} keeps {format_pence(c.value_pence - value)} in {source.label}"
        items.append(RolloverItem(
            "commission", f"{ref}: {c.title} ({c.provider.name}), {max(c.start_date, new_start):%d/%m/%Y} to "
                          f"{c.end_date:%d/%m/%Y}", value, exists, c, note))
    return RolloverPlan(source, label, target, items)


def _move_value_to_next_year(commission: Commission, moved_pence: int, new_reference: str, target_label: str) -> None:
    """The part of a commission's value that falls after 31 March now belongs to next year's record, so this
    year's record keeps only its own share: otherwise both years would count the same money as committed.
    Recorded as a variation, with the before and after in the audit trail."""
    if moved_pence <= 0:
        return
    before = commission.value_pence
    commission.value_pence = before - moved_pence
    db.session.add(Variation(
        commission=commission, variation_date=date.today(), value_change_pence=-moved_pence,
        reason=f"Rolled over: {format_pence(moved_pence)} of the value, for delivery after 31 March, moved to "
               f"{target_label} as {new_reference}.",
        recorded_by_id=audit.acting_user_id()))
    audit.record("commissions", "change", commission,
                 f"{commission.reference}: {format_pence(moved_pence)} of its value moved to {new_reference} ({target_label})",
                 {"value_pence": before}, {"value_pence": commission.value_pence})


def roll_over(source: FundingYear) -> tuple[FundingYear, RolloverPlan]:
    """Create what ``rollover_plan`` lists as missing, in the caller's transaction. Returns the target year."""
    plan = rollover_plan(source)
    target = plan.target
    if target is None:
        target = create_year(plan.target_label, notes=f"Rolled over from {source.label}.")
    require_open_year(target)
    new_lines: dict[tuple, BudgetLine] = {
        _line_key(l): l for l in db.session.scalars(select(BudgetLine).where(BudgetLine.funding_year_id == target.id))}
    created = {"allocation": 0, "line": 0, "commission": 0}
    for item in plan.to_create:
        if item.kind == "allocation":
            a: Allocation = item.source
            db.session.add(Allocation(funding_year=target, funding_stream_id=a.funding_stream_id,
                                      original_pence=a.revised_pence, revised_pence=a.revised_pence, status="draft",
                                      notes=f"Rolled over from {source.label}; confirm when the grant letter arrives."))
            created["allocation"] += 1
        elif item.kind == "line":
            line: BudgetLine = item.source
            copy = BudgetLine(
                funding_year=target, funding_stream_id=line.funding_stream_id, category_id=line.category_id,
                strand_id=line.strand_id, labour=line.labour, description=line.description,
                amount_pence=line.amount_pence, original_amount_pence=line.amount_pence, q1_pence=line.q1_pence,
                q2_pence=line.q2_pence, q3_pence=line.q3_pence, q4_pence=line.q4_pence)
            db.session.add(copy)
            new_lines[_line_key(line)] = copy
            created["line"] += 1
    db.session.flush()
    source_lines = {l.id: l for l in db.session.scalars(select(BudgetLine).where(BudgetLine.funding_year_id == source.id))}
    for item in plan.to_create:
        if item.kind != "commission":
            continue
        c: Commission = item.source
        old_line = source_lines.get(c.budget_line_id)
        new_line = new_lines.get(_line_key(old_line)) if old_line is not None else None
        db.session.add(rolled := Commission(
            reference=rolled_reference(c.reference, plan.target_label), title=c.title, description=c.description,
            provider_id=c.provider_id, strand_id=c.strand_id, funding_year=target,
            budget_line_id=new_line.id if new_line is not None else None, procurement_route=c.procurement_route,
            competed=c.competed, commission_type=c.commission_type, value_pence=item.amount_pence,
            start_date=max(c.start_date, target.start_date), end_date=c.end_date, review_date=c.review_date,
            extension_options=c.extension_options, status=c.status, end_decision=c.end_decision,
            pcc_decision_ref=c.pcc_decision_ref, po_number=c.po_number, contract_manager=c.contract_manager,
            rolled_from_id=c.id,
        ))
        roll_over_measures(c, rolled)  # the service's measures and targets come across (tracker.monitoring)
        if not source.is_closed:
            _move_value_to_next_year(c, item.amount_pence, rolled.reference, target.label)
        created["commission"] += 1
    db.session.flush()
    if any(created.values()):
        audit.record(REALM, "create", target,
                     f"Rolled {source.label} over into {target.label}: {created['allocation']} allocation(s), "
                     f"{created['line']} budget line(s), {created['commission']} commission(s) created",
                     None, {"from": source.label, **created})
    return target, plan
