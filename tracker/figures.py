"""The figures engine: every money figure a screen, an export or a return shows, worked out in one place.

For a funding year as at the end of a quarter it works out, per budget line: allocation, budget, profile to date,
committed, actual to date, outstanding commitment, planned spend, forecast outturn, variance and RAG; and rolls
the lines up by stream, strand and category and into a total. Money and commitments on no budget line make a row
of their own ("Not on a budget line"), so every total is the sum of its rows. The home page, the budget page,
the return, the exports and the monitoring pages all call ``year_figures``; none works out a figure of its own.

The rules (README, "How the figures are worked out"; docs/adr/variance-against-allocation.md):
- actual to date: ledger spend (credits net off) in the quarters up to and including the chosen one; a ledger
  line's quarter comes from its period (P1 = April; adjustment periods 13-16 count in Q4), or from its posting
  date when the period is not one a ledger uses;
- committed: the shares in the year of contracts awarded, live or ended as at the quarter end; a terminated
  contract commits only what was paid on it;
- outstanding commitment: committed not yet invoiced, per contract share, never below zero: an agreed (settled)
  credit reduces what was paid but never becomes outstanding, unless finance marked it to be re-invoiced;
- a contract's ledger lines count on its shares by ``route_spend`` (docs/adr/spend-follows-the-share.md);
- planned: spend still planned but not contracted: the line's remaining profile less its outstanding commitment,
  not below zero, unless finance set a figure of its own (with a reason, audited);
- forecast outturn = actual to date + outstanding commitment + planned;
- variance: a line's forecast against its budget; a stream's against its revised allocation (or its lines'
  budget where it has no allocation);
- RAG: the worse of spend against profile to date and forecast against the same target as the variance, amber
  from ``rag_amber_percent`` and red beyond ``rag_red_percent`` (settings).

All amounts are integer pence. ``year_figures`` runs a fixed number of queries whatever the size of the year.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import String, and_, case, cast, func, literal, null, or_, select, union_all
from sqlalchemy.orm import joinedload

from tracker.extensions import db
from tracker.models import (
    Allocation, AuditEvent, BudgetLine, Commission, ContractEvent, FundingShare, FundingStream, FundingYear,
    LedgerTransaction,
)
from tracker.models.ledger import settled_credit
from tracker.periods import quarter_bounds, quarter_in_progress, quarter_of_ledger_line

# A contract's share counts as committed once it has been awarded; before that it is only planned.
COMMITTED_STATUSES = ("awarded", "live", "ended")
TERMINATED = "terminated"
#: The name of the row for money on no budget line, in every table.
NOT_ON_A_LINE = "Not on a budget line"


def is_committed(status: str) -> bool:
    """Whether a contract in ``status`` commits its value (awarded, live or ended)."""
    return status in COMMITTED_STATUSES


def is_contracted(status: str) -> bool:
    """Whether a contract in ``status`` was awarded (awarded, live, ended or terminated): a contract, not the
    pipeline."""
    return is_committed(status) or status == TERMINATED


# --- RAG ------------------------------------------------------------------------------------------------------

def _off_rag(off: Decimal, amber, red) -> str:
    if off > Decimal(red):
        return "R"
    if off >= Decimal(amber):
        return "A"
    return "G"


def rag(actual_to_date: int, profile_to_date_pence: int, amber_percent, red_percent) -> str:
    """'G', 'A' or 'R' for spend against profile. With no profile yet, any spend is amber, none is green."""
    if profile_to_date_pence == 0:
        return "G" if actual_to_date == 0 else "A"
    off = abs(Decimal(actual_to_date - profile_to_date_pence)) * 100 / Decimal(abs(profile_to_date_pence))
    return _off_rag(off, amber_percent, red_percent)


def forecast_rag(forecast: int, target: int, amber_percent, red_percent) -> str:
    """'G', 'A' or 'R' for forecast outturn against the budget (or allocation): over or under both count, since
    an overspend is unfunded and an underspend is lost at 31 March. With no budget, any forecast spend is red."""
    if target == 0:
        return "G" if forecast == 0 else "R"
    off = abs(Decimal(forecast - target)) * 100 / Decimal(abs(target))
    return _off_rag(off, amber_percent, red_percent)


_RAG_ORDER = {"G": 0, "A": 1, "R": 2}


def worse(*rags: str) -> str:
    return max(rags, key=lambda r: _RAG_ORDER.get(r, 0))


# --- One row of figures -----------------------------------------------------------------------------------------

@dataclass
class Figures:
    """Everything shown for one budget line, or for a roll-up of lines (a stream, strand, category, total).

    ``allocation`` is set for streams (and their totals): variance is then measured against it rather than the
    budget. Everything else adds up, so a roll-up is the sum of its parts (``add``).
    """

    name: str
    quarter: int = 4
    budget: int = 0
    original_budget: int = 0
    allocation: int | None = None
    original_allocation: int | None = None
    profile: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    actual_by_quarter: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    committed: int = 0
    outstanding: int = 0
    planned: int = 0
    #: True when finance set the planned figure (on a line, or on any line of a roll-up).
    planned_overridden: bool = False
    #: Forecast as stated in the last issued return of the year, when known (forecast movement).
    previous_forecast: int | None = None
    rag: str = "G"
    key: object = None
    #: True for a total over rows of which some have an allocation: a row without one counts its budget there.
    sums_targets: bool = False

    @property
    def actual_to_date(self) -> int:
        return sum(self.actual_by_quarter[: self.quarter])

    @property
    def actual(self) -> int:
        """Actual spend to date (the home page's word)."""
        return self.actual_to_date

    @property
    def profile_to_date(self) -> int:
        return sum(self.profile[: self.quarter])

    @property
    def profile_remaining(self) -> int:
        return sum(self.profile[self.quarter:])

    @property
    def forecast(self) -> int:
        return self.actual_to_date + self.outstanding + self.planned

    @property
    def movement(self) -> int | None:
        """Forecast movement since the last issued return: forecast now less the forecast stated then."""
        return None if self.previous_forecast is None else self.forecast - self.previous_forecast

    @property
    def target(self) -> int:
        """What variance is measured against: the revised allocation for a stream, else the budget."""
        return self.allocation if self.allocation is not None else self.budget

    @property
    def variance(self) -> int:
        return self.forecast - self.target

    @property
    def variance_percent(self):
        from tracker.money import percent

        return percent(self.variance, self.target)

    @property
    def remaining(self) -> int:
        """What is left of the allocation (or budget) after actual spend to date."""
        return self.target - self.actual_to_date

    @property
    def over_committed(self) -> bool:
        return self.committed > self.budget

    @property
    def over_committed_by(self) -> int:
        return max(0, self.committed - self.budget)

    def add(self, other: "Figures") -> None:
        self.budget += other.budget
        self.original_budget += other.original_budget
        if other.allocation is not None:
            self.allocation = (self.allocation or 0) + other.allocation
            self.original_allocation = (self.original_allocation or 0) + (other.original_allocation or 0)
        elif self.sums_targets:
            # A part with no allocation is measured against its budget; so is its share of the total.
            self.allocation += other.budget
            self.original_allocation = (self.original_allocation or 0) + other.original_budget
        self.committed += other.committed
        self.outstanding += other.outstanding
        self.planned += other.planned
        self.planned_overridden = self.planned_overridden or other.planned_overridden
        if other.previous_forecast is not None:
            self.previous_forecast = (self.previous_forecast or 0) + other.previous_forecast
        self.profile = [a + b for a, b in zip(self.profile, other.profile)]
        self.actual_by_quarter = [a + b for a, b in zip(self.actual_by_quarter, other.actual_by_quarter)]


# --- Whose spend is it: a contract's ledger lines apportioned across its shares ------------------------------------

def apportion(amount: int, weights: list[int]) -> list[int]:
    """``amount`` in parts proportional to ``weights``, to the penny: each part is rounded down (towards zero) and
    the pennies left go one each to the parts with the largest remainders (ties: the larger weight, then the first),
    so the parts always add up to ``amount`` exactly. All weights nothing: equal parts."""
    n = len(weights)
    if n == 0:
        return []
    weights = [max(0, int(w)) for w in weights]
    total = sum(weights)
    if total == 0:
        weights, total = [1] * n, n
    sign, size = (-1 if amount < 0 else 1), abs(int(amount))
    parts = [size * w // total for w in weights]
    remainders = [size * w % total for w in weights]
    for i in sorted(range(n), key=lambda i: (-remainders[i], -weights[i], i))[: size - sum(parts)]:
        parts[i] += 1
    return [sign * p for p in parts]


#: A year's shares per contract: {commission id: [(budget line id or None, amount in pence), ...]}.
ShareMap = dict


def share_map(rows) -> ShareMap:
    """``ShareMap`` from share rows (commission id at [1], line id at [2], amount at [4], as the engine loads them);
    two shares of one contract on one line count as one."""
    out: dict[int, dict] = {}
    for row in rows:
        lines = out.setdefault(row[1], {})
        lines[row[2]] = lines.get(row[2], 0) + int(row[4])
    return {cid: list(lines.items()) for cid, lines in out.items()}


def _share_rows():
    """Shares as the plain rows ``share_map`` reads (and their year), in the order they were made."""
    return select(FundingShare.id, FundingShare.commission_id, FundingShare.budget_line_id,
                  FundingShare.funding_stream_id, FundingShare.amount_pence,
                  FundingShare.funding_year_id).order_by(FundingShare.id)


def year_share_map(year_id: int) -> ShareMap:
    """The year's shares as they are now (one query), for pages that do not work out the whole year."""
    return share_map(db.session.execute(_share_rows().where(FundingShare.funding_year_id == year_id)))


def route_spend(commission_id: int | None, coded_line_id: int | None, amount: int,
                shares: ShareMap) -> list[tuple[int | None, int]]:
    """Where one ledger line's ``amount`` counts: [(budget line id or None, pence), ...], adding up to ``amount``.

    The rule (docs/adr/spend-follows-the-share.md): a line on no contract counts on the budget line its coding gave
    it; a line on a contract counts on the contract's share whose budget line the ledger coded it to, and otherwise is
    apportioned across the contract's shares in its year in proportion to their amounts (``apportion``). A contract
    with no share in the year leaves the line where its coding put it ("Not on a budget line" when nowhere)."""
    mine = shares.get(commission_id) if commission_id is not None else None
    if not mine:
        return [(coded_line_id, amount)]
    if len(mine) == 1:
        return [(mine[0][0], amount)]
    if coded_line_id is not None and any(line_id == coded_line_id for line_id, _ in mine):
        return [(coded_line_id, amount)]
    return list(zip((line_id for line_id, _ in mine), apportion(amount, [w for _, w in mine])))


def split_contracts(shares: ShareMap) -> list[int]:
    """The contracts with shares on more than one budget line (or none) in the year: their lines are apportioned
    (``route_spend``), so they are read one amount at a time."""
    return sorted(cid for cid, mine in shares.items() if len(mine) > 1)


def year_spend(year_id: int, shares: ShareMap, *columns, where=()) -> list[tuple]:
    """The year's ledger spend grouped by ``columns``, each group routed by ``route_spend``: rows of
    (budget line id, commission id, *column values, pence, lines), in one query (two when a contract is split across
    budget lines in the year: ``shares`` says which) whatever the size of the ledger.

    A split contract's lines are grouped by their amount too, so apportioning each distinct amount once and
    multiplying by how many lines had it gives exactly the sum of apportioning line by line: a figure never depends on
    how a page grouped the ledger. ``lines`` counts each ledger line once, where the largest part of it went."""
    t = LedgerTransaction
    split = split_contracts(shares)
    counted = t.counted_commission_id()  # a held line counts on no contract until finance confirms it
    keys = (t.budget_line_id, counted, *columns)
    whole = select(*keys, func.sum(t.net_pence), func.count(t.id)).where(t.funding_year_id == year_id, *where)
    if split:
        whole = whole.where(or_(counted.is_(None), counted.not_in(split)))
    whole = db.session.execute(whole.group_by(*keys))
    by_amount = db.session.execute(
        select(*keys, t.net_pence, func.count(t.id)).where(t.funding_year_id == year_id, *where)
        .where(counted.in_(split)).group_by(*keys, t.net_pence)) if split else ()
    out = []
    for grouped, rows in ((False, whole), (True, by_amount)):
        for line_id, commission_id, *values, amount, count in rows:
            count = int(count)
            parts = route_spend(commission_id, line_id, int(amount or 0), shares)
            largest = max(range(len(parts)), key=lambda i: (abs(parts[i][1]), -i))
            for i, (routed_line, pence) in enumerate(parts):
                out.append((routed_line, commission_id, *values, pence * count if grouped else pence,
                            count if i == largest else 0))
    return out


def apportioned_contracts(year_id: int, shares: ShareMap | None = None, where=()) -> dict[int, list[tuple]]:
    """How the spend of each contract split across budget lines in the year was routed: {commission id:
    [(budget line id, the share's amount, pence routed there), ...]} (two queries), for the reconciliation and the
    unmatched lines page."""
    shares = year_share_map(year_id) if shares is None else shares
    split = split_contracts(shares)
    if not split:
        return {}
    routed: dict = defaultdict(int)
    for line_id, commission_id, pence, _lines in year_spend(
            year_id, shares, where=(*where, LedgerTransaction.counted_commission_id().in_(split))):
        routed[(commission_id, line_id)] += pence
    out = {}
    for commission_id in sorted({cid for cid, _ in routed}):
        out[commission_id] = [(line_id, amount, routed.get((commission_id, line_id), 0))
                              for line_id, amount in shares.get(commission_id, [])]
    return out


# --- What the database holds, in a fixed number of queries --------------------------------------------------------

@dataclass
class Actuals:
    """Ledger spend of a year per quarter, by budget line, by contract, and by contract and line."""

    by_line: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))
    by_commission: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))
    by_commission_line: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))
    #: Settled credits (``settled_credit``: agreed, not to be re-invoiced) by contract and line, 0 or less: already
    #: in the figures above; they reduce what was paid but never come back as outstanding commitment.
    settled_credits: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))


