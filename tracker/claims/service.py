"""Claims, conditions, match contributions and virements against the database: what the screens, the return
and the tests call. The money rules are in ``tracker.claims.rules``; every budget and forecast figure comes from
the figures engine (``tracker.figures.year_figures``). Each change records its audit event and leaves the commit
to the caller.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from tracker import audit, files, figures, locking
from tracker.claims import rules
from tracker.errors import abort_with, get_or_404
from tracker.extensions import db
from tracker.funding.rules import require_open_year
from tracker.models import (
    Allocation, BudgetLine, Claim, ClaimSubmission, FundingStream, FundingYear, GrantCondition, LedgerTransaction,
    MatchContribution, User, Virement,
)
from tracker.models.base import utcnow
from tracker.money import format_pence
from tracker.periods import month_of_ledger_line, quarter_in_progress

REALM = "claims"
CLAIM_FIELDS = ("claimed_pence", "status", "submitted_on", "decided_on", "paid_on", "received_pence",
                "remittance_reference", "signed_off_by", "note", "version")
CONDITION_FIELDS = ("funding_stream_id", "kind", "category_id", "strand_id", "minimum_basis_points", "labour_pence",
                    "note")
MATCH_FIELDS = ("funding_stream_id", "partner", "kind", "pledged_pence", "evidenced_pence", "document_id", "note")
#: A claim in these statuses has been sent: it is frozen (a correction is a new version, after a query).
SENT = ("submitted", "approved", "paid")
EDITABLE = ("draft", "queried")
CLAIMS_FOLDER = "claims"


class Refused(ValueError):
    """A change the rules do not allow; the message says why, in the user's words."""


class NeedsConfirmation(Refused):
    """A figure outside its usual range (a payment above the claim, evidence above the pledge): recorded only
    when the person confirms it; the message is the question."""


# --- Ledger spend per stream and claim period --------------------------------------------------------------------

def ledger_by_stream_month(year: FundingYear) -> dict[int, dict[int, dict[str, int]]]:
    """The year's ledger spend on each stream's budget lines, by financial month and transaction type; a contract's
    spend counts on its shares' lines as the figures engine routes it (``figures.year_spend``): three queries."""
    month = func.extract("month", LedgerTransaction.posting_date)
    stream_of = dict(db.session.execute(select(BudgetLine.id, BudgetLine.funding_stream_id)
                                        .where(BudgetLine.funding_year_id == year.id)).all())
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for line_id, _commission, period, posting_month, kind, pence, _lines in figures.year_spend(
            year.id, figures.year_share_map(year.id), LedgerTransaction.period, month,
            LedgerTransaction.transaction_type):
        if line_id in stream_of:
            out[stream_of[line_id]][month_of_ledger_line(period, posting_month)][kind] += pence
    return out


def claimable_of(stream: FundingStream, frequency: str, period: int, by_month: dict[int, dict[str, int]],
                 profile: list[int]) -> int:
    """A period's own spend for a stream: its ledger spend on its basis (arrears) or its profile (advance).
    It may be negative; ``year_claims`` nets it against the stream's other periods (``rules.carry_forward``)."""
    if stream.claim_timing == "advance":
        return rules.advance_claimable(profile, frequency, period)
    n = rules.months_per_period(frequency)
    months = range((period - 1) * n + 1, period * n + 1)
    return sum(pence for m in months for kind, pence in by_month.get(m, {}).items()
               if rules.counts(stream.claim_basis, kind))


# --- The year's claims: a period x stream grid ------------------------------------------------------------------

@dataclass
class Cell:
    """One stream's claim period: what the ledger says is claimable and the claim made (if any)."""

    period: int
    name: str
    due: date
    final: bool
    #: What can be claimed for the period: its spend net of any negative brought forward, never below £0.00.
    claimable: int
    claim: Claim | None = None
    #: The period's own spend on the stream's basis (its profile, in advance), before netting off.
    spend: int = 0
    #: The negative carried in from the stream's period before (0 or less).
    brought_forward: int = 0
    #: The negative this period carries into the next (0 or less): credits beyond its spend.
    carried_forward: int = 0

    @property
    def claimed(self) -> int:
        return self.claim.claimed_pence if self.claim else 0

    @property
    def received(self) -> int:
        return self.claim.received_pence if self.claim else 0

    @property
    def outstanding(self) -> int:
        """Claimed (and sent) but not yet received."""
        if self.claim is None or self.claim.status not in (*SENT, "queried"):
            return 0
        return max(0, self.claimed - self.received)

    @property
    def status(self) -> str:
        return self.claim.status if self.claim else "not prepared"


