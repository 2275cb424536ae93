"""Funding years, streams, allocations, budget lines and the year-end roll-over, as plain functions.

Views call these; tests call them directly. Each change records its audit event in the same transaction and
leaves the commit to the caller, so a request either saves everything or nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from tracker import audit, locking
from tracker.errors import abort_with, get_or_404
from tracker.extensions import db
from tracker.commissions.shares import attach_waiting_shares, line_key
from tracker.figures import YearFigures, over_committed_lines, year_figures  # noqa: F401
from tracker.funding.rules import choose_quarter, choose_year, closed_year_problem, require_open_year, year_by_label
from tracker.models import (
    Allocation, AllocationRevision, BudgetLine, FundingShare, FundingStream, FundingYear, LedgerTransaction,
)
from tracker.models.funding import YEAR_CLOSED, YEAR_DRAFT, YEAR_OPEN
from tracker.money import format_pence
from tracker.periods import label_for_start, parse_label, quarter_in_progress, year_bounds

REALM = "funding"
YEAR_FIELDS = ("label", "start_date", "end_date", "status", "notes")
STREAM_FIELDS = ("name", "funder", "labour_split", "claim_frequency", "claim_due_days", "claim_basis", "claim_timing",
                 "final_claim_due_days", "active", "finance_lead_id")
ALLOCATION_FIELDS = ("original_pence", "revised_pence", "status", "notes", "grant_letter_date", "grant_letter_reference")
LINE_FIELDS = ("funding_stream_id", "category_id", "strand_id", "labour", "description", "amount_pence",
               "original_amount_pence", "q1_pence", "q2_pence", "q3_pence", "q4_pence")


# --- Getting records ----------------------------------------------------------------------------------------

def get_year_or_404(year_id: int) -> FundingYear:
    return get_or_404(FundingYear, year_id, "There is no such funding year.")


def year_to_change_or_404(year_id: int) -> FundingYear:
    """A funding year whose records may change: 404 when there is none, 409 when it is closed."""
    year = get_year_or_404(year_id)
    require_open_year(year)
    return year


def get_stream_or_404(stream_id: int) -> FundingStream:
    return get_or_404(FundingStream, stream_id, "There is no such funding stream.")


def get_allocation_or_404(allocation_id: int) -> Allocation:
    return get_or_404(Allocation, allocation_id, "There is no such allocation.",
                      joinedload(Allocation.funding_year), joinedload(Allocation.funding_stream),
                      selectinload(Allocation.revisions).joinedload(AllocationRevision.changed_by))


def get_line_or_404(line_id: int) -> BudgetLine:
    return get_or_404(BudgetLine, line_id, "There is no such budget line.",
                      joinedload(BudgetLine.funding_year), joinedload(BudgetLine.funding_stream),
                      joinedload(BudgetLine.category), joinedload(BudgetLine.strand))


def line_to_change_or_404(line_id: int) -> BudgetLine:
    """A budget line that may change: 404 when there is none, 409 when its year is closed."""
    line = get_line_or_404(line_id)
    require_open_year(line.funding_year)
    return line


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
    attach_waiting_shares(year)  # contracts already funded in this year stop waiting
    return year


def update_year_notes(year: FundingYear, notes: str, version: int | None = None) -> None:
    """Change a year's notes from a form shown at ``version`` (``locking.Stale`` when someone saved since)."""
    require_open_year(year)
    locking.check_version(year, version)
    audit.update(REALM, year, YEAR_FIELDS, f"Notes of funding year {year.label} changed", notes=notes or "")
    locking.flush(year)


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

def save_stream(stream: FundingStream | None, version: int | None = None, **values) -> FundingStream:
    """Create a stream (``stream`` None) or change one from a form shown at ``version``, audited."""
    if stream is None:
        stream = FundingStream(**values)
        db.session.add(stream)
        db.session.flush()
        audit.record(REALM, "create", stream, f"Funding stream {stream.name} added", None,
                     audit.snapshot(stream, STREAM_FIELDS))
        return stream
    locking.check_version(stream, version)
    audit.update(REALM, stream, STREAM_FIELDS, f"Funding stream {values.get('name', stream.name)} changed", **values)
    locking.flush(stream)
    return stream


def stream_name_taken(name: str, except_id: int | None = None) -> bool:
    q = select(FundingStream.id).where(func.lower(FundingStream.name) == name.strip().lower())
    if except_id is not None:
        q = q.where(FundingStream.id != except_id)
    return db.session.scalar(q) is not None


# --- Allocations and their revisions (virements) --------------------------------------------------------------