def _period_key():
    """The ledger period where it is P1-P12, else (a year-end adjustment P13-P16, or a period no ledger uses)
    100 + the posting month, as ``quarter_of_ledger_line`` counts it: one grouping key, so a year's ledger groups
    into a few rows per line and contract whatever its size."""
    period = LedgerTransaction.period
    return case((period.between(1, 12), period),
                else_=100 + func.extract("month", LedgerTransaction.posting_date))


def _quarter_of_key(key) -> int:
    key = int(key) if key is not None else None
    if key is not None and key >= 100:
        return quarter_of_ledger_line(None, key - 100)
    return quarter_of_ledger_line(key, None)


def ledger_actuals(year_id: int, shares: ShareMap) -> Actuals:
    """The year's ledger by line, contract and period, each contract's spend routed to its shares (``year_spend``)."""
    out = Actuals()
    for line_id, commission_id, period_key, settled, amount, _lines in year_spend(
            year_id, shares, _period_key(), settled_credit()):
        q = _quarter_of_key(period_key) - 1
        out.by_line[line_id][q] += amount
        if commission_id is not None:
            out.by_commission[commission_id][q] += amount
            out.by_commission_line[(commission_id, line_id)][q] += amount
            if settled:
                out.settled_credits[(commission_id, line_id)][q] += amount
    return out


