"""Deadlines: the ones the app makes from funding years and commissions, how they stay in step with their
source, and the grouping, filtering and marking (weekends, bank holidays) every screen and feed shares.

How generated deadlines follow their source
-------------------------------------------
Other areas own the funding-year and commission screens, and data also changes through imports and the
command line. Rather than asking every one of those code paths to remember to call us, we listen to the
SQLAlchemy session (``register_session_events``):

* ``after_flush`` notes that a funding year, a commission or a deadline setting was added, changed or deleted;
* ``before_commit`` then runs ``sync_deadlines`` in the same transaction, so the source change and its
  deadlines commit (or roll back) together, whichever screen or script made the change;
* ``before_flush`` clears the way when a funding year or commission is deleted (its untouched generated
  deadlines go, anything a person entered is kept with the link removed) so the delete is not blocked by
  the foreign key.

Why not sync when the deadlines list loads? Because the calendar feed, the digest and the navigation badge
read deadlines too, and a read that writes is a poor fit for GET requests and concurrent users. Bulk SQL
(``session.execute(update(...))``) bypasses the session events: run ``flask deadlines-sync`` after one
(the digest also syncs before it reads). ``sync_deadlines`` is idempotent, so running it again is harmless.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import holidays
from sqlalchemy import and_, case, event, func, not_, or_, select
from sqlalchemy.orm import Session, joinedload

from tracker import audit, settings
from tracker.claims.deadlines import GRANT_DEADLINE_SETTINGS, grant_deadlines
from tracker.errors import get_or_404
from tracker.funding.rules import choose_year, require_open_year
from tracker.models import Allocation, Commission, FundingStream, FundingYear, Milestone, Setting, User
from tracker.models.monitoring import Document
from tracker.models.milestones import EVENT_KINDS, PROGRAMMES
from tracker.models.funding import YEAR_CLOSED
from tracker.models.users import ADMIN, FINANCE, MANAGER
from tracker.periods import quarter_bounds
from tracker.procurement.rules import NOTICE_SETTINGS

CLOSED_STATUSES = ("done", "missed")
DUE_SOON_DAYS = 30
# Settings whose change moves generated deadlines (the grant's own are in tracker/claims/deadlines.py, the
# Procurement Act's in tracker/procurement/notices.py).
# (The transparency files' two due-date settings are named here: importing that module at the top would be circular.)
DEADLINE_SETTINGS = ("return_due_days", "year_end_claim_due_days", "annual_report_due_days", *GRANT_DEADLINE_SETTINGS,
                     *NOTICE_SETTINGS, "spend_monthly_due_days", "spend_quarterly_due_months")
# What the add and edit forms save, and what the audit trail records of a milestone.
FIELDS = ("title", "programme", "due_date", "owner_id", "status", "completed_date", "evidence", "evidence_link",
          "funding_year_id", "commission_id")
# What a person may have entered on a generated deadline: sync never overwrites these.
PERSON_FIELDS = ("status", "completed_date", "evidence", "evidence_link", "owner_id")


def get_milestone_or_404(milestone_id: int) -> Milestone:
    return get_or_404(Milestone, milestone_id, "There is no milestone with that number. It may have been removed.",
                      joinedload(Milestone.owner), joinedload(Milestone.commission), joinedload(Milestone.funding_year))


def milestone_to_change_or_404(milestone_id: int) -> Milestone:
    """A milestone that may change: 404 when there is none, 409 when its funding year is closed."""
    m = get_milestone_or_404(milestone_id)
    require_open_year(m.funding_year)
    return m


# --- What the sources say the deadlines should be --------------------------------------------------------

@dataclass(frozen=True)
class Wanted:
    """A deadline as its source says it should be."""

    source_key: str
    title: str
    due_date: date
    programme: str
    kind: str
    funding_year_id: int | None
    commission_id: int | None = None
    #: Who owns it unless a person chooses someone else (None: nobody can be worked out).
    owner_id: int | None = None
    #: For a task that its source has settled (a decision on the end was recorded, or the commission ended):
    #: the evidence to close it with. It is then not made if it does not exist yet.
    settled: str | None = None


DECISION_TITLE = "decide: extend, re-procure or let end"


class DefaultOwners:
    """Who owns a generated deadline until a person picks someone: a commission's tasks, its contract manager
    (the user whose name or e-mail the commission gives), else nobody (the managers'); a year's tasks, the finance
    lead of the year's stream (the stream with the largest allocation that year that has a lead, else any
    stream's lead). Read once per sync."""

    def __init__(self, session: Session):
        # Only people who can act on a task own one: not viewers (the PCC office), not disabled accounts.
        users = session.scalars(select(User).where(User.active.is_(True), User.role.in_((ADMIN, MANAGER, FINANCE)))
                                .order_by(User.id)).all()
        self.by_name: dict[str, int] = {}
        for u in users:
            for key in (u.name, u.email):
                self.by_name.setdefault((key or "").strip().casefold(), u.id)
        leads = {u.id for u in users}
        rows = session.execute(
            select(Allocation.funding_year_id, FundingStream.finance_lead_id)
            .join(FundingStream, FundingStream.id == Allocation.funding_stream_id)
            .where(FundingStream.finance_lead_id.is_not(None))
            .order_by(Allocation.revised_pence.desc(), FundingStream.id)).all()
        self.by_year: dict[int, int] = {}
        for year_id, lead in rows:
            if lead in leads:
                self.by_year.setdefault(year_id, lead)
        self.any_lead = session.scalar(
            select(FundingStream.finance_lead_id).join(User, User.id == FundingStream.finance_lead_id)
            .where(User.id.in_(leads))
            .order_by(FundingStream.active.desc(), FundingStream.id).limit(1))

    def for_year(self, year_id: int | None) -> int | None:
        return self.by_year.get(year_id) or self.any_lead

    def for_commission(self, commission: Commission) -> int | None:
        """The contract manager when they have an account; else nobody, which puts the task with the managers
        (deciding on a contract is a manager's work, not the finance lead's)."""
        manager = (commission.contract_manager or "").strip().casefold()
        return self.by_name.get(manager) if manager else None


def year_deadlines(year: FundingYear, days: dict[str, int], owners: DefaultOwners | None = None) -> list[Wanted]:
    """A funding year's quarter ends (events: the return period closes) and its quarterly returns and final claim
    (tasks for the finance lead). Its statutory documents, the annual report among them, and each stream's claims
    come from tracker/claims/deadlines.py."""
    owner = owners.for_year(year.id) if owners else None
    out = []
    for quarter in (1, 2, 3, 4):
        _start, end = quarter_bounds(year.label, quarter)
        out.append(Wanted(
            f"year:{year.id}:q{quarter}-end", f"Q{quarter} {year.label} ends: its return period closes", end,
            "VRU grant", "period end", year.id, owner_id=owner))
        out.append(Wanted(
            f"year:{year.id}:q{quarter}-return", f"Q{quarter} {year.label} quarterly return due",
            end + timedelta(days=days["return_due_days"]), "VRU grant", "quarterly return", year.id, owner_id=owner))
    out.append(Wanted(
        f"year:{year.id}:final-claim", f"Final claim for {year.label} due",
        year.end_date + timedelta(days=days["year_end_claim_due_days"]), "VRU grant", "final claim", year.id,
        owner_id=owner))
    return out


def end_settled(commission: Commission) -> str | None:
    """What settled a commission's end, as evidence for its decision task (None while nobody has decided)."""
    if commission.end_decision:
        return f"Decision on the end recorded on the commission: {commission.end_decision}."
    if commission.status == "ended":
        return "The commission was marked ended."
    return None


def commission_deadlines(commission: Commission, owners: DefaultOwners | None = None) -> list[Wanted]:
    """A commission's end (an event), the decision on its end (a task due on the end date, for the contract
    manager: closed when the decision is recorded or the commission ends) and its review date (a task).
    A terminated commission has none: it ended early."""
    if commission.status == "terminated":
        return []
    owner = owners.for_commission(commission) if owners else None
    name = f"{commission.reference} {commission.title}"
    common = dict(programme="Contract", funding_year_id=commission.funding_year_id, commission_id=commission.id,
                  owner_id=owner)
    out = [Wanted(f"commission:{commission.id}:end", f"{name}: ends", commission.end_date, kind="contract end",
                  **common),
           Wanted(f"commission:{commission.id}:decision", f"{name}: {DECISION_TITLE}", commission.end_date,
                  kind="end decision", settled=end_settled(commission), **common)]
    if commission.review_date:
        out.append(Wanted(f"commission:{commission.id}:review", f"{name}: review", commission.review_date,
                          kind="contract review", **common))
    return out


def _touched_by_a_person(m: Milestone, session: Session) -> bool:
    """A status, date or owner entered by a person, or any evidence (a note, a link, an attached document)."""
    if m.status != "not started" or m.completed_date:
        return True
    if m.owner_id and not m.owner_is_default:
        return True
    return has_evidence(m, session)


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    removed: int = 0
    kept: int = 0  # source gone, but kept because a person recorded something on it

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed or self.kept)