@dataclass
class StreamClaims:
    """A stream's claims for a year with the totals finance watches."""

    stream: FundingStream
    allocation: Allocation
    frequency: str
    cells: list[Cell]
    forecast: int
    #: The quarter in progress (``tracker/periods.py``): forecasts are as at it.
    quarter_in_progress: int

    @property
    def revised(self) -> int:
        return self.allocation.revised_pence

    def total(self, what: str) -> int:
        return sum(getattr(c, what) for c in self.cells)

    @property
    def has_carry(self) -> bool:
        """Whether any period's negative was carried into a later one (the grid then shows the carry)."""
        return any(c.carried_forward or c.brought_forward for c in self.cells)

    @property
    def carried_out_of_the_year(self) -> int:
        """The negative left after the last period (0 or less): credits no claim of the year could net off."""
        return self.cells[-1].carried_forward if self.cells else 0

    @property
    def over_the_grant(self) -> int:
        """Claimable beyond the revised allocation: it cannot be claimed and falls to the PCC."""
        return max(0, self.total("claimable") - self.revised)

    @property
    def final_made(self) -> bool:
        final = self.cells[-1].claim if self.cells else None
        return final is not None and final.status in SENT

    @property
    def underspend_lost(self) -> int | None:
        """After the final claim: what is left of the allocation unclaimed (None before)."""
        return rules.underspend_lost(self.revised, self.total("claimed")) if self.final_made else None

    @property
    def underspend_at_risk(self) -> int | None:
        """From Q3 until the final claim: the allocation the forecast outturn leaves unspent (None otherwise)."""
        if self.quarter_in_progress < 3 or self.final_made:
            return None
        return max(0, self.revised - self.forecast)

    def claimed_elsewhere(self, period: int) -> int:
        return sum(c.claimed for c in self.cells if c.period != period)


def _stream_figures(yf: figures.YearFigures) -> dict[int, figures.Figures]:
    return {f.key: f for f in yf.streams}


def year_claims(year: FundingYear, yf: figures.YearFigures | None = None,
                today: date | None = None) -> list[StreamClaims]:
    """Every stream with an allocation in the year, with each claim period (a fixed number of queries)."""
    quarter = quarter_in_progress(year.label, today or date.today())
    yf = yf or figures.year_figures(year, quarter, today)
    allocations = db.session.scalars(
        select(Allocation).where(Allocation.funding_year_id == year.id)
        .options(joinedload(Allocation.funding_stream))).all()
    claims = {(c.funding_stream_id, c.period): c for c in db.session.scalars(
        select(Claim).where(Claim.funding_year_id == year.id))}
    ledger = ledger_by_stream_month(year)
    by_stream = _stream_figures(yf)
    out = []
    for a in sorted(allocations, key=lambda a: a.funding_stream.name):
        s = a.funding_stream
        existing = [c for (sid, _p), c in claims.items() if sid == s.id]
        # Claims already made keep the frequency they were made under.
        frequency = existing[0].frequency if existing else s.claim_frequency
        sf = by_stream.get(s.id)
        periods = range(1, rules.periods_in_year(frequency) + 1)
        spends = [claimable_of(s, frequency, p, ledger.get(s.id, {}), sf.profile if sf else [0, 0, 0, 0])
                  for p in periods]
        cells = []
        # A period's negative is netted off the stream's next claims (rules.carry_forward), not lost.
        for p, netted in zip(periods, rules.carry_forward(spends)):
            cells.append(Cell(
                p, rules.period_name(year.label, frequency, p),
                rules.due_date(year.label, frequency, p, s.claim_timing, s.claim_due_days, s.final_claim_due_days),
                rules.is_final(frequency, p), netted.claimable, claims.get((s.id, p)),
                spend=netted.spend, brought_forward=netted.brought_forward, carried_forward=netted.carried_forward))
        out.append(StreamClaims(s, a, frequency, cells, sf.forecast if sf else 0, quarter))
    return out


def stream_claims_of(claim: Claim) -> tuple[StreamClaims, Cell]:
    """The stream row and cell a claim belongs to."""
    for sc in year_claims(claim.funding_year):
        if sc.stream.id == claim.funding_stream_id:
            return sc, next(c for c in sc.cells if c.period == claim.period)
    abort_with(409, "This claim's stream has no allocation in the year any more.")


# --- One claim -----------------------------------------------------------------------------------------------

def get_claim_or_404(claim_id: int) -> Claim:
    """The claim, or 404; also a 404 to a viewer for a claim not sent to the funder (a draft or a queried one),
    so its page, schedule and versions do not exist for them."""
    claim = get_or_404(Claim, claim_id, "There is no such claim.", joinedload(Claim.funding_year),
                       joinedload(Claim.funding_stream),
                       selectinload(Claim.submissions).joinedload(ClaimSubmission.submitted_by))
    if not rules.seen_by(claim.status, _role()):
        abort_with(404, "There is no such claim.")
    return claim


