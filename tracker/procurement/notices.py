"""Procurement Act notices as records and deadlines: made from the commissions by the deadline sync, marked
published by a person, and exported as CSV for the Central Digital Platform.

``notice_deadlines`` is called by ``tracker.milestones.service.sync_deadlines`` (the one hook), so notices
follow their commission through the same session events as every other generated deadline: a variation that
needs a change notice gets its notice and deadline in the transaction that records it.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from tracker import audit, settings
from tracker.models import Commission, Milestone, ProcurementNotice, ProcurementThreshold, Variation
from tracker.models.monitoring import Measure
from tracker.money import format_pence
from tracker.procurement.rules import (
    ENTERED_STATUSES, KPI_CONTRACT_OVER_PENCE, NOTICE_KINDS, NOTICE_SETTINGS, SEEDED_THRESHOLDS, NoticeDue, Threshold,
    notices_for, payments_compliance_periods, standing,
)

PROGRAMME = "Procurement Act"
MILESTONE_KIND = "procurement notice"
REALM = "procurement"


def load_thresholds(session: Session) -> list[Threshold]:
    return [Threshold(t.category, t.amount_pence, t.applies_from)
            for t in session.scalars(select(ProcurementThreshold).order_by(ProcurementThreshold.applies_from))]


def seed_thresholds(session: Session) -> int:
    """Add the thresholds the Act started with, where missing (safe to run again); returns how many were added."""
    have = {(t.category, t.applies_from) for t in session.scalars(select(ProcurementThreshold))}
    added = 0
    for category, pence, applies_from, source in SEEDED_THRESHOLDS:
        if (category, applies_from) not in have:
            session.add(ProcurementThreshold(category=category, amount_pence=pence, applies_from=applies_from,
                                             source=source))
            added += 1
    session.flush()
    return added


def _key(commission_id: int | None, due: NoticeDue) -> str:
    return f"commission:{commission_id}:notice:{due.key}" if commission_id is not None else f"procurement:{due.key}"


def notice_deadlines(session: Session, commissions, full: bool) -> list:
    """Bring the notice records of ``commissions`` (and, on a full sync, the authority's payments compliance
    notices) in line with the rules, and return their deadlines for the sync to make. A notice no longer owed is
    removed unless it was published (then it stays, as a record of what was published)."""
    from tracker.milestones.service import Wanted

    commissions = list(commissions)
    ids = [c.id for c in commissions]
    with session.no_autoflush:
        days = settings.get_many(*NOTICE_SETTINGS, session=session)
        thresholds = load_thresholds(session)
        relevant = [c for c in commissions if c.commission_type != "grant" and c.status in ENTERED_STATUSES]
        # Every relevant commission's variations in one query, set on the relationship so none loads lazily.
        by_commission: dict[int, list[Variation]] = {c.id: [] for c in relevant}
        if relevant:
            for v in session.scalars(select(Variation).where(Variation.commission_id.in_(list(by_commission)))):
                by_commission[v.commission_id].append(v)
            for c in relevant:
                if "variations" not in c.__dict__:
                    set_committed_value(c, "variations", sorted(by_commission[c.id], key=lambda v: (v.variation_date, v.id)))
        where = [ProcurementNotice.commission_id.in_(ids)] if ids else []
        if full:
            where.append(ProcurementNotice.commission_id.is_(None))
        existing = {n.source_key: n for n in session.scalars(select(ProcurementNotice).where(or_(*where)))} if where else {}

    wanted: dict[str, tuple[NoticeDue, int | None]] = {}
    spans = []
    for c in relevant:
        for due in notices_for(c, thresholds, days):
            wanted[_key(c.id, due)] = (due, c.id)
        if full and standing(c, thresholds).public:
            spans.append((c.contract_entered_on or c.start_date, c.end_date))
    if full:
        for due in payments_compliance_periods(spans, days):
            wanted[_key(None, due)] = (due, None)

    out = []
    for key, (due, commission_id) in wanted.items():
        n = existing.get(key)
        if n is None:
            n = ProcurementNotice(source_key=key, commission_id=commission_id, variation_id=due.variation_id,
                                  kind=due.kind, due_date=due.due_date, period_end=due.period_end)
            session.add(n)
        elif n.published_on is None:
            n.kind, n.due_date, n.period_end, n.variation_id = due.kind, due.due_date, due.period_end, due.variation_id
        out.append(Wanted(key, due.title, due.due_date, PROGRAMME, MILESTONE_KIND, None, commission_id))
    for key, n in existing.items():
        if key not in wanted and n.published_on is None:
            session.delete(n)
    return out


# --- Reading and publishing ---------------------------------------------------------------------------------

def label(kind: str) -> str:
    return NOTICE_KINDS.get(kind, (kind, ""))[0]


def commission_notices(commission: Commission, session: Session) -> dict:
    """What the commission page's Notices section shows: where it stands, its notices, and the KPI count."""
    notices = session.scalars(select(ProcurementNotice).where(ProcurementNotice.commission_id == commission.id)
                              .options(joinedload(ProcurementNotice.variation))
                              .order_by(ProcurementNotice.due_date, ProcurementNotice.id)).all()
    s = standing(commission, load_thresholds(session))
    kpis = None
    if s.regime == "public" and s.value_incl_vat_pence > KPI_CONTRACT_OVER_PENCE:
        # A metric measured in each year a contract spans is one KPI, not one per year.
        kpis = len(set(session.scalars(select(Measure.metric_id).where(Measure.commission_id == commission.id))))
    return {"standing": s, "notices": notices, "kpi_count": kpis}