def sync_deadlines(session: Session | None = None, commission_ids: set[int] | None = None) -> SyncResult:
    """Make the generated deadlines match their sources: add missing ones, move ones whose source changed,
    remove ones whose source is gone. Keyed by ``source_key``, so it never duplicates and is safe to repeat.
    Status, completion, evidence and owner that a person entered are kept. Deadlines of closed years are
    left as they are (a closed year is read-only). The caller commits.

    ``commission_ids`` limits the sync to those commissions' deadlines: what a commit that changed only
    commissions needs. A full sync reads every commission, which made each quick change of one commission
    take most of a second on 5,000 commissions (while holding SQLite's write lock), found by bench/load.py."""
    from tracker.extensions import db

    session = session or db.session
    result = SyncResult()
    with session.no_autoflush:
        days = settings.get_many(*DEADLINE_SETTINGS, session=session)
        years = {y.id: y for y in session.scalars(select(FundingYear))}
        if commission_ids is None:
            commissions = session.scalars(select(Commission)).all()
            existing = {m.source_key: m for m in
                        session.scalars(select(Milestone).where(Milestone.source_key.is_not(None)))}
        else:
            ids = sorted(commission_ids)
            commissions = session.scalars(select(Commission).where(Commission.id.in_(ids))).all() if ids else []
            # A generated deadline is linked to its commission (a deleted one's are dealt with in before_flush).
            linked = session.scalars(select(Milestone).where(
                Milestone.source_key.is_not(None), Milestone.commission_id.in_(ids))).all() if ids else []
            prefixes = tuple(f"commission:{i}:" for i in ids)
            existing = {m.source_key: m for m in linked if m.source_key.startswith(prefixes)}

        owners = DefaultOwners(session)

    wanted: dict[str, Wanted] = {}
    for year in years.values() if commission_ids is None else ():
        for w in year_deadlines(year, days, owners):
            wanted[w.source_key] = w
    if commission_ids is None:
        # Claims and statutory documents are tasks too: the year's finance lead owns them by default.
        from dataclasses import replace

        wanted.update((w.source_key, w if w.owner_id is not None else replace(w, owner_id=owners.for_year(w.funding_year_id)))
                      for w in grant_deadlines(session, years.values(), days))
        # Transparency files (tracker/procurement/transparency.py): also the year's finance lead's by default.
        from tracker.procurement.transparency import publication_deadlines

        wanted.update((w.source_key, replace(w, owner_id=owners.for_year(w.funding_year_id)))
                      for w in publication_deadlines(years.values(), days))
    for commission in commissions:
        for w in commission_deadlines(commission, owners):
            wanted[w.source_key] = w
    # Procurement Act notices keep their own records (tracker/procurement/notices.py); their deadlines join in here.
    from tracker.procurement.notices import notice_deadlines

    for w in notice_deadlines(session, commissions, full=commission_ids is None):
        wanted[w.source_key] = w

    def frozen(year_id: int | None) -> bool:
        year = years.get(year_id)
        return year is not None and year.is_closed

    for key, w in wanted.items():
        m = existing.get(key)
        if m is None:
            if frozen(w.funding_year_id) or w.settled:
                continue
            session.add(Milestone(source_key=key, title=w.title, due_date=w.due_date, programme=w.programme,
                                  kind=w.kind, funding_year_id=w.funding_year_id, commission_id=w.commission_id,
                                  owner_id=w.owner_id, owner_is_default=w.owner_id is not None))
            result.created += 1
            continue
        if frozen(m.funding_year_id):
            continue
        before = audit.snapshot(m, ("title", "due_date", "funding_year_id", "owner_id", "status"))
        m.title, m.due_date, m.programme, m.kind = w.title, w.due_date, w.programme, w.kind
        m.funding_year_id, m.commission_id = w.funding_year_id, w.commission_id
        if (m.owner_id is None or m.owner_is_default) and m.owner_id != w.owner_id:
            # The app's choice follows the contract manager or finance lead; a person's choice is kept.
            m.owner_id, m.owner_is_default = w.owner_id, w.owner_id is not None
        if w.settled and m.status not in CLOSED_STATUSES:
            m.status, m.completed_date = "done", date.today()
            m.evidence = m.evidence or w.settled
            audit.record("milestones", "change", m, f"Task '{m.title}' done: {w.settled}",
                         {"status": before["status"]}, {"status": "done"})
        after = audit.snapshot(m, ("title", "due_date", "funding_year_id", "owner_id", "status"))
        if before != after:
            result.updated += 1
            if before["due_date"] != after["due_date"]:
                old, new = audit.diff(before, after)
                audit.record("milestones", "change", m, f"Deadline '{m.title}' moved with its source", old, new)

    for key, m in existing.items():
        if key in wanted or frozen(m.funding_year_id):
            continue
        _retire(session, m, result)
    if commission_ids is None:
        result.updated += settle_deadlines(session)
    return result