#: The facts of a contract a return shows as they stood at the quarter end ("_shares": its funding shares).
AS_AT_FIELDS = ("status", "value_pence", "start_date", "end_date", "_shares")


def _history_since(moment: datetime, day: date) -> tuple[list, list]:
    """What ``changes_since`` and ``statuses_as_at`` read, in one query (a UNION ALL of the audit trail's changes
    to contracts after ``moment`` and the contract events taking effect after ``day``), each part in its order."""
    audit = (select(literal(0).label("part"), AuditEvent.object_id.label("object_id"), AuditEvent.before,
                    cast(null(), String(20)).label("from_status"), AuditEvent.created_at.label("at"),
                    AuditEvent.created_at.label("then"), AuditEvent.id.label("row_id"))
             .where(AuditEvent.object_type == "Commission", AuditEvent.created_at > moment))
    # The order keys are only sorted on, never read back: a date and a time share the column (on SQLite as text).
    events = (select(literal(1), ContractEvent.commission_id, cast(null(), AuditEvent.before.type),
                     ContractEvent.from_status, ContractEvent.effective_date, ContractEvent.recorded_at,
                     ContractEvent.id)
              .where(ContractEvent.effective_date > day, ContractEvent.from_status.is_not(None)))
    both = union_all(audit, events).subquery()
    changes, statuses = [], []
    for part, object_id, before, from_status in db.session.execute(
            select(both.c.part, both.c.object_id, both.c.before, both.c.from_status)
            .order_by(both.c.part, both.c.at, both.c.then, both.c.row_id)):
        if part == 0:
            changes.append((object_id, before))
        else:
            statuses.append((object_id, from_status))
    return changes, statuses


