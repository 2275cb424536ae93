"""The money rules of grant claims and grant conditions, as plain functions: no database, no request.

Claims
- A stream claims per period of its frequency: 12 monthly, 4 quarterly, 2 half-yearly or 1 annual claim a year.
- In arrears, a period's claimable is the stream's ledger spend in the period on the stream's basis:
  *defrayed* counts money paid out (``invoice``, ``credit``, ``journal``), leaving out ``accrual`` and
  ``reversal`` lines (accruals and their reversals); *accrued* counts every type. In advance, it is the stream's
  profile for the period (a quarter's profile split equally over its months, the last month taking the pennies left).
- A period whose claimable comes to less than nothing (credits beyond its spend) claims £0.00 and carries the
  negative into the stream's next claim period, which claims what is left after netting it off
  (``carry_forward``), so cumulative claims never exceed the net money paid out.
- A claim is due ``claim_due_days`` after its period ends (in arrears) or after it starts (in advance); the year's
  last claim is the final claim, due ``final_claim_due_days`` after 31 March.
- Cumulative claims never exceed the revised allocation: what is claimable beyond it falls to the PCC.
- After the final claim, what is left of the allocation unclaimed is underspend lost (no carry-forward
  of the allocation into the next year).
- Sanity ranges: a claim's dates (submitted, paid) fall within its year or a year either side; a payment above
  what was claimed, and evidence above what was pledged, are recorded only when the person confirms them.

Conditions (each of a stream's grant for a year)
- a minimum share of the allocation for a category or a strand: measured on the stream's budget and on its
  forecast outturn (the figures engine's);
- a minimum share of match funding: measured on pledged money and on evidenced money (the share counts evidenced);
- a ring fence: labour and non-labour each within its ring-fenced amount (labour the amount set, non-labour the
  rest of the allocation), on budget and on forecast. The two sides are judged apart and shown as two rows, each
  with its own ring-fenced amount, figures, status and shortfall: one side's overrun is never shown against the
  other side's figures.
Status: **met** when met on both; **at risk** when met on budget (or pledges) but not on forecast (or evidence);
**not met** otherwise. The shortfall is what is missing on the weaker of the two, in pence; for a ring-fence side,
the most it goes over its amount (money that would have to come from the other side).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tracker.models.ledger import TRANSACTION_TYPES
from tracker.periods import parse_label

#: The ledger transaction types each claim basis counts.
COUNTED_TYPES = {
    "defrayed": frozenset({"invoice", "credit", "journal"}),
    "accrued": frozenset(TRANSACTION_TYPES),
}
MONTHS_PER_PERIOD = {"monthly": 1, "quarterly": 3, "half-yearly": 6, "annual": 12}
MET, AT_RISK, NOT_MET = "met", "at risk", "not met"
#: What the PCC office (viewers) may see of claims: what was sent to the funder, never a draft in preparation or a
#: queried claim being corrected (as draft returns are hidden from them).
SEEN_BY_VIEWERS = frozenset({"submitted", "approved", "paid"})


def date_problem(label: str, when: date, what: str) -> str | None:
    """Why ``when`` cannot be a claim's ``what`` ("payment date") in year ``label``: it must fall within the year
    or a year either side (a claim is submitted and paid after its period, sometimes in the next year, never
    in 2099)."""
    start = parse_label(label)
    first, last = date(start - 1, 4, 1), date(start + 2, 3, 31)
    if first <= when <= last:
        return None
    return (f"The {what} must be between {first:%d/%m/%Y} and {last:%d/%m/%Y} (within {label} or a year either "
            f"side); {when:%d/%m/%Y} is outside that. Check the year.")


def payment_over_claim(claimed: int, received: int) -> str | None:
    """The question to confirm when a payment is more than was claimed (None when it is not)."""
    if received <= claimed:
        return None
    from tracker.money import format_pence

    return (f"The amount received, {format_pence(received)}, is {format_pence(received - claimed)} more than the "
            f"{format_pence(claimed)} claimed. Check it, and tick the box to confirm it if the funder really paid it.")


def evidence_over_pledge(pledged: int, evidenced: int) -> str | None:
    """The question to confirm when more is evidenced than was pledged (None when it is not)."""
    if evidenced <= pledged:
        return None
    from tracker.money import format_pence

    return (f"The evidenced amount, {format_pence(evidenced)}, is {format_pence(evidenced - pledged)} more than the "
            f"{format_pence(pledged)} pledged. Check it, and tick the box to confirm it if the partner really gave "
            "more (or raise the pledge).")


def seen_by(status: str, role: str) -> bool:
    """Whether someone of ``role`` may see a claim in ``status``: viewers only sent claims, staff all of them."""
    return role != "viewer" or status in SEEN_BY_VIEWERS

STATUS_WORDS = {MET: "Met", AT_RISK: "At risk", NOT_MET: "Not met"}


def counts(basis: str, transaction_type: str) -> bool:
    """Whether a ledger line of ``transaction_type`` counts towards a claim on ``basis``."""
    return transaction_type in COUNTED_TYPES.get(basis, COUNTED_TYPES["defrayed"])


@dataclass(frozen=True)
class Carried:
    """One claim period after netting off: what the period's own spend was, the negative brought forward from
    the period before, what it can claim and the negative it carries into the next (``0`` or less)."""

    spend: int
    brought_forward: int
    claimable: int
    carried_forward: int


def carry_forward(spends: list[int]) -> list[Carried]:
    """Net each period's claimable against the negative carried from the one before, in order: a period that
    comes to less than nothing claims nothing and carries the negative on. So claimable + carried forward =
    spend + brought forward in every period, and the year's claimable plus its last carry is its net spend."""
    out, carried = [], 0
    for spend in spends:
        net = spend + carried
        out.append(Carried(spend, carried, max(0, net), min(0, net)))
        carried = min(0, net)
    return out