# --- A task closes when the record that does its work says so ---------------------------------------------

def settled_by_records(session: Session) -> dict[str, tuple[date, str]]:
    """Tasks whose work a record shows done, as ``{source_key: (date done, evidence)}``: a claim sent to the
    funder (tracker/claims/deadlines.py), a quarterly return issued (its first version), a Procurement Act notice
    published, a transparency file issued (its first version). Five small queries whatever the number of
    deadlines."""
    from tracker.claims.deadlines import settled_claims
    from tracker.models import PccReturn, ProcurementNotice

    from tracker.procurement.transparency import settled_publications

    out = settled_claims(session)
    out.update(settled_publications(session))
    returns = session.execute(
        select(PccReturn.funding_year_id, PccReturn.quarter, func.min(PccReturn.issued_at))
        .where(PccReturn.status == "issued").group_by(PccReturn.funding_year_id, PccReturn.quarter)).all()
    for year_id, quarter, issued_at in returns:
        on = issued_at.date() if issued_at else date.today()  # an issued return always has its time; data may not
        out[f"year:{year_id}:q{quarter}-return"] = (on, f"Return issued to the PCC on {on:%d/%m/%Y} (version 1).")
    for key, published_on, link in session.execute(
            select(ProcurementNotice.source_key, ProcurementNotice.published_on, ProcurementNotice.link)
            .where(ProcurementNotice.published_on.is_not(None))):
        out[key] = (published_on, f"Notice published on {published_on:%d/%m/%Y}" + (f": {link}" if link else "."))
    return out