def _role() -> str:
    """The signed-in person's role (none outside a request: the command line and imports see everything)."""
    from flask import has_request_context
    from flask_login import current_user

    if has_request_context() and current_user.is_authenticated:
        return current_user.role
    return ""


def hide_unsent(claims: list[StreamClaims]) -> list[StreamClaims]:
    """The year's claims as the signed-in person may see them: for a viewer, a claim not yet sent to the funder
    is left out of its cell (no link, no amount), as if not prepared."""
    role = _role()
    for sc in claims:
        for cell in sc.cells:
            if cell.claim is not None and not rules.seen_by(cell.claim.status, role):
                cell.claim = None
    return claims


def claim_title(claim: Claim) -> str:
    return (f"{claim.funding_stream.name} claim, {claim.funding_year.label} "
            f"{rules.period_name(claim.funding_year.label, claim.frequency, claim.period)}")


def prepare(year: FundingYear, stream: FundingStream, period: int) -> Claim:
    """The draft claim for a stream and period (made if there is none), claiming what the ledger shows as
    claimable within what is left of the allocation. Of two prepares at once, the second opens the claim the
    first made (the year, stream and period are unique) instead of failing."""
    require_open_year(year)
    rows = [sc for sc in year_claims(year) if sc.stream.id == stream.id]
    if not rows:
        raise Refused(f"{stream.name} has no allocation in {year.label}, so there is nothing to claim.")
    sc = rows[0]
    cell = next((c for c in sc.cells if c.period == period), None)
    if cell is None:
        raise Refused(f"{stream.name} claims {sc.frequency}: there is no claim period {period}.")
    if cell.claim is not None:
        return cell.claim
    allocation, elsewhere = _headroom(year.id, stream.id, period)
    claimed, _over = rules.within_the_grant(allocation.revised_pence, elsewhere, cell.claimable)
    claim = Claim(funding_year_id=year.id, funding_stream_id=stream.id, period=period, frequency=sc.frequency,
                  claimed_pence=claimed, status="draft")
    try:
        db.session.add(claim)
        db.session.flush()
    except IntegrityError:  # another request made this period's claim first: open theirs (this one wrote nothing)
        db.session.rollback()
        return db.session.scalars(select(Claim).where(
            Claim.funding_year_id == year.id, Claim.funding_stream_id == stream.id, Claim.period == period)).one()
    audit.record(REALM, "create", claim, f"Claim prepared: {stream.name} {year.label} {cell.name}",
                 None, audit.snapshot(claim, CLAIM_FIELDS))
    return claim


def _headroom(year_id: int, stream_id: int, period: int) -> tuple[Allocation, int]:
    """The stream's allocation, locked to the end of this transaction, and what the year's other claims on it
    claim, read after the lock: two claims saved at once are checked one after the other, each against the
    other's amount, so together they never pass the allocation."""
    lock_allocation(year_id, stream_id)
    allocation = db.session.scalars(select(Allocation).where(
        Allocation.funding_year_id == year_id, Allocation.funding_stream_id == stream_id)
        .execution_options(populate_existing=True)).first()
    if allocation is None:
        abort_with(409, "This claim's stream has no allocation in the year any more.")
    return allocation, claimed_against(year_id, stream_id, except_period=period)


def claimed_against(year_id: int, stream_id: int, except_period: int | None = None) -> int:
    """What the year's claims on a stream claim in all (but the one for ``except_period``), read from the
    database, never from records this request already holds (they may be out of date)."""
    query = select(func.coalesce(func.sum(Claim.claimed_pence), 0)).where(
        Claim.funding_year_id == year_id, Claim.funding_stream_id == stream_id)
    if except_period is not None:
        query = query.where(Claim.period != except_period)
    return int(db.session.scalar(query) or 0)


def lock_allocation(year_id: int, stream_id: int) -> None:
    """Hold the stream's allocation for the rest of this transaction: a claim saved and the allocation revised at
    the same moment are then checked one after the other. (An UPDATE that changes nothing takes the row lock on
    PostgreSQL and the write lock on SQLite alike.)"""
    db.session.execute(sql_update(Allocation).where(Allocation.funding_year_id == year_id,
                                                    Allocation.funding_stream_id == stream_id)
                       .values(revised_pence=Allocation.revised_pence)
                       .execution_options(synchronize_session=False))