def change_notice_message(variation: Variation, session: Session) -> str | None:
    """What to tell the person who just recorded ``variation`` when it needs a contract change notice."""
    n = session.scalar(select(ProcurementNotice).where(ProcurementNotice.variation_id == variation.id,
                                                       ProcurementNotice.kind == "contract-change"))
    if n is None:
        return None
    return (f"This variation changes the contract by more than 10%: a contract change notice is due by "
            f"{n.due_date:%d/%m/%Y}, before the change takes effect. It is on the Deadlines page.")


def get_notice_or_404(notice_id: int) -> ProcurementNotice:
    from tracker.errors import get_or_404

    return get_or_404(ProcurementNotice, notice_id, "There is no notice with that number. It may no longer be due.")


class AlreadyPublished(Exception):
    """The notice was recorded as published by another request (a second click, a colleague) first."""


def mark_published(notice: ProcurementNotice, published_on: date, link: str, session: Session) -> None:
    """Record that a notice was published (date and link), and mark its deadline done with the link as evidence.
    Once: one UPDATE conditional on the notice not being published yet, so of two at once the second raises
    ``AlreadyPublished`` and records nothing (no second audit entry, the first date and link kept)."""
    before = audit.snapshot(notice, ("published_on", "link"))
    moved = session.execute(update(ProcurementNotice).where(ProcurementNotice.id == notice.id,
                                                            ProcurementNotice.published_on.is_(None))
                            .values(published_on=published_on, link=link.strip())
                            .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        session.rollback()
        raise AlreadyPublished()
    session.refresh(notice)
    m = session.scalar(select(Milestone).where(Milestone.source_key == notice.source_key))
    if m is not None:
        m.status, m.completed_date, m.evidence_link = "done", published_on, notice.link
    changed_before, changed_after = audit.diff(before, audit.snapshot(notice, ("published_on", "link")))
    audit.record(REALM, "change", notice, f"{label(notice.kind)} marked published"
                 + (f" for {notice.commission.reference}" if notice.commission else ""), changed_before, changed_after)


def notice_fields(notice: ProcurementNotice) -> list[tuple[str, str]]:
    """The notice's fields, in the order the Central Digital Platform asks for them (field, value)."""
    name, number = NOTICE_KINDS.get(notice.kind, (notice.kind, ""))
    rows = [("Notice", name), ("Notice number", number), ("Due by", f"{notice.due_date:%d/%m/%Y}")]
    c = notice.commission
    if c is not None:
        p = c.provider
        types = [t for t, on in (("SME", p.sme), ("VCSE", p.vcse), ("Supported employment provider", p.supported_employment),
                                  ("Public service mutual", p.public_service_mutual)) if on]
        rows += [
            ("Procurement identifier", c.cdp_procurement_id), ("Contract identifier", c.cdp_contract_id),
            ("Our reference", c.reference), ("Contract title", c.title), ("Description", c.description),
            ("Supplier", p.name), ("Companies House number", p.company_number), ("Charity number", p.charity_number),
            ("Supplier type", "; ".join(types) or "None of these"),
            ("Light-touch", "Yes" if c.light_touch else "No"),
            ("Value excluding VAT", format_pence(c.value_pence)),
            ("Estimated value including VAT", format_pence(c.value_incl_vat_pence) if c.value_incl_vat_pence is not None else ""),
            ("Procurement started", f"{c.procurement_started_on:%d/%m/%Y}" if c.procurement_started_on else ""),
            ("Contract entered into", f"{(c.contract_entered_on or c.start_date):%d/%m/%Y}"),
            ("Start date", f"{c.start_date:%d/%m/%Y}"), ("End date", f"{c.end_date:%d/%m/%Y}"),
            ("Procurement route", c.procurement_route),
        ]
    v = notice.variation
    if v is not None:
        rows += [("Change agreed", f"{v.variation_date:%d/%m/%Y}"), ("Reason for the change", v.reason),
                 ("Change in value", format_pence(v.value_change_pence)),
                 ("End date before", f"{v.previous_end_date:%d/%m/%Y}" if v.previous_end_date else ""),
                 ("End date after", f"{v.new_end_date:%d/%m/%Y}" if v.new_end_date else "")]
    if notice.kind == "contract-termination" and c is not None:
        rows.append(("How it ended", "Terminated early" if c.status == "terminated" else "Expired (ended on its end date)"))
    if notice.kind == "kpi-assessment" and c is not None:
        from sqlalchemy.orm import object_session

        measures = object_session(notice).scalars(select(Measure).options(joinedload(Measure.metric))
                                                  .where(Measure.commission_id == c.id).order_by(Measure.id)).all()
        for i, m in enumerate(measures, start=1):
            rows.append((f"KPI {i}", f"{m.metric.name}: target {m.target_year} {m.unit or m.metric.unit or ''}".strip()))
    if notice.period_end is not None:
        rows.append(("Period ends", f"{notice.period_end:%d/%m/%Y}"))
    if notice.published_on:
        rows += [("Published on", f"{notice.published_on:%d/%m/%Y}"), ("Link", notice.link)]
    return rows


def notice_csv(notice: ProcurementNotice) -> bytes:
    """The notice's fields as a two-column CSV (field, value), safe to open in a spreadsheet: written by the one
    CSV writer every download uses (``tracker.returns.exports.export_rows``)."""
    from tracker.returns.builder import TEXT, Column
    from tracker.returns.exports import export_rows

    columns = [Column("field", "Field", TEXT), Column("value", "Value", TEXT)]
    return export_rows(columns, ([field, value or ""] for field, value in notice_fields(notice)), "csv")