def settle_deadlines(session: Session | None = None) -> int:
    """Close every open task whose record says its work is done (``settled_by_records``), dated the day the work
    was done, with the record as evidence; returns how many it closed. In closed years too: it records what
    happened and changes nothing a person entered (a task already done or missed is left as it is)."""
    from tracker.extensions import db

    session = session or db.session
    settled = settled_by_records(session)
    if not settled:
        return 0
    open_tasks = session.scalars(select(Milestone).where(
        Milestone.source_key.in_(list(settled)), Milestone.status.not_in(CLOSED_STATUSES))).all()
    for m in open_tasks:
        done_on, evidence = settled[m.source_key]
        before = m.status
        m.status, m.completed_date = "done", done_on
        m.evidence = m.evidence or evidence
        audit.record("milestones", "change", m, f"Task '{m.title}' done: {evidence}", {"status": before},
                     {"status": "done", "completed_date": done_on.isoformat()})
    return len(open_tasks)


def _retire(session: Session, m: Milestone, result: SyncResult) -> None:
    """A generated deadline whose source is gone: removed, unless a person recorded something on it."""
    if _touched_by_a_person(m, session):
        audit.record("milestones", "change", m, f"Deadline '{m.title}' kept after its source was removed",
                     {"source_key": m.source_key}, {"source_key": None})
        m.source_key = None
        result.kept += 1
    else:
        audit.record("milestones", "delete", m, f"Deadline '{m.title}' removed: its source is gone",
                     audit.snapshot(m, ("title", "due_date", "source_key")), None)
        session.delete(m)
        result.removed += 1


# --- The evidence rule for "done", and the changes people make -------------------------------------------
# One rule for every way a milestone is marked done (the add, edit and complete forms) and for the monitoring
# area, whose documents count as evidence. The views call these; each records its audit event and leaves the
# commit to the caller.

EVIDENCE_MESSAGE = "Add evidence before marking this milestone done: a note, a link or an attached document."


class NeedsEvidence(ValueError):
    """Marked done without the evidence the rule asks for; ``str()`` is the message for the evidence field."""


def has_evidence(m: Milestone, session: Session | None = None, *, note: str | None = None, link: str | None = None,
                 besides_document_id: int | None = None) -> bool:
    """A note, a link or at least one attached document (the monitoring area keeps documents).

    ``note`` and ``link``, when given, stand for what is about to be saved on ``m``, so a change is checked before
    it is made; ``besides_document_id`` leaves out a document about to be deleted."""
    note = m.evidence if note is None else note
    link = m.evidence_link if link is None else link
    if (note or "").strip() or (link or "").strip():
        return True
    if m.id is None:
        return False
    from tracker.extensions import db

    query = select(Document.id).where(Document.milestone_id == m.id)
    if besides_document_id is not None:
        query = query.where(Document.id != besides_document_id)
    session = session or db.session
    with session.no_autoflush:  # asking must not save a half-made change
        return session.scalar(query.limit(1)) is not None


def done_problem(m: Milestone, session: Session | None = None, **proposed) -> str | None:
    """Why ``m`` cannot be marked done (None when it can), per the ``milestone_done_needs_evidence`` setting.
    ``proposed`` is passed to ``has_evidence``."""
    if not settings.get("milestone_done_needs_evidence", session=session):
        return None
    return None if has_evidence(m, session, **proposed) else EVIDENCE_MESSAGE


def _evidence_of(values: dict) -> tuple[str, str]:
    return (values.get("evidence") or "").strip(), (values.get("evidence_link") or "").strip()


def _check_year(values: dict, session: Session) -> None:
    """A milestone may be linked only to an open year (409 otherwise)."""
    if values.get("funding_year_id"):
        require_open_year(session.get(FundingYear, values["funding_year_id"]))


def add_milestone(values: dict, session: Session | None = None) -> Milestone:
    """Add a milestone with ``values`` (names from ``FIELDS``). Raises ``NeedsEvidence`` when it is added as done
    without evidence."""
    from tracker.extensions import db

    session = session or db.session
    _check_year(values, session)
    m = Milestone(**values)
    if m.status != "done":
        m.completed_date = None
    elif problem := done_problem(m, session):
        raise NeedsEvidence(problem)
    session.add(m)
    audit.record("milestones", "create", m, f"Added milestone '{m.title}' due {m.due_date:%d/%m/%Y}",
                 None, audit.snapshot(m, FIELDS))
    return m