def changes_since(moment: datetime, rows: list) -> dict[int, dict]:
    """For each contract changed after ``moment``: each of ``AS_AT_FIELDS`` as it stood then (the "before" of the
    first change to it after ``moment``, from the audit trail). A field missing from the answer stands as it is
    now. A variation counts from the date it was agreed (``_effective``), whenever it was recorded, and a contract
    entered late counts as entered. The status is not read here: it comes from the contract events, by the date
    each took effect (``statuses_as_at``). ``rows``: the audit trail's (contract id, before) after ``moment``, in
    order (``_history_since``)."""
    out: dict[int, dict] = {}
    for object_id, before in rows:
        if not isinstance(before, dict) or object_id is None:
            continue
        effective = before.get("_effective")
        if isinstance(effective, str) and effective <= moment.date().isoformat():
            continue  # a variation agreed by then, though recorded later: it already counts
        then = out.setdefault(object_id, {})
        for field in AS_AT_FIELDS:
            if field == "status":
                continue  # typed then, but it takes effect when its event says (statuses_as_at)
            if field in before and field not in then:
                if field == "_shares" and not before[field]:
                    continue  # the contract's first shares: it was entered late, not funded differently
                then[field] = before[field]
    return out


class ShareRow(NamedTuple):
    """A funding share as plain values (a big year has thousands: no ORM objects are built for them, and a named
    tuple is the cheapest record Python makes)."""

    id: int
    commission_id: int
    budget_line_id: int | None
    funding_stream_id: int | None
    amount_pence: int


