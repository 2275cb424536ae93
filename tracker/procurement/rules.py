"""The Procurement Act 2023 rules the tracker applies, as plain functions of a commission, the thresholds and
the settings: which regime a contract falls under and which notices it owes, by when.

The figures that change (thresholds) are rows an admin adds; the periods are settings. This is not legal advice:
it lists what the data says is due so that nothing is missed, and the officer decides (docs/adr/procurement-act-rules-are-data.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tracker.figures import COMMITTED_STATUSES, TERMINATED

#: The Act came into force on 24 February 2025: procurements started before then are under the old rules.
ACT_IN_FORCE = date(2025, 2, 24)
#: Payments over £30,000 are published for contracts procured on or after this date.
PAYMENTS_OVER_30K_FROM = date(2026, 4, 1)
#: Below-threshold contracts of this value or more (including VAT) owe a contract details notice.
BELOW_THRESHOLD_NOTICE_FROM_PENCE = 30_000_00
#: Contracts over this value (including VAT) owe at least three KPIs and yearly KPI assessments.
KPI_CONTRACT_OVER_PENCE = 5_000_000_00
#: A change to value or term of more than this share (in tenths) needs a contract change notice.
CHANGE_NOTICE_TENTHS = 1
#: The statuses of a contract that has been entered into: committed (the figures engine's rule) or terminated.
ENTERED_STATUSES = (*COMMITTED_STATUSES, TERMINATED)

#: The settings these rules read (a change to one moves the notices' deadlines).
NOTICE_SETTINGS = ("notice_days_beginning_with", "below_threshold_notice_days")

#: Each notice's name, in the Act's words, and its Central Digital Platform notice number.
NOTICE_KINDS = {
    "contract-details": ("Contract details notice", "UK6"),
    "contract-details-light-touch": ("Contract details notice (light-touch)", "UK6"),
    "below-threshold-details": ("Contract details notice (below threshold)", "UK6"),
    "contract-change": ("Contract change notice", "UK10"),
    "contract-termination": ("Contract termination notice", "UK12"),
    "kpi-assessment": ("Contract performance notice (KPI assessment)", "UK9"),
    "payments-compliance": ("Payments compliance notice", "UK11"),
    "payments-over-30k": ("Payments over £30,000", "—"),
}

# Thresholds an empty database starts with (VAT inclusive): also written by the migration that made the table.
SEEDED_THRESHOLDS = (
    ("services", 214_904_00, date(2025, 2, 24), "Procurement Act 2023 Schedule 1, sub-central authority services"),
    ("services", 207_720_00, date(2026, 1, 1), "Revised thresholds from 1 January 2026"),
    ("light-touch", 663_540_00, date(2025, 2, 24), "Procurement Act 2023 Schedule 1, light-touch contracts"),
)


def due_within(event: date, days: int, beginning_with: bool = True) -> date:
    """The last day of a period of ``days`` days from ``event``. "Beginning with" the day counts the event's own
    day as the first (30 days beginning with 31 March ends on 29 April); otherwise counting starts the next day."""
    return event + timedelta(days=days - 1 if beginning_with else days)


@dataclass(frozen=True)
class Threshold:
    category: str
    amount_pence: int
    applies_from: date


def threshold_on(thresholds: list[Threshold], category: str, on: date) -> Threshold | None:
    """The threshold of ``category`` in force on ``on``: the latest that applies from that day or earlier."""
    found = [t for t in thresholds if t.category == category and t.applies_from <= on]
    return max(found, key=lambda t: t.applies_from) if found else None


@dataclass(frozen=True)
class Standing:
    """Where a commission stands under the Act, and why, in words for the commission page."""

    regime: str  # grant, before the Act, no threshold, public, below threshold, small
    reason: str
    threshold: Threshold | None = None
    value_incl_vat_pence: int = 0
    procurement_started_on: date | None = None

    @property
    def public(self) -> bool:
        return self.regime == "public"


def award_value(commission) -> int:
    """The contract's value before any variation, in pence (the value now less what variations added)."""
    return commission.value_pence - sum(v.value_change_pence for v in commission.variations)


def standing(commission, thresholds: list[Threshold]) -> Standing:
    """Grant or contract; when a contract, public (at or over the threshold in force when procurement started),
    below threshold (£30,000 or more including VAT) or small."""
    from tracker.money import format_pence

    if commission.commission_type == "grant":
        return Standing("grant", "A grant is outside the Procurement Act: no notices are due. It is listed with the "
                                 "crime and disorder reduction grants.")
    started = commission.procurement_started_on or commission.start_date
    value = commission.value_incl_vat_pence if commission.value_incl_vat_pence is not None else award_value(commission)
    assumed = [] if commission.value_incl_vat_pence is not None else ["no value including VAT is recorded, so the value is used"]
    if commission.procurement_started_on is None:
        assumed.append("no procurement start date is recorded, so the start date is used")
    note = f" ({'; '.join(assumed)})" if assumed else ""
    if started < ACT_IN_FORCE:
        return Standing("before the Act", f"The procurement started on {started:%d/%m/%Y}, before the Act came into "
                        f"force on {ACT_IN_FORCE:%d/%m/%Y}: no notices under it are due{note}.",
                        None, value, started)
    category = "light-touch" if commission.light_touch else "services"
    threshold = threshold_on(thresholds, category, started)
    if threshold is None:
        return Standing("no threshold", f"No {category} threshold is recorded for a procurement started on "
                        f"{started:%d/%m/%Y}: an admin can add one under Admin, Procurement thresholds{note}.",
                        None, value, started)
    kind = "light-touch threshold" if commission.light_touch else "threshold for services"
    if value >= threshold.amount_pence:
        return Standing("public", f"A public contract: {format_pence(value)} including VAT is at or over the {kind} "
                        f"of {format_pence(threshold.amount_pence)} in force on {started:%d/%m/%Y}{note}.",
                        threshold, value, started)
    if value >= BELOW_THRESHOLD_NOTICE_FROM_PENCE:
        return Standing("below threshold", f"Below threshold: {format_pence(value)} including VAT is under the {kind} "
                        f"of {format_pence(threshold.amount_pence)} in force on {started:%d/%m/%Y}, and "
                        f"{format_pence(BELOW_THRESHOLD_NOTICE_FROM_PENCE)} or more{note}.", threshold, value, started)
    return Standing("small", f"Under {format_pence(BELOW_THRESHOLD_NOTICE_FROM_PENCE)} including VAT: no notices are "
                    f"due{note}.", threshold, value, started)