def cap_problem(claim: Claim, claimed: int) -> str | None:
    """Why ``claimed`` cannot be claimed on ``claim`` (None when it can): cumulative claims never exceed the
    revised allocation. Checked on the allocation locked for this transaction (``_headroom``)."""
    allocation, elsewhere = _headroom(claim.funding_year_id, claim.funding_stream_id, claim.period)
    total = elsewhere + claimed
    if total > allocation.revised_pence:
        over = total - allocation.revised_pence
        return (f"Claims for {claim.funding_stream.name} in {claim.funding_year.label} would come to "
                f"{format_pence(total)}, {format_pence(over)} over the allocation of "
                f"{format_pence(allocation.revised_pence)}: claim at most {format_pence(max(0, claimed - over))}. "
                "Over the grant: falls to the PCC.")
    return None


def _require_editable(claim: Claim) -> None:
    require_open_year(claim.funding_year)
    if claim.status not in EDITABLE:
        abort_with(409, f"This claim is {claim.status}, so it is frozen as submitted. If the funder queries it, "
                        "mark it queried and submit a corrected version.")


def _lost(claim: Claim, action: str) -> str:
    """What the 409 page says when ``action`` found the claim changed since the page was shown."""
    return (f"This claim changed after you opened it, so your {action} was not made. The claim as it stands now "
            "is shown below: check it and, if your change is still needed, make it again.")


def _move(claim: Claim, shown: int | None, action: str, from_states: tuple[str, ...], **values) -> dict:
    """Make one change to the claim: refused (``locking.Stale``) when the form was shown at another version,
    then a single UPDATE conditional on the version and status read now. Returns the changed fields before."""
    locking.check_version(claim, shown, "row_version", _lost(claim, action))
    before = audit.snapshot(claim, CLAIM_FIELDS)
    locking.transition(claim, from_states, version_attr="row_version", message=_lost(claim, action), **values)
    return before


def update(claim: Claim, claimed: int, signed_off_by: str, note: str, version: int | None = None) -> None:
    """Change a draft (or queried) claim's amount, sign-off and note (``version``: the one the form showed)."""
    _require_editable(claim)
    locking.check_version(claim, version, "row_version", _lost(claim, "save"))
    problem = cap_problem(claim, claimed)
    if problem:
        raise Refused(problem)
    before = _move(claim, version, "save", EDITABLE, claimed_pence=claimed,
                   signed_off_by=(signed_off_by or "").strip(), note=(note or "").strip())
    b, a = audit.diff(before, audit.snapshot(claim, CLAIM_FIELDS))
    if a:
        audit.record(REALM, "change", claim, f"{claim_title(claim)} changed", b, a)


def submit(claim: Claim, user: User | None, submitted_on: date, now: datetime | None = None,
           version: int | None = None) -> ClaimSubmission:
    """Send the claim: freeze its schedule as the next version (same bytes on every download). The status moves
    first, in one conditional UPDATE; the schedule is then built from the claim as that UPDATE locked it, so
    the amount sent is the amount kept."""
    from tracker.claims.schedule import schedule_bytes

    _require_editable(claim)
    locking.check_version(claim, version, "row_version", _lost(claim, "submission"))
    if not claim.signed_off_by.strip():
        raise Refused("Say who signed the claim off before submitting it.")
    problem = rules.date_problem(claim.funding_year.label, submitted_on, "date submitted")
    if problem:
        raise Refused(problem)
    problem = cap_problem(claim, claim.claimed_pence)
    if problem:
        raise Refused(problem)
    before = _move(claim, version, "submission", EDITABLE, status="submitted", submitted_on=submitted_on,
                   version=Claim.version + 1)
    sc, cell = stream_claims_of(claim)
    submission = ClaimSubmission(claim=claim, version=claim.version, claimed_pence=claim.claimed_pence,
                                 claimable_pence=cell.claimable, submitted_at=(now or utcnow()).replace(microsecond=0),
                                 submitted_by_id=user.id if user else None)
    db.session.add(submission)
    db.session.flush()
    content = schedule_bytes(claim, sc, cell, submission)
    stored = files.write(CLAIMS_FOLDER, files.generated_name("xlsx", f"claim-{claim.id}-v{claim.version}"), content)
    submission.stored_path, submission.sha256, submission.size_bytes = stored.path, stored.sha256, stored.size_bytes
    b, a = audit.diff(before, audit.snapshot(claim, CLAIM_FIELDS))
    audit.record(REALM, "change", claim, f"{claim_title(claim)} submitted, version {claim.version} "
                 f"({format_pence(claim.claimed_pence)})", b, {**a, "sha256": submission.sha256})
    return submission