def statuses_as_at(day: date, rows: list) -> dict[int, str]:
    """For each contract whose status changed with effect after ``day``: its status on ``day``, the status its first
    such change moved from. A change counts from the date it takes effect, not the day it was typed: a termination
    effective 15 November and typed in January ends the contract in Q3. The status a contract was entered with is
    where its history starts, not a change (a contract entered late counts as entered). ``rows``: the contract
    events taking effect after ``day`` as (contract id, status it moved from), in order (``_history_since``)."""
    out: dict[int, str] = {}
    for commission_id, from_status in rows:
        out.setdefault(commission_id, from_status)
    return out


def past_facts(year: FundingYear, quarter: int, today: date | None = None) -> dict[int, dict]:
    """``changes_since`` the end of the quarter, and the status then (``statuses_as_at``), for a quarter that has
    ended (else nothing: now is the quarter)."""
    _, quarter_end = quarter_bounds(year.label, quarter)
    if quarter_end >= (today or date.today()):
        return {}
    moment = datetime.combine(quarter_end, time.max)
    changes, statuses = _history_since(moment, quarter_end)  # one query for both
    out = changes_since(moment, changes)
    for commission_id, status in statuses_as_at(quarter_end, statuses).items():
        out.setdefault(commission_id, {})["status"] = status
    return out


def _shares_as_at(year: FundingYear, rows: list, past: dict[int, dict]) -> list:
    """The year's share rows with each contract whose shares changed since the quarter end put back as they were
    (one more query, for the statuses of contracts that were funded in the year then but are not now)."""
    changed = {cid: then["_shares"] for cid, then in past.items() if isinstance(then.get("_shares"), list)}
    if not changed:
        return rows
    statuses = dict(db.session.execute(
        select(Commission.id, Commission.status).where(Commission.id.in_(list(changed)))).all())
    kept = [r for r in rows if r[1] not in changed]
    synthetic = -1
    for cid, shares in changed.items():
        if cid not in statuses:
            continue  # deleted since
        for s in shares:
            if isinstance(s, dict) and s.get("year_label") == year.label:
                kept.append((synthetic, cid, s.get("budget_line_id"), s.get("funding_stream_id"),
                             int(s.get("amount_pence") or 0), statuses[cid]))
                synthetic -= 1
    return kept


@dataclass(slots=True)
class ShareFigures:
    """One contract's share of a year as at a quarter end: committed, paid and outstanding."""

    share: ShareRow
    status: str
    committed: int
    paid_to_date: int
    paid_this_quarter: int
    #: Settled credits on the share to date (0 or less), already netted off ``paid_to_date``.
    settled_credits_to_date: int = 0

    @property
    def invoiced_to_date(self) -> int:
        """What was paid before settled credits: an agreed credit reduces what the contract cost, not what is
        still to come, so it never becomes outstanding commitment (a credit to be re-invoiced does)."""
        return self.paid_to_date - self.settled_credits_to_date

    @property
    def outstanding(self) -> int:
        """Committed not yet invoiced, never below zero; nothing once a contract is terminated."""
        if self.status == TERMINATED:
            return 0
        return max(0, self.committed - self.invoiced_to_date)

    @property
    def contracted(self) -> bool:
        """Awarded, live, ended or terminated as at the quarter end: a contract, not the pipeline."""
        return is_contracted(self.status)

    @property
    def remaining(self) -> int:
        """What is left to pay on the share: nothing once a contract is terminated."""
        if self.status == TERMINATED:
            return 0
        return self.share.amount_pence - self.paid_to_date


def share_rows_as_at(year: FundingYear, past: dict[int, dict]) -> list:
    """The year's funding shares as (id, commission id, line id, stream id, amount, status) as they stood at the
    quarter ``past`` describes (``past_facts``): two queries."""
    rows = db.session.execute(
        select(FundingShare.id, FundingShare.commission_id, FundingShare.budget_line_id, FundingShare.funding_stream_id,
               FundingShare.amount_pence, Commission.status)
        .join(Commission, Commission.id == FundingShare.commission_id)
        .where(FundingShare.funding_year_id == year.id).order_by(FundingShare.id)
    ).all()
    return _shares_as_at(year, rows, past)


def share_figures(quarter: int, actuals: Actuals, past: dict[int, dict], rows: list) -> list[ShareFigures]:
    """Every funding share in the year with what it commits as at the end of ``quarter``; ``past`` is
    ``past_facts(year, quarter)`` (contracts changed since, as they stood then) and ``rows`` the shares as at then
    (``share_rows_as_at``). What is paid on a share is the spend routed to it (``route_spend``)."""
    out = []
    nothing = (0, 0, 0, 0)
    paid_by, credits_by = actuals.by_commission_line, actuals.settled_credits
    for share_id, commission_id, line_id, stream_id, amount, current in rows:
        s = ShareRow(share_id, commission_id, line_id, stream_id, int(amount))
        status = current
        if commission_id in past:
            then = past[commission_id].get("status", current)
            status = then if isinstance(then, str) else current
        paid = paid_by.get((commission_id, line_id), nothing)
        paid_to_date = sum(paid[:quarter])
        if status == TERMINATED:
            committed = paid_to_date
        elif is_committed(status):
            committed = s.amount_pence
        else:
            committed = 0
        credits = sum(credits_by[(commission_id, line_id)][:quarter]) if (commission_id, line_id) in credits_by else 0
        out.append(ShareFigures(s, status, committed, paid_to_date, paid[quarter - 1], credits))
    return out


