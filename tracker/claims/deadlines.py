"""Deadlines the grant makes: each stream's claims (from its own settings) and the statutory documents of each
year (each with its own due-day setting and a switch). ``tracker.milestones.service.sync_deadlines`` calls
``grant_deadlines`` beside its own generators, so these follow their source like every generated deadline.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tracker.claims import rules
from tracker.models import Allocation, Claim, FundingYear

# (key, title, programme, "before" 1 April of the year or "after" 31 March at its end)
STATUTORY_DOCUMENTS = (
    ("delivery_plan", "Home Office application and delivery plan for {label} due", "VRU grant", "before"),
    ("response_strategy", "Response Strategy for {label} due (before 1 April)", "VRU grant", "before"),
    ("needs_assessment", "Strategic needs assessment (problem profile) for {label} due", "VRU grant", "before"),
    ("annual_report", "Annual report for {label} due to the Home Office", "VRU grant", "after"),
    ("svd_review", "Serious Violence Duty strategy review for {label} due", "Serious Violence Duty", "after"),
)
#: Settings whose change moves these deadlines (the sync listens for them).
GRANT_DEADLINE_SETTINGS = tuple(
    k for key, *_ in STATUTORY_DOCUMENTS for k in (f"statutory_{key}", f"{key}_due_days"))
PROGRAMME_OF_STREAM = ("Serious Violence Duty", "Young Futures")


def programme_of(stream_name: str) -> str:
    """The deadlines' programme for a stream: Serious Violence Duty or Young Futures by name, else VRU grant."""
    return next((p for p in PROGRAMME_OF_STREAM if p.lower() in stream_name.lower()), "VRU grant")


def grant_deadlines(session: Session, years, days: dict) -> list:
    """Claim deadlines for every stream with an allocation in a year, and the year's statutory documents that are
    switched on (two queries whatever the number of years)."""
    from tracker.milestones.service import Wanted  # the deadlines area's own record of a wanted deadline

    years = {y.id: y for y in years}
    out = []
    allocations = session.scalars(select(Allocation).options(joinedload(Allocation.funding_stream))).all()
    for a in allocations:
        year: FundingYear | None = years.get(a.funding_year_id)
        if year is None:
            continue
        s = a.funding_stream
        for p in range(1, rules.periods_in_year(s.claim_frequency) + 1):
            final = rules.is_final(s.claim_frequency, p)
            name = rules.period_name(year.label, s.claim_frequency, p)
            title = (f"{s.name}: final claim for {year.label} due" if final
                     else f"{s.name}: {name} {year.label} claim due")
            due = rules.due_date(year.label, s.claim_frequency, p, s.claim_timing, s.claim_due_days,
                                 s.final_claim_due_days)
            out.append(Wanted(f"claim:{year.id}:{s.id}:{p}", title, due, programme_of(s.name),
                              "final claim" if final else "grant claim", year.id))
    for year in years.values():
        for key, title, programme, when in STATUTORY_DOCUMENTS:
            if not days.get(f"statutory_{key}", True):
                continue
            offset = timedelta(days=days[f"{key}_due_days"])
            due = year.start_date - offset if when == "before" else year.end_date + offset
            # The annual report keeps the key it always had, so deadlines already recorded against it stay.
            source = f"year:{year.id}:annual-report" if key == "annual_report" else f"year:{year.id}:statutory:{key}"
            out.append(Wanted(source, title.format(label=year.label), due, programme,
                              "annual report" if key == "annual_report" else "statutory document", year.id))
    return out


#: A claim counts as sent (its deadline met) from its first submission on, whatever the funder then decides.
CLAIM_SENT = ("submitted", "approved", "paid", "queried")


def settled_claims(session: Session) -> dict:
    """The claim deadlines their claims have met: ``{source_key: (date, evidence)}`` for every claim sent to the
    funder (submitted, then approved, queried or paid), dated the day it was submitted; and each year's "final
    claim" once every stream with an allocation has sent its final claim (one query for the claims, one for the
    allocations)."""
    claims = session.execute(
        select(Claim.funding_year_id, Claim.funding_stream_id, Claim.period, Claim.frequency, Claim.submitted_on,
               Claim.status, Claim.paid_on)
        .where(Claim.status.in_(CLAIM_SENT), Claim.submitted_on.is_not(None))).all()
    out: dict = {}
    finals: dict[int, dict[int, object]] = {}
    for year_id, stream_id, period, frequency, submitted_on, status, paid_on in claims:
        evidence = f"Claim submitted to the funder on {submitted_on:%d/%m/%Y}"
        evidence += f"; paid on {paid_on:%d/%m/%Y}." if status == "paid" and paid_on else f"; now {status}."
        out[f"claim:{year_id}:{stream_id}:{period}"] = (submitted_on, evidence)
        if rules.is_final(frequency, period):
            finals.setdefault(year_id, {})[stream_id] = submitted_on
    if finals:
        streams: dict[int, set[int]] = {}
        for year_id, stream_id in session.execute(select(Allocation.funding_year_id, Allocation.funding_stream_id)
                                                  .where(Allocation.funding_year_id.in_(list(finals)))):
            streams.setdefault(year_id, set()).add(stream_id)
        for year_id, sent in finals.items():
            if streams.get(year_id) and streams[year_id] <= set(sent):
                last = max(sent.values())
                out[f"year:{year_id}:final-claim"] = (
                    last, f"Every stream's final claim submitted to the funder, the last on {last:%d/%m/%Y}.")
    return out