def decide(claim: Claim, status: str, note: str = "", decided_on: date | None = None,
           version: int | None = None) -> None:
    """The funder approved or queried a submitted claim, on ``decided_on`` (never before it was submitted), in one
    conditional update from the state the form was shown at (``version``)."""
    require_open_year(claim.funding_year)
    allowed = {"approved": ("submitted", "queried"), "queried": ("submitted", "approved")}
    if status not in allowed:
        raise Refused("Choose approved or queried.")
    locking.check_version(claim, version, "row_version", _lost(claim, "decision"))
    if claim.status not in allowed[status]:
        raise Refused(f"A {claim.status} claim cannot be marked {status}.")
    if decided_on is not None:
        if claim.submitted_on and decided_on < claim.submitted_on:
            raise Refused(f"The decision cannot be before the claim was submitted ({claim.submitted_on:%d/%m/%Y}).")
        if problem := rules.date_problem(claim.funding_year.label, decided_on, "date of the decision"):
            raise Refused(problem)
    text = claim.note
    if (note or "").strip():
        text = (text + "\n" if text else "") + f"{status.capitalize()}: {note.strip()}"
    before = _move(claim, version, "decision", allowed[status], status=status, note=text, decided_on=decided_on)
    b, a = audit.diff(before, audit.snapshot(claim, CLAIM_FIELDS))
    audit.record(REALM, "change", claim, f"{claim_title(claim)} {status}", b, a)


def record_payment(claim: Claim, paid_on: date, received: int, remittance: str, confirmed: bool = False,
                   version: int | None = None) -> None:
    """The funder paid: the date, the amount received and the remittance reference, in one conditional update
    from the state the form was shown at (``version``). More than was claimed is recorded only ``confirmed``
    (NeedsConfirmation otherwise), and the audit entry says it was confirmed."""
    require_open_year(claim.funding_year)
    locking.check_version(claim, version, "row_version", _lost(claim, "payment"))
    if claim.status not in ("submitted", "approved"):
        raise Refused(f"Only a submitted or approved claim can be paid; this one is {claim.status}.")
    if claim.submitted_on and paid_on < claim.submitted_on:
        raise Refused(f"The payment date cannot be before the claim was submitted ({claim.submitted_on:%d/%m/%Y}).")
    problem = rules.date_problem(claim.funding_year.label, paid_on, "payment date")
    if problem:
        raise Refused(problem)
    over = rules.payment_over_claim(claim.claimed_pence, received)
    if over and not confirmed:
        raise NeedsConfirmation(over)
    before = _move(claim, version, "payment", ("submitted", "approved"), status="paid", paid_on=paid_on,
                   received_pence=received, remittance_reference=(remittance or "").strip())
    b, a = audit.diff(before, audit.snapshot(claim, CLAIM_FIELDS))
    audit.record(REALM, "change", claim, f"{claim_title(claim)} paid: {format_pence(received)} received"
                 + (f", more than the {format_pence(claim.claimed_pence)} claimed (confirmed)" if over else ""), b, a)


def get_submission_or_404(claim: Claim, version: int) -> ClaimSubmission:
    """Version ``version`` of a claim (already checked for who may see it), or 404."""
    submission = next((s for s in claim.submissions if s.version == version), None)
    if submission is None:
        abort_with(404, f"This claim has no submitted version {version}.")
    return submission


def stored_schedule(submission: ClaimSubmission) -> bytes:
    """A submitted claim's schedule, exactly as submitted (checked against its SHA-256)."""
    try:
        return files.read(submission.stored_path, sha256=submission.sha256)
    except (files.OutsideDataDir, FileNotFoundError, files.FileChanged):
        abort_with(410, "The file of this claim submission is missing or no longer matches what was submitted. "
                        "Restore it from the backup.")


# --- Conditions -------------------------------------------------------------------------------------------------

@dataclass
class ConditionRow:
    condition: GrantCondition
    assessment: rules.Assessment
    #: What the condition asks, in words.
    wording: str
    #: Figures shown beside (e.g. pledged match funding).
    beside: dict = field(default_factory=dict)
    #: For a ring fence, which side the row judges: "labour" or "non-labour" (a ring fence is two rows);
    #: empty for every other condition.
    side: str = ""

    @property
    def anchor(self) -> str:
        """The row's id on the year page (the home page links to it); a condition's first row is its own."""
        return f"condition-{self.condition.id}" + ("-non-labour" if self.side == "non-labour" else "")

    @property
    def first(self) -> bool:
        """Whether this is the condition's first row (where its Remove button goes)."""
        return self.side != "non-labour"