class BelowClaimed(ValueError):
    """An allocation revised below what has been claimed against it; the message gives the figure."""


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
                      user_id: int | None = None, grant_letter: tuple | None = None) -> AllocationRevision | None:
    """Change an allocation's current figure, keeping the original and a revision with the reason.
    ``grant_letter`` (date, reference) records the letter that confirms it.

    Returns the revision, or None when only the status (or grant letter) changed. Refused (``BelowClaimed``)
    below what the year's claims on the stream already claim, checked with the allocation held for this
    transaction so a claim saved at the same moment is counted.
    """
    from tracker.claims.service import claimed_against, lock_allocation

    require_open_year(allocation.funding_year)
    if new_pence < allocation.revised_pence:
        lock_allocation(allocation.funding_year_id, allocation.funding_stream_id)
        claimed = claimed_against(allocation.funding_year_id, allocation.funding_stream_id)
        if new_pence < claimed:
            raise BelowClaimed(f"The year's claims on {allocation.funding_stream.name} already claim "
                               f"{format_pence(claimed)}: the allocation cannot be less than that.")
    before = audit.snapshot(allocation, ALLOCATION_FIELDS)
    if grant_letter is not None:
        allocation.grant_letter_date, allocation.grant_letter_reference = grant_letter[0], grant_letter[1] or ""
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
    
    diff = profile_difference(amount_pence, profile)
    if diff == 0:
        return None
    side = "more" if diff > 0 else "less"
    return (f"The profile adds up to {format_pence(sum(profile))}, {format_pence(abs(diff))} {side} than the amount "
            f"({format_pence(amount_pence)})")


def line_clash_message(year: FundingYear, values: dict, except_id: int | None = None) -> str | None:
    """A budget line is unique per year, stream, category and strand: say which line already has the key."""
    query = select(BudgetLine).where(BudgetLine.funding_year_id == year.id,
                                     BudgetLine.funding_stream_id == values.get("funding_stream_id"),
                                     BudgetLine.category_id == values.get("category_id"),
                                     BudgetLine.strand_id == values.get("strand_id"))
    if except_id is not None:
        query = query.where(BudgetLine.id != except_id)
    clash = db.session.scalar(query.limit(1))
    if clash is None:
        return None
    return (f"{year.label} already has a budget line for {clash.name}"
            f"{' (' + clash.description + ')' if clash.description else ''}: change that line instead")


def create_line(year: FundingYear, **values) -> BudgetLine:
    require_open_year(year)
    values.setdefault("original_amount_pence", values["amount_pence"])
    line = BudgetLine(funding_year=year, **values)
    db.session.add(line)
    db.session.flush()
    audit.record(REALM, "create", line, f"Budget line added to {year.label}: {line.description}", None,
                 audit.snapshot(line, LINE_FIELDS))
    return line


def update_line(line: BudgetLine, reason: str = "", reprofiled: list[int] | None = None, version: int | None = None,
                **values) -> None:
    """Change a line; the original amount stays as first set, so every revision can be seen against it.

    ``reprofiled`` names quarters already reported to the PCC whose profile changed: the change is recorded as a
    revision with its reason (the form has made sure there is one). ``version`` is the one the form showed: a
    form opened before someone else's save is refused (``locking.Stale``), so it cannot put their amount back."""
    require_open_year(line.funding_year)
    locking.check_version(line, version)
    before = audit.snapshot(line, LINE_FIELDS)
    for k, v in values.items():
        setattr(line, k, v)
    b, a = audit.diff(before, audit.snapshot(line, LINE_FIELDS))
    if a:
        summary = f"Budget line {line.description or line.id} changed"
        if "amount_pence" in a:
            summary += f" (amount revised{': ' + reason.strip() if reason.strip() else ''})"
        if reprofiled:
            names = ", ".join(f"Q{q}" for q in reprofiled)
            summary += f" (re-profiled {names}, already reported to the PCC: {reason.strip()})"
            a["reprofiled_reported_quarters"] = list(reprofiled)
            a["reprofile_reason"] = reason.strip()
        audit.record(REALM, "change", line, summary, b, a)
    locking.flush(line)


def line_use(line: BudgetLine) -> tuple[int, int]:
    """How many contracts (by their funding shares) and ledger lines use a budget line."""
    commissions = db.session.scalar(
        select(func.count(func.distinct(FundingShare.commission_id))).where(FundingShare.budget_line_id == line.id))
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

def budget_page(year: FundingYear, quarter: int) -> YearFigures:
    """Per line, per stream and per strand figures, from the figures engine (a fixed number of queries)."""
    return year_figures(year, quarter)


@dataclass
class BudgetView:
    """The year and quarter the budget page (and its download) shows, chosen from ``?year=2025-26&quarter=2``."""

    years: list[FundingYear]
    year: FundingYear | None
    quarter: int | None


def choose_budget_view(args, today: date | None = None) -> BudgetView:
    """The chosen year (else the current one) as at the chosen quarter (else the quarter in progress: the
    page shows spend as it stands now). A bad year or quarter stops with a 4xx and the one message
    (``tracker/funding/rules.py``)."""
    years = all_years()
    year = choose_year(args, years=years)
    default = quarter_in_progress(year.label, today or date.today()) if year is not None else None
    return BudgetView(years, year, choose_quarter(args, default))