@dataclass
class StatedForecasts:
    """The forecasts stated in the last issued return of a year (empty when none was issued with snapshots)."""

    return_id: int | None = None
    by_line: dict = field(default_factory=dict)
    by_stream: dict = field(default_factory=dict)
    not_on_a_line: int | None = None


def stated_forecasts(year_id: int) -> StatedForecasts:
    """The line and stream forecasts kept by the latest issued return of the year that kept any (one query).

    A return being issued has no snapshots until its workbook is built, so it never measures against itself.
    """
    from tracker.models import ForecastSnapshot, PccReturn

    latest = (select(PccReturn.id).join(ForecastSnapshot, ForecastSnapshot.pcc_return_id == PccReturn.id)
              .where(PccReturn.funding_year_id == year_id, PccReturn.status == "issued")
              .order_by(PccReturn.issued_at.desc(), PccReturn.id.desc()).limit(1).scalar_subquery())
    out = StatedForecasts()
    for return_id, kind, line_id, stream_id, forecast in db.session.execute(
            select(ForecastSnapshot.pcc_return_id, ForecastSnapshot.kind, ForecastSnapshot.budget_line_id,
                   ForecastSnapshot.funding_stream_id, ForecastSnapshot.forecast_pence)
            .where(ForecastSnapshot.pcc_return_id == latest)):
        out.return_id = return_id
        if kind == "line" and line_id is not None:
            out.by_line[line_id] = int(forecast)
        elif kind == "stream" and stream_id is not None:
            out.by_stream[stream_id] = int(forecast)
        elif kind == "not_on_a_line":
            out.not_on_a_line = int(forecast)
    return out


def snapshot_rows(yf: "YearFigures") -> list[dict]:
    """What an issued return keeps of each line, stream and the "Not on a budget line" row (forecast snapshots)."""
    def row(kind, f: Figures, line_id=None, stream_id=None):
        return {"kind": kind, "budget_line_id": line_id, "funding_stream_id": stream_id, "name": f.name[:200],
                "profile_q1_pence": f.profile[0], "profile_q2_pence": f.profile[1],
                "profile_q3_pence": f.profile[2], "profile_q4_pence": f.profile[3],
                "actual_to_date_pence": f.actual_to_date, "committed_pence": f.committed,
                "forecast_pence": f.forecast, "variance_pence": f.variance}

    rows = [row("line", f, line_id=line.id) for line, f in yf.lines]
    rows += [row("stream", f, stream_id=f.key) for f in yf.streams]
    if yf.not_on_a_line is not None:
        rows.append(row("not_on_a_line", yf.not_on_a_line))
    return rows


# --- The year's figures -------------------------------------------------------------------------------------------

@dataclass
class YearFigures:
    """A year's figures as at the end of a quarter: lines, roll-ups and the total, and what they came from."""

    year: FundingYear
    quarter: int
    lines: list[tuple[BudgetLine, Figures]]
    #: Money and commitments on no budget line (None when there is none).
    not_on_a_line: Figures | None
    streams: list[Figures]
    strands: list[Figures]
    categories: list[Figures]
    total: Figures
    shares: list[ShareFigures]
    actuals: Actuals
    #: Contracts changed since the quarter end, as they stood then (``past_facts``).
    past: dict = field(default_factory=dict)

    @property
    def over_committed(self) -> list[tuple[BudgetLine, Figures]]:
        return [(line, f) for line, f in self.lines if f.over_committed]

    @property
    def unassigned_actual(self) -> int:
        return self.not_on_a_line.actual_to_date if self.not_on_a_line else 0

    def line_rows(self) -> list[Figures]:
        return [f for _, f in self.lines] + ([self.not_on_a_line] if self.not_on_a_line else [])

    @property
    def facts_then(self) -> dict[int, dict]:
        """Contracts whose status or dates changed after the quarter end: {commission id: {fact: value then}}."""
        out = {}
        for cid in self.past:
            facts = {f: self.as_at(cid, f, None) for f in ("status", "start_date", "end_date") if f in self.past[cid]}
            facts = {k: v for k, v in facts.items() if v is not None}
            if facts:
                out[cid] = facts
        return out

    def as_at(self, commission_id: int, field: str, now):
        """A contract's ``field`` as it stood at the quarter end (``now`` when it has not changed since)."""
        value = self.past.get(commission_id, {}).get(field, now)
        if field in ("start_date", "end_date") and isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                return now
        return value