def match_totals(year: FundingYear) -> dict[int, dict[str, int]]:
    """Pledged and evidenced match funding per stream (evidenced counts only with a document); one query."""
    rows = db.session.execute(
        select(MatchContribution.funding_stream_id, MatchContribution.kind,
               func.sum(MatchContribution.pledged_pence),
               func.sum(MatchContribution.evidenced_pence).filter(MatchContribution.document_id.is_not(None)))
        .where(MatchContribution.funding_year_id == year.id)
        .group_by(MatchContribution.funding_stream_id, MatchContribution.kind))
    out: dict = defaultdict(lambda: {"pledged": 0, "evidenced": 0, "cash": 0, "in_kind": 0})
    for stream_id, kind, pledged, evidenced in rows:
        out[stream_id]["pledged"] += int(pledged or 0)
        out[stream_id]["evidenced"] += int(evidenced or 0)
        out[stream_id][kind] = out[stream_id].get(kind, 0) + int(pledged or 0)
    return out


def year_conditions(year: FundingYear, yf: figures.YearFigures | None = None) -> list[ConditionRow]:
    """Every condition of the year with its status and shortfall, judged on the figures engine's budget and
    forecast (a fixed number of queries)."""
    yf = yf or figures.year_figures(year, quarter_in_progress(year.label, date.today()))
    conditions = db.session.scalars(
        select(GrantCondition).where(GrantCondition.funding_year_id == year.id)
        .options(joinedload(GrantCondition.funding_stream), joinedload(GrantCondition.category),
                 joinedload(GrantCondition.strand)).order_by(GrantCondition.id)).all()
    if not conditions:
        return []
    streams = _stream_figures(yf)
    match = match_totals(year) if any(c.kind == "match_share" for c in conditions) else {}
    out = []
    for c in conditions:
        sf = streams.get(c.funding_stream_id)
        allocation = sf.target if sf else 0
        lines = [(line, f) for line, f in yf.lines if line.funding_stream_id == c.funding_stream_id]
        share = rules.percent_words(c.minimum_basis_points)
        stream = c.funding_stream.name
        if c.kind in ("category_share", "strand_share"):
            if c.kind == "category_share":
                chosen = [f for line, f in lines if line.category_id == c.category_id]
                what = c.category.name if c.category else "?"
            else:
                chosen = [f for line, f in lines if line.strand_id == c.strand_id]
                what = c.strand.name if c.strand else "?"
            need = rules.required(allocation, c.minimum_basis_points)
            a = rules.minimum(need, sum(f.budget for f in chosen), sum(f.forecast for f in chosen))
            out.append(ConditionRow(c, a, f"{what}: at least {share} of {stream} ({format_pence(need)})"))
        elif c.kind == "match_share":
            m = match.get(c.funding_stream_id, {"pledged": 0, "evidenced": 0, "cash": 0, "in_kind": 0})
            need = rules.required(allocation, c.minimum_basis_points)
            a = rules.minimum(need, m["pledged"], m["evidenced"])
            out.append(ConditionRow(c, a, f"Match funding: at least {share} of {stream} ({format_pence(need)})",
                                    {"pledged": m["pledged"], "evidenced": m["evidenced"], "cash": m["cash"],
                                     "in_kind": m["in_kind"]}))
        else:
            labour_limit = c.labour_pence or 0
            non_labour_limit = allocation - labour_limit
            lab = [f for line, f in lines if line.labour]
            non = [f for line, f in lines if not line.labour]
            labour, non_labour = rules.ring_fence(
                labour_limit, non_labour_limit, sum(f.budget for f in lab), sum(f.budget for f in non),
                sum(f.forecast for f in lab), sum(f.forecast for f in non))
            # Two rows, each side with its own figures: one row mixed the labour side's figures with the
            # non-labour side's shortfall.
            out.append(ConditionRow(c, labour, f"{stream} ring fence, labour: within "
                                               f"{format_pence(labour_limit)}", side="labour"))
            out.append(ConditionRow(c, non_labour, f"{stream} ring fence, non-labour: within "
                                                   f"{format_pence(non_labour_limit)} (the rest of the allocation)",
                                    side="non-labour"))
    return out


def conditions_needing_attention(year: FundingYear | None,
                                 yf: figures.YearFigures | None = None) -> list[ConditionRow]:
    """For the home page: the conditions of the year at risk or not met."""
    if year is None:
        return []
    return [r for r in year_conditions(year, yf) if r.assessment.status != rules.MET]


def get_condition_or_404(condition_id: int) -> GrantCondition:
    return get_or_404(GrantCondition, condition_id, "There is no such grant condition.",
                      joinedload(GrantCondition.funding_year), joinedload(GrantCondition.funding_stream))


def add_condition(year: FundingYear, **values) -> GrantCondition:
    require_open_year(year)
    condition = GrantCondition(funding_year_id=year.id, **values)
    db.session.add(condition)
    db.session.flush()
    db.session.refresh(condition)
    audit.record(REALM, "create", condition, f"Grant condition added to {year.label}: "
                 f"{condition.funding_stream.name}, {condition.kind.replace('_', ' ')}",
                 None, audit.snapshot(condition, CONDITION_FIELDS))
    return condition