def change_milestone(m: Milestone, values: dict, session: Session | None = None,
                     version: int | None = None) -> list[str]:
    """Change ``m`` to ``values`` (the fields its form has: a generated deadline's date follows its source, and
    an event has no status). Returns the names of the fields that changed. Raises ``NeedsEvidence``, changing
    nothing, when it is marked done, or a done one's evidence is changed, leaving no evidence: a milestone done
    before the rule existed can still be edited otherwise. ``locking.Stale`` when the form was shown at another
    ``version`` of the milestone."""
    from tracker import locking
    from tracker.extensions import db

    session = session or db.session
    require_open_year(m.funding_year)
    locking.check_version(m, version)
    _check_year(values, session)
    before = audit.snapshot(m, FIELDS)
    after = {**before, **values}
    if after["status"] == "done" and (before["status"] != "done" or _evidence_of(before) != _evidence_of(after)) \
            and (problem := done_problem(m, session, note=after["evidence"] or "", link=after["evidence_link"] or "")):
        raise NeedsEvidence(problem)
    for name, value in values.items():
        setattr(m, name, value)
    if m.owner_id != before["owner_id"]:
        m.owner_is_default = False  # a person chose: the app no longer moves it with the contract manager
    if m.status != "done":
        m.completed_date = None
    old, new = audit.diff(before, audit.snapshot(m, FIELDS))
    if new:
        audit.record("milestones", "change", m, f"Changed milestone '{m.title}': {', '.join(new)}", old, new)
    return list(new)


def not_a_task(m: Milestone) -> str | None:
    """Why ``m`` cannot be completed: an event happens on its date and is never done (None for a task)."""
    if not m.is_event:
        return None
    return (f"'{m.title}' is an event: it happens on its date and is not marked done. "
            "Its commission's decision on the end is the task to complete.")


def complete_milestone(m: Milestone, completed_date: date, evidence: str = "", evidence_link: str = "",
                       session: Session | None = None, version: int | None = None) -> None:
    """Mark a task done on ``completed_date`` with its evidence. Raises ``NeedsEvidence``, changing nothing,
    when the rule is not met; ``ValueError`` for an event, which happens on its date and is never done;
    ``locking.Stale`` when the form was shown at another ``version``."""
    from tracker import locking
    from tracker.extensions import db

    session = session or db.session
    if problem := not_a_task(m):
        raise ValueError(problem)
    locking.check_version(m, version)
    require_open_year(m.funding_year)
    if problem := done_problem(m, session, note=evidence or "", link=evidence_link or ""):
        raise NeedsEvidence(problem)
    before = audit.snapshot(m, FIELDS)
    m.status, m.completed_date, m.evidence, m.evidence_link = "done", completed_date, evidence, evidence_link
    old, new = audit.diff(before, audit.snapshot(m, FIELDS))
    audit.record("milestones", "change", m, f"Completed milestone '{m.title}' on {completed_date:%d/%m/%Y}", old, new)


# --- Session events: keep generated deadlines in step wherever the source changes -------------------------

_PENDING = "milestones_sync_pending"


def _is_source(obj) -> bool:
    # A stream's finance lead and the allocations (which stream leads a year) choose default owners.
    return (isinstance(obj, (FundingYear, Commission, FundingStream, Allocation))
            or (isinstance(obj, Setting) and obj.key in DEADLINE_SETTINGS)
            or (isinstance(obj, User) and obj in _new_or_renamed_users(obj)))


def _new_or_renamed_users(user: User) -> tuple:
    """A user added, renamed or disabled may become (or stop being) some commission's contract manager."""
    from sqlalchemy import inspect as sa_inspect

    state = sa_inspect(user)
    if state.pending or state.deleted:
        return (user,)
    changed = any(state.attrs[name].history.has_changes() for name in ("name", "email", "active"))
    return (user,) if changed else ()


def _before_flush(session: Session, flush_context, instances) -> None:
    """Deleting a year or commission: take its deadlines out of the way first so the foreign key allows it."""
    gone_years = [o.id for o in session.deleted if isinstance(o, FundingYear) and o.id is not None]
    gone_commissions = [o.id for o in session.deleted if isinstance(o, Commission) and o.id is not None]
    if not gone_years and not gone_commissions:
        return
    with session.no_autoflush:
        linked = session.scalars(select(Milestone).where(or_(
            Milestone.funding_year_id.in_(gone_years), Milestone.commission_id.in_(gone_commissions)))).all()
        for m in linked:
            if m.funding_year_id in gone_years:
                m.funding_year_id = None
            if m.commission_id in gone_commissions:
                m.commission_id = None
            if m.source_key is not None:
                _retire(session, m, SyncResult())


_PENDING_COMMISSIONS = "milestones_sync_commissions"
_PENDING_SETTLE = "milestones_settle_pending"


def _does_work(obj) -> bool:
    """A record whose change may finish a task: a claim, a return, a Procurement Act notice, a publication."""
    from tracker.models import Claim, PccReturn, ProcurementNotice, Publication

    return isinstance(obj, (Claim, PccReturn, ProcurementNotice, Publication))


def _after_flush(session: Session, flush_context) -> None:
    # A changed year or deadline setting needs a full sync; changed commissions only their own deadlines; a
    # claim, return or notice only the closing of the tasks it may have done.
    for o in (*session.new, *session.dirty, *session.deleted):
        if isinstance(o, Commission) and o.id is not None:
            session.info.setdefault(_PENDING_COMMISSIONS, set()).add(o.id)
        elif _is_source(o):
            session.info[_PENDING] = True
        elif _does_work(o):
            session.info[_PENDING_SETTLE] = True