def _thresholds():
    from tracker import settings

    t = settings.get_many("rag_amber_percent", "rag_red_percent")
    return t["rag_amber_percent"], t["rag_red_percent"]


def _set_rag(f: Figures, thresholds) -> Figures:
    amber, red = thresholds
    f.rag = worse(rag(f.actual_to_date, f.profile_to_date, amber, red), forecast_rag(f.forecast, f.target, amber, red))
    return f


def _as_at(f: Figures) -> Figures:
    """Leave out spend after the chosen quarter (a Q2 return made in October must not show October's spend)."""
    f.actual_by_quarter = [a if i < f.quarter else 0 for i, a in enumerate(f.actual_by_quarter)]
    return f


def year_figures(year: FundingYear, quarter: int = 4, today: date | None = None,
                 movement: bool = True) -> YearFigures:
    """Every figure of ``year`` as at the end of ``quarter`` (1-4). ``movement=False``: a page that shows no
    movement since the last return (home) saves reading that return's forecasts; ``movement`` is then None."""
    if quarter not in (1, 2, 3, 4):
        raise ValueError("quarter must be 1 to 4")
    thresholds = _thresholds()
    lines = db.session.scalars(
        select(BudgetLine).where(BudgetLine.funding_year_id == year.id)
        .options(joinedload(BudgetLine.funding_stream), joinedload(BudgetLine.category),
                 joinedload(BudgetLine.strand))
        .order_by(BudgetLine.id)
    ).all()
    stated = stated_forecasts(year.id) if movement else StatedForecasts()
    past = past_facts(year, quarter, today)
    share_rows = share_rows_as_at(year, past)
    actuals = ledger_actuals(year.id, share_map(share_rows))
    shares = share_figures(quarter, actuals, past, share_rows)
    committed: dict = defaultdict(int)
    outstanding: dict = defaultdict(int)
    for s in shares:
        committed[s.share.budget_line_id] += s.committed
        outstanding[s.share.budget_line_id] += s.outstanding

    pairs: list[tuple[BudgetLine, Figures]] = []
    for line in lines:
        f = Figures(name=line.description or line.category.name, quarter=quarter, budget=line.amount_pence,
                    original_budget=line.original_amount_pence, profile=list(line.profile),
                    actual_by_quarter=list(actuals.by_line.get(line.id, [0, 0, 0, 0])),
                    committed=committed.get(line.id, 0), outstanding=outstanding.get(line.id, 0), key=line.id,
                    previous_forecast=stated.by_line.get(line.id, 0) if stated.return_id else None)
        _as_at(f)
        if line.planned_override_pence is not None:
            f.planned, f.planned_overridden = line.planned_override_pence, True
        else:
            f.planned = max(0, f.profile_remaining - f.outstanding)
        pairs.append((line, _set_rag(f, thresholds)))

    loose = Figures(name=NOT_ON_A_LINE, quarter=quarter, actual_by_quarter=list(actuals.by_line.get(None, [0, 0, 0, 0])),
                    committed=committed.get(None, 0), outstanding=outstanding.get(None, 0), key=None,
                    previous_forecast=(stated.not_on_a_line or 0) if stated.return_id else None)
    _as_at(loose)
    not_on_a_line = _set_rag(loose, thresholds) if (loose.actual_to_date or loose.committed) else None

    # Streams: every stream with a line or an allocation; variance against the revised allocation.
    allocations, stream_names = {}, {}
    for stream_id, name, original, revised in db.session.execute(
            select(FundingStream.id, FundingStream.name, Allocation.original_pence, Allocation.revised_pence)
            .outerjoin(Allocation, and_(Allocation.funding_stream_id == FundingStream.id,
                                        Allocation.funding_year_id == year.id))):
        stream_names[stream_id] = name
        if revised is not None:
            allocations[stream_id] = (int(original), int(revised))
    streams: dict[int, Figures] = {}
    for sid in set(allocations) | {line.funding_stream_id for line in lines}:
        original, revised = allocations.get(sid, (None, None))
        streams[sid] = Figures(name=stream_names.get(sid, "?"), quarter=quarter, allocation=revised,
                               original_allocation=original, key=sid)
    for line, f in pairs:
        streams[line.funding_stream_id].add(f)
    if stated.return_id:
        # A stream's stated forecast is the one the return printed (a line deleted since still counts in it).
        for sid, g in streams.items():
            g.previous_forecast = stated.by_stream.get(sid, 0)
    stream_list = sorted(streams.values(), key=lambda g: g.name)

    strand_order = {line.strand_id: (line.strand.sort_order, line.strand.name) for line in lines}
    strand_list = _group(pairs, lambda l: l.strand_id, lambda l: l.strand.name, quarter,
                         lambda k: strand_order.get(k, (0, "")))
    category_list = _group(pairs, lambda l: (not l.labour, l.category.sort_order, l.category.name, l.labour),
                           lambda l: l.category.name, quarter, lambda k: k)

    total = Figures(name="Total", quarter=quarter, allocation=0, original_allocation=0, sums_targets=True)
    for f in stream_list:
        total.add(f)
    if not_on_a_line:
        total.add(not_on_a_line)
    for f in [*stream_list, *strand_list, *category_list, total]:
        _set_rag(f, thresholds)
    return YearFigures(year, quarter, pairs, not_on_a_line, stream_list, strand_list, category_list, total,
                       shares, actuals, past)


