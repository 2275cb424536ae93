"""A contract's money by funding year and budget line: its funding shares.

The rules, in one place for the form, the variation, the imports, the roll-over and the demo:
- by default a contract's value is split across the funding years it spans, pro rata by days, each share rounded
  to the penny and the last taking what rounding left, so the shares add up to the value exactly;
- the shares must add up to the value; a form says by how much they do not;
- a share's budget line must be in the share's year (and stream, where one is named);
- a share in a year that is not set up yet waits ("not yet funded") and attaches when the year is created;
- a share in a closed year cannot change.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from tracker import audit
from tracker.extensions import db
from tracker.models import BudgetLine, Commission, FundingShare, FundingYear
from tracker.money import format_pence
from tracker.periods import label_for, parse_label, year_bounds

REALM = "commissions"
SHARE_FIELDS = ("commission_id", "year_label", "funding_year_id", "funding_stream_id", "budget_line_id", "amount_pence")


@dataclass
class ShareInput:
    """A share as a form, an import or the roll-over states it (before it is saved)."""

    year_label: str
    amount_pence: int
    budget_line_id: int | None = None
    funding_stream_id: int | None = None


# --- The default split ---------------------------------------------------------------------------------------

def years_spanned(start: date, end: date) -> list[str]:
    """The labels of the funding years from ``start`` to ``end``, in order."""
    first, last = parse_label(label_for(start)), parse_label(label_for(end))
    return [f"{y}-{(y + 1) % 100:02d}" for y in range(first, last + 1)]


def split_by_years(value_pence: int, start: date, end: date) -> list[tuple[str, int]]:
    """``value_pence`` split across the funding years from ``start`` to ``end`` by days, to the penny.

    £30,000.00 from 1 January to 31 December 2026: 90 of 365 days fall in 2025-26, so £7,397.26 there and
    £22,602.74 in 2026-27. Each share is rounded half-up; the last takes the remainder, so they add up exactly.
    """
    if end < start:
        return [(label_for(start), value_pence)]
    total_days = (end - start).days + 1
    labels = years_spanned(start, end)
    out, given = [], 0
    for i, label in enumerate(labels):
        if i == len(labels) - 1:
            out.append((label, value_pence - given))
            break
        y_start, y_end = year_bounds(label)
        days = (min(end, y_end) - max(start, y_start)).days + 1
        amount = int((Decimal(value_pence) * days / Decimal(total_days)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        out.append((label, amount))
        given += amount
    return out


def spread(amount: int, weights: list[int]) -> list[int]:
    """``amount`` in parts proportional to ``weights`` (all equal when they add up to nothing), exact to the penny."""
    if not weights:
        return []
    total = sum(weights)
    if total <= 0:
        weights, total = [1] * len(weights), len(weights)
    parts = [int((Decimal(amount) * w / Decimal(total)).quantize(Decimal(1), rounding=ROUND_HALF_UP)) for w in weights]
    parts[-1] += amount - sum(parts)
    return parts


def default_shares(value_pence: int, start: date, end: date, budget_line: BudgetLine | None = None,
                   funding_stream_id: int | None = None) -> list[ShareInput]:
    """The default split as shares: the given line for its own year, the stream (no line yet) for the others."""
    stream_id = budget_line.funding_stream_id if budget_line is not None else funding_stream_id
    out = []
    for label, amount in split_by_years(value_pence, start, end):
        line_id = budget_line.id if budget_line is not None and budget_line.funding_year.label == label else None
        out.append(ShareInput(label, amount, line_id, stream_id))
    return out


# --- Checking and saving ---------------------------------------------------------------------------------------

def difference_message(value_pence: int, shares: list[ShareInput]) -> str | None:
    """What the form says when the shares do not add up to the value, else None."""
    total = sum(s.amount_pence for s in shares)
    diff = total - value_pence
    if diff == 0:
        return None
    side = "more" if diff > 0 else "less"
    return (f"The funding shares add up to {format_pence(total)}, {format_pence(abs(diff))} {side} than the value "
            f"({format_pence(value_pence)})")


def check_shares(commission: Commission | None, value_pence: int, shares: list[ShareInput]) -> list[str]:
    """Problems with a set of shares for a contract worth ``value_pence``, in the users' words (empty: fine)."""
    from tracker.funding.rules import closed_year_message, year_by_label

    problems: list[str] = []
    message = difference_message(value_pence, shares)
    if message:
        problems.append(message)
    labels = {s.year_label for s in shares}
    years = {y.label: y for y in db.session.scalars(select(FundingYear).where(FundingYear.label.in_(labels)))}
    line_ids = {s.budget_line_id for s in shares if s.budget_line_id}
    lines = {l.id: l for l in db.session.scalars(select(BudgetLine).where(BudgetLine.id.in_(line_ids)))} if line_ids else {}
    current = {(s.year_label, s.budget_line_id): s.amount_pence for s in (commission.funding_shares if commission else [])}
    seen = set()
    for s in shares:
        try:
            parse_label(s.year_label)
        except ValueError:
            problems.append(f"“{s.year_label}” is not a funding year: write it like 2025-26")
            continue
        if s.amount_pence < 0:
            problems.append(f"A share cannot be negative ({s.year_label}: {format_pence(s.amount_pence)})")
        key = (s.year_label, s.budget_line_id)
        if key in seen:
            problems.append(f"{s.year_label} has two shares on the same budget line: put them together")
        seen.add(key)
        year = years.get(s.year_label)
        if year is not None and year.is_closed and current.get(key) != s.amount_pence:
            problems.append(closed_year_message(year))
        if s.budget_line_id:
            line = lines.get(s.budget_line_id)
            if line is None:
                problems.append("Choose a budget line from the list")
            elif year is None or line.funding_year_id != year.id:
                problems.append(f"That budget line ({line.description or line.id}) is not in {s.year_label}: "
                                "choose a line of the share's year")
            elif s.funding_stream_id and line.funding_stream_id != s.funding_stream_id:
                problems.append(f"That budget line ({line.description or line.id}) is not paid from the chosen "
                                "funding stream")
    for (label, line_id), amount in current.items():
        year = years.get(label) or year_by_label(label)
        if year is not None and year.is_closed and (label, line_id) not in seen:
            problems.append(closed_year_message(year))
    return list(dict.fromkeys(problems))