def set_planned_override(line: BudgetLine, pence: int | None, reason: str, version: int | None = None) -> None:
    """Finance's own figure for a line's planned (not yet contracted) spend, or None to go back to the default
    (remaining profile less outstanding commitment). A reason is required to set one; audited. Refused
    (``locking.Stale``) from a form shown at another ``version`` of the line."""
    require_open_year(line.funding_year)
    locking.check_version(line, version)
    if pence is not None and not (reason or "").strip():
        abort_with(422, "Say why the planned spend is overridden.")
    before = audit.snapshot(line, ("planned_override_pence", "planned_override_reason"))
    line.planned_override_pence = pence
    line.planned_override_reason = (reason or "").strip() if pence is not None else ""
    b, a = audit.diff(before, audit.snapshot(line, ("planned_override_pence", "planned_override_reason")))
    if a:
        words = (f"set to {format_pence(pence)}: {line.planned_override_reason}" if pence is not None
                 else "back to the default")
        audit.record(REALM, "change", line, f"Planned spend of {line.description or line.id} {words}", b, a)
    locking.flush(line)


# --- Rolling a year over ------------------------------------------------------------------------------------
# What the roll-over creates in the next year:
# - each allocation of the source year, as a *draft* allocation of the same amount (the grant letter for the new
#   year usually arrives late; finance confirms or revises it then);
# - each budget line, with its amount and profile (the new year starts from last year's plan).
# It never copies or changes a contract: a contract that runs past 31 March already holds a funding share for the
# next year, waiting as "not yet funded"; the roll-over attaches those shares to the new year and, where the
# contract's line has its copy there, to that line.
# Running it again creates nothing new: each item is recognised (allocation by stream; line by stream, category,
# strand and description) and the preview marks it "already there".


@dataclass
class RolloverItem:
    kind: str  # year, allocation, line, share
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


def rollover_plan(source: FundingYear) -> RolloverPlan:
    """What rolling ``source`` over would create in the next year, and what is already there."""
    from tracker.models import Commission

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
    waiting = db.session.scalars(
        select(FundingShare).where(FundingShare.year_label == label)
        .options(joinedload(FundingShare.commission).joinedload(Commission.provider))
        .order_by(FundingShare.id)).all()

    have_streams: set[int] = set()
    have_lines: set[tuple] = set()
    if target is not None:
        have_streams = set(db.session.scalars(
            select(Allocation.funding_stream_id).where(Allocation.funding_year_id == target.id)))
        have_lines = {line_key(l) for l in db.session.scalars(
            select(BudgetLine).where(BudgetLine.funding_year_id == target.id))}

    for a in allocations:
        items.append(RolloverItem("allocation", f"{a.funding_stream.name}: draft allocation", a.revised_pence,
                                  a.funding_stream_id in have_streams, a))
    for line in lines:
        items.append(RolloverItem("line", line.name + (f" – {line.description}" if line.description else ""),
                                  line.amount_pence, line_key(line) in have_lines, line))
    for share in waiting:
        c = share.commission
        items.append(RolloverItem(
            "share", f"{c.reference}: {c.title} ({c.provider.name}), its {label} share", share.amount_pence,
            share.funding_year_id is not None and share.budget_line_id is not None, share,
            "the contract is not changed: its share for the year attaches to the new year"))
    return RolloverPlan(source, label, target, items)


def roll_over(source: FundingYear) -> tuple[FundingYear, RolloverPlan]:
    """Create what ``rollover_plan`` lists as missing, in the caller's transaction. Returns the target year."""
    plan = rollover_plan(source)
    target = plan.target
    if target is None:
        target = create_year(plan.target_label, notes=f"Rolled over from {source.label}.")
    require_open_year(target)
    created = {"allocation": 0, "line": 0}
    for item in plan.to_create:
        if item.kind == "allocation":
            a: Allocation = item.source
            db.session.add(Allocation(funding_year=target, funding_stream_id=a.funding_stream_id,
                                      original_pence=a.revised_pence, revised_pence=a.revised_pence, status="draft",
                                      notes=f"Rolled over from {source.label}; confirm when the grant letter arrives."))
            created["allocation"] += 1
        elif item.kind == "line":
            line: BudgetLine = item.source
            db.session.add(BudgetLine(
                funding_year=target, funding_stream_id=line.funding_stream_id, category_id=line.category_id,
                strand_id=line.strand_id, labour=line.labour, description=line.description,
                amount_pence=line.amount_pence, original_amount_pence=line.amount_pence, q1_pence=line.q1_pence,
                q2_pence=line.q2_pence, q3_pence=line.q3_pence, q4_pence=line.q4_pence))
            created["line"] += 1
    db.session.flush()
    attached = attach_waiting_shares(target)
    if any(created.values()) or attached:
        audit.record(REALM, "create", target,
                     f"Rolled {source.label} over into {target.label}: {created['allocation']} allocation(s), "
                     f"{created['line']} budget line(s) created, {attached} contract share(s) attached",
                     None, {"from": source.label, **created, "shares": attached})
    return target, plan