def months_per_period(frequency: str) -> int:
    return MONTHS_PER_PERIOD.get(frequency, 3)


def periods_in_year(frequency: str) -> int:
    return 12 // months_per_period(frequency)


def _month_start(start_year: int, month: int) -> date:
    calendar_month = (month + 2) % 12 + 1
    return date(start_year + (1 if calendar_month < 4 else 0), calendar_month, 1)


def period_bounds(year_label: str, frequency: str, period: int) -> tuple[date, date]:
    """First and last day of claim ``period`` of a financial year."""
    n = months_per_period(frequency)
    if not 1 <= period <= periods_in_year(frequency):
        raise ValueError(f"a {frequency} claim period runs from 1 to {periods_in_year(frequency)}")
    start_year = parse_label(year_label)
    first = _month_start(start_year, (period - 1) * n + 1)
    last_month = period * n
    after = _month_start(start_year, last_month + 1) if last_month < 12 else date(start_year + 1, 4, 1)
    return first, after - timedelta(days=1)


def period_name(year_label: str, frequency: str, period: int) -> str:
    """"Q1 (Apr-Jun)", "April 2025", "H2 (Oct-Mar)" or "The year"."""
    start, end = period_bounds(year_label, frequency, period)
    if frequency == "monthly":
        return start.strftime("%B %Y")
    if frequency == "quarterly":
        return f"Q{period} ({start:%b}-{end:%b})"
    if frequency == "half-yearly":
        return f"H{period} ({start:%b}-{end:%b})"
    return "The year"


def is_final(frequency: str, period: int) -> bool:
    return period == periods_in_year(frequency)


def due_date(year_label: str, frequency: str, period: int, timing: str, claim_due_days: int,
             final_claim_due_days: int) -> date:
    """When a claim falls due (see the module's rules)."""
    start, end = period_bounds(year_label, frequency, period)
    if is_final(frequency, period) and timing != "advance":
        return end + timedelta(days=final_claim_due_days)
    if timing == "advance":
        return start + timedelta(days=claim_due_days)
    return end + timedelta(days=claim_due_days)


def advance_claimable(profile: list[int], frequency: str, period: int) -> int:
    """In advance, a period's claimable is the stream's profile for its months (Q1-Q4 profile ``profile``)."""
    monthly: list[int] = []
    for quarter_pence in profile:
        third = quarter_pence // 3
        monthly += [third, third, quarter_pence - 2 * third]
    n = months_per_period(frequency)
    return sum(monthly[(period - 1) * n: period * n])


def within_the_grant(allocation: int, claimed_elsewhere: int, claimable: int) -> tuple[int, int]:
    """What of ``claimable`` can be claimed given what the year's other claims already take of the allocation,
    and what falls to the PCC: (claim, over the grant)."""
    room = max(0, allocation - claimed_elsewhere)
    claim = min(max(0, claimable), room)
    return claim, max(0, claimable) - claim


def underspend_lost(allocation: int, total_claimed: int) -> int:
    """Once the final claim is made, what is left of the allocation unclaimed: lost at 31 March."""
    return max(0, allocation - total_claimed)


def required(allocation: int, basis_points: int) -> int:
    """``basis_points`` (1000 = 10%) of ``allocation``, rounded half-up to the penny."""
    return (allocation * basis_points + 5000) // 10000


def percent_words(basis_points: int) -> str:
    whole, part = divmod(basis_points, 100)
    return f"{whole}%" if not part else f"{whole}.{part:02d}".rstrip("0") + "%"


@dataclass(frozen=True)
class Assessment:
    """How a condition stands: the status, the shortfall in pence, and the figures it was judged on."""

    status: str
    shortfall: int
    required: int
    on_budget: int
    on_forecast: int

    @property
    def words(self) -> str:
        return STATUS_WORDS[self.status]


def minimum(required_pence: int, on_budget: int, on_forecast: int) -> Assessment:
    """A minimum (a share of the allocation for a category or strand, or of match funding): at least
    ``required_pence`` on budget (or pledged) and on forecast (or evidenced)."""
    budget_ok, forecast_ok = on_budget >= required_pence, on_forecast >= required_pence
    if budget_ok and forecast_ok:
        status = MET
    elif budget_ok or forecast_ok:
        status = AT_RISK
    else:
        status = NOT_MET
    return Assessment(status, max(0, required_pence - min(on_budget, on_forecast)), required_pence,
                      on_budget, on_forecast)


def within(limit: int, on_budget: int, on_forecast: int) -> Assessment:
    """One side of a ring fence: at most ``limit`` on budget and on forecast. The shortfall is the most the side
    goes over its ring-fenced amount on either."""
    budget_over, forecast_over = max(0, on_budget - limit), max(0, on_forecast - limit)
    if not budget_over and not forecast_over:
        status = MET
    elif not budget_over:
        status = AT_RISK
    else:
        status = NOT_MET
    return Assessment(status, max(budget_over, forecast_over), limit, on_budget, on_forecast)


def ring_fence(labour_limit: int, non_labour_limit: int, labour_budget: int, non_labour_budget: int,
               labour_forecast: int, non_labour_forecast: int) -> tuple[Assessment, Assessment]:
    """Labour and non-labour each within its ring-fenced amount: (labour, non-labour), each judged on its own
    figures (``within``)."""
    return (within(labour_limit, labour_budget, labour_forecast),
            within(non_labour_limit, non_labour_budget, non_labour_forecast))