def set_shares(commission: Commission, shares: list[ShareInput], effective: date | None = None) -> bool:
    """Replace a contract's shares with ``shares`` (already checked), audited. Returns True if anything changed.

    ``effective`` is the date the change took effect (a variation's date agreed), when it is not the day it is
    recorded: figures as at an earlier quarter end count it from then."""
    labels = {s.year_label for s in shares}
    years = {y.label: y for y in db.session.scalars(select(FundingYear).where(FundingYear.label.in_(labels)))}
    lines = {l.id: l for l in db.session.scalars(
        select(BudgetLine).where(BudgetLine.id.in_({s.budget_line_id for s in shares if s.budget_line_id})))}
    before, before_rows = describe(commission.funding_shares), share_rows(commission.funding_shares)
    keep: dict[tuple, FundingShare] = {(s.year_label, s.budget_line_id): s for s in commission.funding_shares}
    wanted = set()
    for s in shares:
        if s.amount_pence == 0 and not s.budget_line_id:
            continue
        key = (s.year_label, s.budget_line_id)
        wanted.add(key)
        year = years.get(s.year_label)
        stream_id = lines[s.budget_line_id].funding_stream_id if s.budget_line_id in lines else s.funding_stream_id
        share = keep.get(key)
        if share is None:
            share = FundingShare(year_label=s.year_label, budget_line_id=s.budget_line_id)
            commission.funding_shares.append(share)
        share.funding_year_id = year.id if year is not None else None
        share.funding_stream_id = stream_id
        share.amount_pence = s.amount_pence
    for key, share in keep.items():
        if key not in wanted:
            commission.funding_shares.remove(share)
    db.session.flush()
    after = describe(commission.funding_shares)
    if before != after:
        # "_shares" keeps the rows themselves, so figures as at an earlier date can be worked out
        # (tracker.figures.changes_since).
        marks = {"_effective": effective.isoformat()} if effective else {}
        audit.record(REALM, "change", commission, f"Funding shares of {commission.reference or 'a new commission'} set",
                     {"funding_shares": before, "_shares": before_rows, **marks},
                     {"funding_shares": after, "_shares": share_rows(commission.funding_shares), **marks})
        return True
    return False


def share_rows(shares) -> list[dict]:
    """Shares as plain values for the audit trail."""
    return [{"year_label": s.year_label, "budget_line_id": s.budget_line_id, "funding_stream_id": s.funding_stream_id,
             "amount_pence": s.amount_pence} for s in shares]