def _group(pairs, key, name_of, quarter, order) -> list[Figures]:
    groups: dict = {}
    for line, f in pairs:
        k = key(line)
        if k not in groups:
            groups[k] = Figures(name=name_of(line), quarter=quarter, key=k)
        groups[k].add(f)
    return [groups[k] for k in sorted(groups, key=order)]


def with_not_on_a_line(rows: list[Figures], yf: YearFigures) -> list[Figures]:
    """A table's rows with the "Not on a budget line" row added where there is one."""
    return rows + ([yf.not_on_a_line] if yf.not_on_a_line else [])


def table_total(rows: list[Figures], quarter: int, name: str = "Total") -> Figures:
    """The total row of a table: the sum of its rows, RAG worked out on the sums."""
    total = Figures(name=name, quarter=quarter)
    if any(r.allocation is not None for r in rows):
        total.allocation, total.original_allocation, total.sums_targets = 0, 0, True
    for r in rows:
        total.add(r)
    return _set_rag(total, _thresholds())


# --- Figures the other pages need ------------------------------------------------------------------------------------

def paid_by_contract(ids) -> dict[int, int]:
    """Ledger spend matched to each contract (all years, credits net off), for a handful of ids (one query)."""
    if not ids:
        return {}
    counted = LedgerTransaction.counted_commission_id()  # a held line counts on no contract
    rows = db.session.execute(
        select(counted, func.sum(LedgerTransaction.net_pence))
        .where(LedgerTransaction.commission_id.in_(list(ids)), counted.is_not(None)).group_by(counted))
    return {cid: int(total or 0) for cid, total in rows}


def paid_by_share(commission_id: int) -> dict[tuple[int | None, int | None], int]:
    """Spend routed to each of one contract's shares, every year: {(year id, budget line id): pence} (two queries;
    ``route_spend``, the rule the budget page and claims use). Held lines count on no contract until confirmed."""
    rows_by_year: dict = defaultdict(list)
    for row in db.session.execute(_share_rows().where(FundingShare.commission_id == commission_id)):
        rows_by_year[row.funding_year_id].append(row)
    shares = {year_id: share_map(rows) for year_id, rows in rows_by_year.items()}
    t = LedgerTransaction
    out: dict = defaultdict(int)
    for year_id, line_id, net, count in db.session.execute(
            select(t.funding_year_id, t.budget_line_id, t.net_pence, func.count(t.id))
            .where(t.counted_commission_id() == commission_id)  # a held line counts on no contract
            .group_by(t.funding_year_id, t.budget_line_id, t.net_pence)):
        for routed, pence in route_spend(commission_id, line_id, int(net), shares.get(year_id, {})):
            out[(year_id, routed)] += pence * int(count)
    return dict(out)


def paid_by_quarter(commission_id: int) -> list[tuple[str, int, int]]:
    """(funding year label, quarter 1-4, net spend in pence) for one contract, in order (one query); a ledger
    line's quarter is worked out as everywhere else (``quarter_of_ledger_line``)."""
    month = func.extract("month", LedgerTransaction.posting_date)
    rows = db.session.execute(
        select(FundingYear.label, LedgerTransaction.period, month, func.sum(LedgerTransaction.net_pence))
        .join(FundingYear, FundingYear.id == LedgerTransaction.funding_year_id, isouter=True)
        .where(LedgerTransaction.commission_id == commission_id,
               LedgerTransaction.counted_commission_id().is_not(None))  # a held line counts on no contract
        .group_by(FundingYear.label, LedgerTransaction.period, month)
    ).all()
    out: dict[tuple[str, int], int] = {}
    for label, period, posting_month, total in rows:
        key = (label or "no year", quarter_of_ledger_line(period, posting_month))
        out[key] = out.get(key, 0) + int(total or 0)
    return [(label, q, total) for (label, q), total in sorted(out.items())]


def over_committed_lines(year: FundingYear | None) -> list[tuple[BudgetLine, Figures]]:
    """Budget lines of a year whose commitments are above their amount (as at today)."""
    if year is None:
        return []
    return year_figures(year, quarter_in_progress(year.label, date.today())).over_committed