def _before_commit(session: Session) -> None:
    # Changes flushed earlier in the transaction set the flags; changes not yet flushed are still in the session.
    pending = (*session.new, *session.dirty, *session.deleted)
    unflushed = any(_is_source(o) or _does_work(o) for o in pending)
    if session.info.get(_PENDING) or session.info.get(_PENDING_COMMISSIONS) or session.info.get(_PENDING_SETTLE) \
            or unflushed:
        session.flush()  # anything still pending must be seen by the sync
        full = session.info.pop(_PENDING, False)
        ids = session.info.pop(_PENDING_COMMISSIONS, set())
        settle = session.info.pop(_PENDING_SETTLE, False)
        if full or ids:
            sync_deadlines(session, None if full else ids)
        if settle and not full:  # a full sync settles as it goes
            settle_deadlines(session)
        # Our own flush of the deadlines is not a source change.
        for key in (_PENDING, _PENDING_COMMISSIONS, _PENDING_SETTLE):
            session.info.pop(key, None)


def _after_rollback(session: Session, previous_transaction=None) -> None:
    for key in (_PENDING, _PENDING_COMMISSIONS, _PENDING_SETTLE):
        session.info.pop(key, None)


def register_session_events() -> None:
    """Listen on every session (Flask-SQLAlchemy's, the CLI's, tests'); safe to call more than once."""
    for name, fn in (("before_flush", _before_flush), ("after_flush", _after_flush),
                     ("before_commit", _before_commit), ("after_soft_rollback", _after_rollback)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


# --- Weekends and bank holidays ------------------------------------------------------------------------

@lru_cache(maxsize=32)
def _bank_holidays(year: int) -> dict[date, str]:
    # England and Wales share bank holidays; the holidays package's "ENG" subdivision gives them.
    return dict(holidays.UK(subdiv="ENG", years=year))


def non_working_day(d: date) -> str | None:
    """Why a date is not a working day in England and Wales ("Saturday", "Christmas Day (bank holiday)"),
    or None for a working day."""
    name = _bank_holidays(d.year).get(d)
    if name:
        return f"{name} (bank holiday)"
    if d.weekday() >= 5:
        return d.strftime("%A")
    return None


# --- Reading deadlines: filters, groups, timeline -----------------------------------------------------

@dataclass
class Filters:
    """The list's filters, from the query string. Bad values are dropped and explained in ``problems``."""

    programme: str = ""
    owner: str = ""  # a user id as text, "none" for unowned, or "" for everyone
    year: str = ""  # a funding year label
    problems: dict[str, str] = field(default_factory=dict)
    year_obj: FundingYear | None = None

    def as_args(self) -> dict[str, str]:
        return {k: v for k, v in (("programme", self.programme), ("owner", self.owner), ("year", self.year)) if v}

    @property
    def active(self) -> bool:
        return bool(self.as_args())


def parse_filters(args, session: Session | None = None) -> Filters:
    """Read ``programme``, ``owner`` and ``year`` from a query string, checking each against what exists."""
    from tracker.extensions import db

    session = session or db.session
    f = Filters()
    programme = (args.get("programme") or "").strip()
    if programme:
        if programme in PROGRAMMES:
            f.programme = programme
        else:
            f.problems["programme"] = "Choose a programme from the list"
    owner = (args.get("owner") or "").strip()
    if owner:
        if owner == "none":
            f.owner = owner
        elif owner.isdigit() and len(owner) < 10 and session.get(User, int(owner)) is not None:
            f.owner = owner
        else:
            f.problems["owner"] = "Choose an owner from the list"
    # A bad year stops with the same 4xx and message as every other page (tracker/funding/rules.py).
    year = choose_year(args, default=lambda: None)
    if year is not None:
        f.year, f.year_obj = year.label, year
    return f


def filtered_query(f: Filters):
    """Deadlines matching the filters, soonest first, with what the screens show loaded in the same query."""
    q = (select(Milestone)
         .options(joinedload(Milestone.owner), joinedload(Milestone.commission), joinedload(Milestone.funding_year))
         .order_by(Milestone.due_date, Milestone.id))
    if f.programme:
        q = q.where(Milestone.programme == f.programme)
    if f.owner == "none":
        q = q.where(Milestone.owner_id.is_(None))
    elif f.owner:
        q = q.where(Milestone.owner_id == int(f.owner))
    if f.year_obj is not None:
        y = f.year_obj
        # Linked to the year, or not linked to any year but due within it.
        q = q.where(or_(Milestone.funding_year_id == y.id,
                        (Milestone.funding_year_id.is_(None)) & Milestone.due_date.between(y.start_date, y.end_date)))
    return q


def find(f: Filters, session: Session | None = None) -> list[Milestone]:
    from tracker.extensions import db

    return list((session or db.session).scalars(filtered_query(f)).unique())


#: Tasks made once a year for the year (the statutory documents, the annual report): a year after its due date the
#: next year's is due, so an undone one is superseded, listed as not done rather than overdue for ever.
ANNUAL_KINDS = ("statutory document", "annual report")
SUPERSEDED_AFTER_DAYS = 365


def lapsed(m: Milestone, today: date) -> bool:
    """An undone task nobody can still do: its funding year has been closed (it stays in that year's list as
    not done), or an annual document superseded by the next year's. Never overdue, never in the badge."""
    if m.kind in EVENT_KINDS or m.status in CLOSED_STATUSES:
        return False
    year = m.funding_year
    return ((year is not None and year.is_closed)
            or (m.kind in ANNUAL_KINDS and m.due_date <= today - timedelta(days=SUPERSEDED_AFTER_DAYS)))


def _lapsed_sql(today: date):
    """``lapsed`` as SQL (the badge, the home page and the digest select by it)."""
    closed_years = select(FundingYear.id).where(FundingYear.status == YEAR_CLOSED)
    # "is not null" first: a deadline of no year must read as not lapsed, not as SQL's unknown.
    return or_(and_(Milestone.funding_year_id.is_not(None), Milestone.funding_year_id.in_(closed_years)),
               and_(Milestone.kind.in_(ANNUAL_KINDS),
                    Milestone.due_date <= today - timedelta(days=SUPERSEDED_AFTER_DAYS)))


def open_task_sql(today: date):
    """An open task someone can still do (not an event, not done or missed, not lapsed), as SQL."""
    return and_(Milestone.kind.not_in(EVENT_KINDS), Milestone.status.not_in(CLOSED_STATUSES),
                not_(_lapsed_sql(today)))


def is_overdue(m: Milestone, today: date) -> bool:
    """Only a task can be overdue: an event (a contract ends) simply happens on its date, and a lapsed task (its
    year closed, or superseded) is not done rather than overdue. (The navigation badge counts the same in SQL:
    ``overdue_count``.)"""
    return (m.kind not in EVENT_KINDS and m.status not in CLOSED_STATUSES and m.due_date < today
            and not lapsed(m, today))


# --- Whose a deadline is ----------------------------------------------------------------------------------

def acts_on_tasks(user: User | None) -> bool:
    """Viewers (the PCC office) act on nothing here: they see events and work done, never tasks to do."""
    return user is not None and user.role in (ADMIN, MANAGER, FINANCE)


def is_mine(m: Milestone, user: User | None) -> bool:
    """A task that is the user's: owned by them, or owned by nobody and the user is a manager or admin (the
    managers give unowned tasks an owner). ``mine_sql`` is the same in SQL."""
    if not acts_on_tasks(user) or m.is_event:
        return False
    return m.owner_id == user.id or (m.owner_id is None and user.role in (ADMIN, MANAGER))


def mine_sql(user: User):
    mine = Milestone.owner_id == user.id
    if user.role in (ADMIN, MANAGER):
        mine = or_(mine, Milestone.owner_id.is_(None))
    return and_(Milestone.kind.not_in(EVENT_KINDS), mine)


def seen_by(m: Milestone, user: User | None) -> bool:
    """What a person is shown: everything for those who act on tasks; for a viewer, events and work done (a
    return issued, a claim sent), never open tasks."""
    return acts_on_tasks(user) or m.is_event or m.status == "done"


def needs_end_decision(m: Milestone, today: date, ending_soon_days: int) -> bool:
    """A commission's end deadline within ``ending_soon_days`` with no decision on what happens next."""
    c = m.commission
    return (m.kind == "contract end" and c is not None and c.end_decision is None
            and c.status not in ("ended", "terminated") and today <= c.end_date <= today + timedelta(days=ending_soon_days))


GROUPS = (("overdue", "Overdue"), ("soon", f"Due in the next {DUE_SOON_DAYS} days"), ("later", "Later"),
          ("closed", "Done, missed or past"))


def group_of(m: Milestone, today: date) -> str:
    if m.kind in EVENT_KINDS:
        return "closed" if m.due_date < today else ("soon" if m.due_date <= today + timedelta(days=DUE_SOON_DAYS)
                                                    else "later")
    if m.status in CLOSED_STATUSES or lapsed(m, today):
        return "closed"
    if is_overdue(m, today):
        return "overdue"
    if m.due_date <= today + timedelta(days=DUE_SOON_DAYS):
        return "soon"
    return "later"


def grouped(milestones: list[Milestone], today: date) -> "OrderedDict[str, list[Milestone]]":
    """Overdue tasks, due in the next 30 days, later, and done, missed or past (most recent first)."""
    out: OrderedDict[str, list[Milestone]] = OrderedDict((key, []) for key, _label in GROUPS)
    for m in milestones:
        out[group_of(m, today)].append(m)
    out["closed"].sort(key=lambda m: (m.due_date, m.id), reverse=True)
    return out


#: The deadlines page for one person: their own tasks first, then their team's, then events; later and past folded.
PERSONAL_GROUPS = (("overdue", "Your overdue tasks"), ("soon", f"Your tasks in the next {DUE_SOON_DAYS} days"),
                   ("team_overdue", "Your team's overdue tasks"),
                   ("team_soon", f"Your team's tasks in the next {DUE_SOON_DAYS} days"),
                   ("events", f"Events in the next {DUE_SOON_DAYS} days"), ("later", "Later"),
                   ("closed", "Done, not done, missed or past"))


def personal(milestones: list[Milestone], user: User | None, today: date) -> "OrderedDict[str, list[Milestone]]":
    """``grouped`` split by whose each task is (``is_mine``): yours, then your team's, then events. A viewer gets
    only events and work done (``seen_by``), so no overdue tasks at all."""
    out: OrderedDict[str, list[Milestone]] = OrderedDict((key, []) for key, _label in PERSONAL_GROUPS)
    for m in milestones:
        if not seen_by(m, user):
            continue
        group = group_of(m, today)
        if group in ("overdue", "soon"):
            if m.is_event:
                group = "events"
            elif not is_mine(m, user):
                group = f"team_{group}"
        out[group].append(m)
    out["closed"].sort(key=lambda m: (m.due_date, m.id), reverse=True)
    return out


@dataclass
class Week:
    """The deadlines of one week (Monday to Sunday)."""

    monday: date
    label: str
    items: list[Milestone]


def week_label(monday: date, today: date) -> str:
    this_monday = today - timedelta(days=today.weekday())
    if monday == this_monday:
        return f"This week (from Monday {monday.day} {monday:%B})"
    if monday == this_monday + timedelta(days=7):
        return f"Next week (from Monday {monday.day} {monday:%B})"
    return f"Week from Monday {monday.day} {monday:%B %Y}"


def by_week(milestones: list[Milestone], today: date) -> list[Week]:
    """Deadlines in weeks from Monday, in date order; weeks with nothing due are left out."""
    weeks: OrderedDict[date, list[Milestone]] = OrderedDict()
    for m in sorted(milestones, key=lambda m: (m.due_date, m.id)):
        weeks.setdefault(m.due_date - timedelta(days=m.due_date.weekday()), []).append(m)
    return [Week(monday, week_label(monday, today), items) for monday, items in weeks.items()]


def timeline(milestones: list[Milestone]) -> "OrderedDict[date, list[Milestone]]":
    """Deadlines by month (the first of each month as the key), every month from the first to the last shown,
    so an empty month is visible as a gap rather than silently skipped."""
    out: OrderedDict[date, list[Milestone]] = OrderedDict()
    if not milestones:
        return out
    first = min(m.due_date for m in milestones).replace(day=1)
    last = max(m.due_date for m in milestones).replace(day=1)
    month = first
    while month <= last:
        out[month] = []
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    for m in milestones:
        out[m.due_date.replace(day=1)].append(m)
    return out


def overdue_count(user: User | None = None, today: date | None = None, session: Session | None = None) -> int:
    """The navigation badge: overdue tasks the user owns, plus the ones nobody owns for managers (and admins).
    Finance staff count only their own; viewers none (they own no work here). One query."""
    from tracker.extensions import db

    today = today or date.today()
    if not acts_on_tasks(user):
        return 0
    return (session or db.session).scalar(
        select(func.count(Milestone.id)).where(Milestone.due_date < today, open_task_sql(today),
                                               mine_sql(user))) or 0


def next_deadlines_and_overdue(limit: int = 5, today: date | None = None,
                               user: User | None = None) -> tuple[list[Milestone], int]:
    """``next_deadlines`` for ``user`` and, from the same query, ``overdue_count`` (the navigation badge): home asks
    once. The overdue tasks are the list's own rows due before today (the list is the user's open tasks), counted
    over the whole list by a window sum before the limit. For a viewer the list is events and the count 0."""
    from tracker.extensions import db

    today = today or date.today()
    if not acts_on_tasks(user):
        return next_deadlines(limit, today, user=user), 0
    overdue = func.sum(case((Milestone.due_date < today, 1), else_=0)).over().label("overdue")
    rows = db.session.execute(
        select(Milestone, overdue).where(open_task_sql(today), mine_sql(user))
        .options(joinedload(Milestone.owner), joinedload(Milestone.funding_year))
        .order_by(Milestone.due_date, Milestone.id).limit(limit)).all()
    return [m for m, _ in rows], int(rows[0][1] or 0) if rows else 0


def next_deadlines(limit: int = 5, today: date | None = None, session: Session | None = None,
                   user: User | None = None) -> list[Milestone]:
    """The home page's deadlines for ``user``, in one query: their own open tasks, overdue first (oldest first,
    so "12 overdue tasks for you" lists them), then the next ones; for a viewer, the coming events. With no user,
    every open deadline from today on."""
    from tracker.extensions import db

    today = today or date.today()
    q = (select(Milestone).options(joinedload(Milestone.owner), joinedload(Milestone.funding_year))
         .order_by(Milestone.due_date, Milestone.id).limit(limit))
    if acts_on_tasks(user):
        q = q.where(open_task_sql(today), mine_sql(user))
    elif user is not None:
        q = q.where(Milestone.kind.in_(EVENT_KINDS), Milestone.due_date >= today)
    else:
        q = q.where(Milestone.status.not_in(CLOSED_STATUSES), Milestone.due_date >= today)
    return list((session or db.session).scalars(q))