def describe(shares) -> list[str]:
    """Shares as lines of text for the audit trail ("2025-26: £7,397.26 on Mentoring (Home Office VRU core grant)")."""
    out = []
    for s in sorted(shares, key=lambda s: (s.year_label, s.budget_line_id or 0)):
        where = "not yet funded" if s.funding_year_id is None else (
            f"on {s.budget_line.description or s.budget_line.category.name} ({s.budget_line.funding_stream.name})"
            if s.budget_line is not None else "not on a budget line")
        out.append(f"{s.year_label}: {format_pence(s.amount_pence)} {where}")
    return out


def compare_by_year(before: list[ShareInput], after: list[ShareInput]) -> list[tuple[str, int, int]]:
    """(year, amount before, amount after) for every year in either list, in order: what a variation's confirm
    page shows side by side."""
    old: dict[str, int] = {}
    new: dict[str, int] = {}
    for shares, into in ((before, old), (after, new)):
        for s in shares:
            into[s.year_label] = into.get(s.year_label, 0) + (s.amount_pence or 0)
    return [(label, old.get(label, 0), new.get(label, 0)) for label in sorted(set(old) | set(new))]


def shares_of(commission: Commission) -> list[ShareInput]:
    return [ShareInput(s.year_label, s.amount_pence, s.budget_line_id, s.funding_stream_id)
            for s in commission.funding_shares]


# --- Budget lines taken over their amount ------------------------------------------------------------------------

def over_budget_warnings(commission: Commission | None, shares: list[ShareInput],
                         replacing: Iterable[int] = ()) -> list[str]:
    """"This takes Young Futures panel (2025-26) over its budget by £22,950.00" for each line the shares would
    take over its amount, counting the other contracts' committed shares on it (two queries). ``shares`` may be
    several contracts' (the commissions register import asks once for the whole file): ``replacing`` names the
    contracts whose shares they replace, left out of the others as ``commission`` is."""
    from tracker.figures import COMMITTED_STATUSES

    line_ids = {s.budget_line_id for s in shares if s.budget_line_id}
    if not line_ids:
        return []
    leave_out = set(replacing) | ({commission.id} if commission is not None and commission.id else set())
    others = dict(db.session.execute(
        select(FundingShare.budget_line_id, func.sum(FundingShare.amount_pence))
        .join(Commission, Commission.id == FundingShare.commission_id)
        .where(FundingShare.budget_line_id.in_(line_ids), Commission.status.in_(COMMITTED_STATUSES),
               *([Commission.id.not_in(leave_out)] if leave_out else []))
        .group_by(FundingShare.budget_line_id)).all())
    lines = db.session.scalars(select(BudgetLine).where(BudgetLine.id.in_(line_ids)).order_by(BudgetLine.id)).all()
    mine: dict[int, int] = {}
    for s in shares:
        if s.budget_line_id:
            mine[s.budget_line_id] = mine.get(s.budget_line_id, 0) + s.amount_pence
    warnings = []
    for line in lines:
        over = int(others.get(line.id) or 0) + mine.get(line.id, 0) - line.amount_pence
        if over > 0:
            warnings.append(f"This takes {line.description or line.category.name} ({line.funding_year.label}) over its "
                            f"budget by {format_pence(over)}")
    return warnings


# --- Years that arrive later --------------------------------------------------------------------------------------

def line_key(line: BudgetLine) -> tuple:
    """What makes a budget line "the same line" from one year to the next: its stream, category and strand (a
    line is unique by these within a year)."""
    return (line.funding_stream_id, line.category_id, line.strand_id)


def attach_waiting_shares(year: FundingYear) -> int:
    """Give the shares waiting for ``year`` their year, and a budget line where the contract's line of an
    earlier year has a match in this one (same stream, category, strand and description). Returns how many
    shares attached. Called when a year is created and after a roll-over has copied the lines."""
    waiting = db.session.scalars(
        select(FundingShare).where(FundingShare.year_label == year.label,
                                   (FundingShare.funding_year_id.is_(None)) | (FundingShare.budget_line_id.is_(None)))
    ).all()
    if not waiting:
        return 0
    new_lines = {line_key(l): l for l in db.session.scalars(select(BudgetLine).where(BudgetLine.funding_year_id == year.id))}
    earlier = {}
    for s in db.session.scalars(
            select(FundingShare).where(FundingShare.commission_id.in_({w.commission_id for w in waiting}),
                                       FundingShare.budget_line_id.is_not(None), FundingShare.year_label < year.label)
            .order_by(FundingShare.year_label)):
        earlier[s.commission_id] = s.budget_line  # the latest earlier year wins
    attached = 0
    for share in waiting:
        changed = share.funding_year_id is None
        share.funding_year_id = year.id
        previous = earlier.get(share.commission_id)
        if share.budget_line_id is None and previous is not None:
            match = new_lines.get(line_key(previous))
            if match is not None and (share.funding_stream_id in (None, match.funding_stream_id)):
                share.budget_line_id = match.id
                share.funding_stream_id = match.funding_stream_id
                changed = True
        if changed:
            attached += 1
            audit.record(REALM, "change", share.commission,
                         f"{share.commission.reference}: its {year.label} share of {format_pence(share.amount_pence)} "
                         "attached to the new funding year", None,
                         {"year_label": year.label, "budget_line_id": share.budget_line_id})
    db.session.flush()
    return attached