def delete_condition(condition: GrantCondition) -> None:
    require_open_year(condition.funding_year)
    audit.record(REALM, "delete", condition, f"Grant condition removed from {condition.funding_year.label}: "
                 f"{condition.funding_stream.name}, {condition.kind.replace('_', ' ')}",
                 audit.snapshot(condition, CONDITION_FIELDS), None)
    db.session.delete(condition)


# --- Match contributions ------------------------------------------------------------------------------------------

def year_contributions(year: FundingYear) -> list[MatchContribution]:
    return list(db.session.scalars(
        select(MatchContribution).where(MatchContribution.funding_year_id == year.id)
        .options(joinedload(MatchContribution.funding_stream), joinedload(MatchContribution.document))
        .order_by(MatchContribution.partner, MatchContribution.id)))


def get_contribution_or_404(contribution_id: int) -> MatchContribution:
    return get_or_404(MatchContribution, contribution_id, "There is no such match contribution.",
                      joinedload(MatchContribution.funding_year))


def contribution_to_change_or_404(contribution_id: int) -> MatchContribution:
    """A match contribution that may change: 404 when there is none, 409 when its year is closed."""
    contribution = get_contribution_or_404(contribution_id)
    require_open_year(contribution.funding_year)
    return contribution


def save_contribution(year: FundingYear, contribution: MatchContribution | None, confirmed: bool = False,
                      version: int | None = None, **values) -> MatchContribution:
    """Record a contribution, or change one from a form shown at ``version`` (``locking.Stale`` when someone else
    saved it since, or saves it at the same moment). Evidence above the pledge is kept only ``confirmed``
    (NeedsConfirmation otherwise)."""
    require_open_year(year)
    if contribution is not None:
        locking.check_version(contribution, version)
    if values.get("evidenced_pence") and not values.get("document_id"):
        raise Refused("Evidenced money needs its evidence: choose the document that shows it.")
    over = rules.evidence_over_pledge(values.get("pledged_pence") or 0, values.get("evidenced_pence") or 0)
    if over and not confirmed:
        raise NeedsConfirmation(over)
    if contribution is None:
        contribution = MatchContribution(funding_year_id=year.id, **values)
        db.session.add(contribution)
        db.session.flush()
        audit.record(REALM, "create", contribution, f"Match contribution from {contribution.partner} added to "
                     f"{year.label}", None, audit.snapshot(contribution, MATCH_FIELDS))
    else:
        audit.update(REALM, contribution, MATCH_FIELDS, f"Match contribution from {values.get('partner')} changed",
                     **values)
        locking.flush(contribution)
    if over:
        audit.record(REALM, "change", contribution, f"Match contribution from {contribution.partner}: evidenced "
                     "above the pledge, confirmed", None, {"evidence_over_pledge_confirmed": over})
    return contribution


def delete_contribution(contribution: MatchContribution) -> None:
    require_open_year(contribution.funding_year)
    audit.record(REALM, "delete", contribution, f"Match contribution from {contribution.partner} removed",
                 audit.snapshot(contribution, MATCH_FIELDS), None)
    db.session.delete(contribution)


# --- Virements and ring fences ------------------------------------------------------------------------------------

def ring_fence_of(year_id: int, stream_id: int) -> GrantCondition | None:
    return db.session.scalar(select(GrantCondition).where(
        GrantCondition.funding_year_id == year_id, GrantCondition.funding_stream_id == stream_id,
        GrantCondition.kind == "ring_fence").limit(1))


def needs_approval(from_line: BudgetLine, to_line: BudgetLine) -> str | None:
    """Why moving money between these lines needs the funder's approval (None when it does not): between two
    streams, or across a stream's labour / non-labour ring fence (a ring-fence condition, or a stream whose
    funder wants the labour split)."""
    if from_line.funding_stream_id != to_line.funding_stream_id:
        return "it moves money from one funding stream to another"
    if from_line.labour != to_line.labour:
        stream = from_line.funding_stream
        if stream.labour_split or ring_fence_of(from_line.funding_year_id, stream.id) is not None:
            side = "labour to non-labour" if from_line.labour else "non-labour to labour"
            return f"it moves {stream.name} money from {side}, across the ring fence"
    return None


def _move_profile(from_line: BudgetLine, to_line: BudgetLine, amount: int) -> tuple[list[int], list[int]]:
    """Take ``amount`` from the latest quarters of ``from_line``'s profile and add it to the same quarters of
    ``to_line``'s, so both profiles still add up to their amounts."""
    src, dst = list(from_line.profile), list(to_line.profile)
    left = amount
    for q in (3, 2, 1, 0):
        take = min(left, max(0, src[q]))
        src[q] -= take
        dst[q] += take
        left -= take
    if left:  # the profile held less than the amount: the rest comes off Q4
        src[3] -= left
        dst[3] += left
    return src, dst