@dataclass(frozen=True)
class NoticeDue:
    """A notice the rules say is owed."""

    key: str  # unique within the commission (or the authority)
    kind: str
    due_date: date
    title: str
    variation_id: int | None = None
    period_end: date | None = None


def change_needs_notice(value_before: int, change: int, start: date, previous_end: date | None,
                        new_end: date | None) -> bool:
    """True when a variation changes the value, or the term, by more than 10%."""
    if value_before > 0 and abs(change) * 10 > value_before * CHANGE_NOTICE_TENTHS:
        return True
    if previous_end is not None and new_end is not None and previous_end != new_end:
        term_days = (previous_end - start).days + 1
        if term_days > 0 and abs((new_end - previous_end).days) * 10 > term_days * CHANGE_NOTICE_TENTHS:
            return True
    return False


def _anniversaries(start: date, end: date) -> list[date]:
    out, n = [], 1
    while True:
        try:
            d = start.replace(year=start.year + n)
        except ValueError:  # 29 February
            d = date(start.year + n, 3, 1)
        if d > end:
            break
        out.append(d)
        n += 1
    return out or [end]


def _quarter_ends(start: date, end: date) -> list[date]:
    out = []
    y, m = start.year, ((start.month - 1) // 3) * 3 + 3
    while True:
        q_end = date(y, m, 31 if m in (3, 12) else 30)
        out.append(q_end)
        if q_end >= end:
            return out
        m += 3
        if m > 12:
            y, m = y + 1, 3


def notices_for(commission, thresholds: list[Threshold], days: dict) -> list[NoticeDue]:
    """The notices a contract owes, once it has been entered into (awarded, live, ended or terminated)."""
    s = standing(commission, thresholds)
    if commission.status not in ENTERED_STATUSES or s.regime not in ("public", "below threshold"):
        return []
    begin = bool(days.get("notice_days_beginning_with", True))
    entered = commission.contract_entered_on or commission.start_date
    name = f"{commission.reference} {commission.title}"
    out: list[NoticeDue] = []

    def add(key, kind, due, what, **extra):
        out.append(NoticeDue(key, kind, due, f"{name}: {what}", **extra))

    if s.regime == "below threshold":
        add("details", "below-threshold-details",
            due_within(entered, int(days.get("below_threshold_notice_days", 30)), begin),
            "contract details notice (below threshold) due")
        return out
    if commission.light_touch:
        add("details", "contract-details-light-touch", due_within(entered, 120, begin),
            "contract details notice (light-touch) due")
    else:
        add("details", "contract-details", due_within(entered, 30, begin), "contract details notice due")
        # Contract change notices: before a variation changing the value or the term by more than 10% takes effect.
        running = award_value(commission)
        for v in sorted(commission.variations, key=lambda v: (v.variation_date, v.id or 0)):
            if change_needs_notice(running, v.value_change_pence, commission.start_date, v.previous_end_date,
                                   v.new_end_date):
                add(f"change:{v.id}", "contract-change", v.variation_date,
                    f"contract change notice due before the variation of {v.variation_date:%d/%m/%Y} takes effect",
                    variation_id=v.id)
            running += v.value_change_pence
    add("termination", "contract-termination", due_within(commission.end_date, 30, begin),
        "contract termination notice due")
    if s.value_incl_vat_pence > KPI_CONTRACT_OVER_PENCE:
        for d in _anniversaries(entered, commission.end_date):
            add(f"kpi:{d.isoformat()}", "kpi-assessment", d, f"KPI assessment (contract performance notice) due",
                period_end=d)
    if s.procurement_started_on and s.procurement_started_on >= PAYMENTS_OVER_30K_FROM:
        for q_end in _quarter_ends(entered, commission.end_date):
            add(f"payments:{q_end.isoformat()}", "payments-over-30k", due_within(q_end, 30, begin),
                f"payments over £30,000 to {q_end:%d/%m/%Y} due", period_end=q_end)
    return out


def payments_compliance_periods(spans: list[tuple[date, date]], days: dict) -> list[NoticeDue]:
    """The authority's payments compliance notices: for each six months to 31 March or 30 September in which
    it had a public contract (``spans``: their entered and end dates), within 30 days of the period's end."""
    begin = bool(days.get("notice_days_beginning_with", True))
    ends: set[date] = set()
    for start, end in spans:
        y = start.year
        for year in range(y, end.year + 2):
            for period_end in (date(year, 3, 31), date(year, 9, 30)):
                period_start = date(year - 1, 10, 1) if period_end.month == 3 else date(year, 4, 1)
                if period_start <= end and period_end >= start and period_end >= ACT_IN_FORCE:
                    ends.add(period_end)
    return [NoticeDue(f"payments-compliance:{e.isoformat()}", "payments-compliance", due_within(e, 30, begin),
                      f"Payments compliance notice to {e:%d/%m/%Y} due", period_end=e) for e in sorted(ends)]