# --- Payment schedules ---------------------------------------------------------------------------------------------

def parse_schedule(text: str) -> tuple[list[tuple[date, int]], list[str]]:
    """Payments typed one a line, a date then an amount ("30/06/2026, £2,500.00"); the problems, by line."""
    from tracker.spreadsheets.values import ValueProblem, parse_date
    from tracker.money import MoneyError, to_pence

    payments, problems = [], []
    for n, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        separated = line.replace("\t", ",").replace(";", ",")
        parts = separated.split(",", 1) if "," in separated else line.split(None, 1)
        if len(parts) != 2:
            problems.append(f"Line {n} (“{line[:40]}”): write a date then an amount, like 30/06/2026, 2,500.00")
            continue
        try:
            due = parse_date(parts[0].strip())
        except ValueProblem:
            problems.append(f"Line {n}: “{parts[0].strip()[:20]}” is not a date: write it like 30/06/2026")
            continue
        try:
            amount = to_pence(parts[1].strip())
        except MoneyError:
            problems.append(f"Line {n}: “{parts[1].strip()[:20]}” is not an amount: write it like 2,500.00")
            continue
        payments.append((due, amount))
    return payments, problems


def schedule_problems(share: FundingShare, payments: list[tuple[date, int]]) -> list[str]:
    """A schedule is optional; given, its payments fall in the share's year, are above £0.00, one a day, and add
    up to the share."""
    if not payments:
        return []
    problems = []
    first, last = year_bounds(share.year_label)
    for due, amount in payments:
        if not first <= due <= last:
            problems.append(f"{due:%d/%m/%Y} is not in {share.year_label} ({first:%d/%m/%Y} to {last:%d/%m/%Y})")
        if amount <= 0:
            problems.append(f"The payment on {due:%d/%m/%Y} must be more than £0.00")
    dates = [d for d, _ in payments]
    if len(set(dates)) != len(dates):
        problems.append("Two payments fall on the same day: put them together")
    total = sum(a for _, a in payments)
    if total != share.amount_pence:
        side = "more" if total > share.amount_pence else "less"
        problems.append(f"The payments add up to {format_pence(total)}, {format_pence(abs(total - share.amount_pence))} "
                        f"{side} than the share ({format_pence(share.amount_pence)})")
    return problems


def set_schedule(share: FundingShare, payments: list[tuple[date, int]]) -> None:
    """Replace a share's payment schedule (already checked), audited on its contract."""
    from tracker.models import SharePayment

    before = [f"{p.due_date:%d/%m/%Y}: {format_pence(p.amount_pence)}" for p in share.payments]
    share.payments.clear()
    db.session.flush()
    for due, amount in sorted(payments):
        share.payments.append(SharePayment(due_date=due, amount_pence=amount))
    after = [f"{d:%d/%m/%Y}: {format_pence(a)}" for d, a in sorted(payments)]
    db.session.flush()
    if before != after:
        audit.record(REALM, "change", share.commission,
                     f"Payment schedule of {share.commission.reference}'s {share.year_label} share set",
                     {"payment_schedule": before}, {"payment_schedule": after})


def schedule_text(share: FundingShare) -> str:
    return "\n".join(f"{p.due_date:%d/%m/%Y}, {format_pence(p.amount_pence, symbol=False)}" for p in share.payments)


def scheduled_by(share: FundingShare, day: date) -> int | None:
    """What the schedule says is due by ``day`` (None without a schedule)."""
    if not share.payments:
        return None
    return sum(p.amount_pence for p in share.payments if p.due_date <= day)