def make_virement(year: FundingYear, from_line: BudgetLine, to_line: BudgetLine, amount: int, reason: str,
                  approval_reference: str = "", user_id: int | None = None) -> Virement:
    """Move ``amount`` from one budget line to another in the same year. Refused (``Refused``, nothing changed)
    across a ring fence or between streams without the funder's approval reference. An approved move across a
    ring fence moves the ring-fenced amounts with it."""
    from tracker.funding.service import update_line

    require_open_year(year)
    reason, approval_reference = (reason or "").strip(), (approval_reference or "").strip()
    if from_line.id == to_line.id:
        raise Refused("Choose two different budget lines.")
    if from_line.funding_year_id != year.id or to_line.funding_year_id != year.id:
        raise Refused(f"Both budget lines must be in {year.label}.")
    if amount <= 0:
        raise Refused("Enter an amount above £0.00.")
    if amount > from_line.amount_pence:
        raise Refused(f"{from_line.description or from_line.name} has only {format_pence(from_line.amount_pence)} "
                      "to move.")
    if not reason:
        raise Refused("Say why the money is moved.")
    why = needs_approval(from_line, to_line)
    if why and not approval_reference:
        raise Refused(f"This virement needs the funder's approval: {why}. Enter the funder's approval reference.")
    src, dst = _move_profile(from_line, to_line, amount)
    words = f"virement of {format_pence(amount)}: {reason}" + (f" (approval {approval_reference})" if approval_reference else "")
    update_line(from_line, reason=words, amount_pence=from_line.amount_pence - amount,
                q1_pence=src[0], q2_pence=src[1], q3_pence=src[2], q4_pence=src[3])
    update_line(to_line, reason=words, amount_pence=to_line.amount_pence + amount,
                q1_pence=dst[0], q2_pence=dst[1], q3_pence=dst[2], q4_pence=dst[3])
    if why and from_line.funding_stream_id == to_line.funding_stream_id:
        fence = ring_fence_of(year.id, from_line.funding_stream_id)
        if fence is not None:
            moved = -amount if from_line.labour else amount
            audit.update(REALM, fence, CONDITION_FIELDS, f"Ring fence of {from_line.funding_stream.name} moved by "
                         f"approved virement ({approval_reference})", labour_pence=(fence.labour_pence or 0) + moved)
    virement = Virement(funding_year_id=year.id, from_line_id=from_line.id, to_line_id=to_line.id, amount_pence=amount,
                        reason=reason, approval_reference=approval_reference,
                        made_by_id=user_id if user_id is not None else audit.acting_user_id())
    db.session.add(virement)
    db.session.flush()
    audit.record("funding", "create", virement, f"Virement in {year.label}: {format_pence(amount)} from "
                 f"{from_line.name} to {to_line.name}", None,
                 {"amount_pence": amount, "from_line_id": from_line.id, "to_line_id": to_line.id, "reason": reason,
                  "approval_reference": approval_reference})
    return virement


def year_virements(year: FundingYear) -> list[Virement]:
    return list(db.session.scalars(
        select(Virement).where(Virement.funding_year_id == year.id)
        .options(joinedload(Virement.from_line).joinedload(BudgetLine.funding_stream),
                 joinedload(Virement.to_line).joinedload(BudgetLine.funding_stream))
        .order_by(Virement.made_at.desc(), Virement.id.desc())))


# --- Bridging: spend before the grant agreement is signed -------------------------------------------------------

@dataclass
class Bridging:
    stream: FundingStream
    allocation: Allocation
    at_risk: int
    actual: int
    committed: int


def bridging(year: FundingYear, yf: figures.YearFigures | None = None) -> list[Bridging]:
    """Streams whose allocation is still a draft: spend and commitments against them are at risk until the grant
    agreement is signed (actual to date plus outstanding commitment, from the figures engine)."""
    drafts = [a for a in db.session.scalars(
        select(Allocation).where(Allocation.funding_year_id == year.id, Allocation.status == "draft")
        .options(joinedload(Allocation.funding_stream)))]
    if not drafts:
        return []
    yf = yf or figures.year_figures(year, quarter_in_progress(year.label, date.today()))
    streams = _stream_figures(yf)
    out = []
    for a in drafts:
        f = streams.get(a.funding_stream_id)
        actual, outstanding = (f.actual_to_date, f.outstanding) if f else (0, 0)
        out.append(Bridging(a.funding_stream, a, actual + outstanding, actual, outstanding))
    return out
