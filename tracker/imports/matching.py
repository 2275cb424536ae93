"""Matching ledger lines to commissions or budget lines, and the assignments finance makes for lines nothing matched.

A line is matched, in order, by its PO number (the commission's ``po_number``), then by its supplier ID
(a ``supplier_id`` SupplierAlias) or its supplier name normalised (``normalise_supplier``: case, spaces,
punctuation and "Ltd"/"Limited" ignored) against the provider's recorded names and aliases. A supplier whose
lines a person assigned to a commission, asking for it to be remembered, has a *remembered rule*
(``SupplierAlias.commission_id``); it applies only to lines dated within that commission's dates, in open
funding years. Otherwise the provider's commission running on the line's date is used when there is exactly one.
Spend that is not a commission goes to a budget line by an *account rule* (``AccountRule``: account code and year).
A line matched to a commission keeps the budget line its account rule gives it (its own coding), or none; which of
the contract's shares it counts on is the figures engine's rule (``figures.route_spend``), worked out when read, so a
contract's shares can change without re-matching its ledger.
Anything else is left unassigned for a person on the unmatched lines page, with the reason (``Matcher.explain``).

A line matched automatically (by PO or supplier) to a contract not yet awarded (pipeline, approved, procuring) or
dated outside the contract's start and end is *held* (``hold_for``, the one place the rule lives): it keeps its
commission but does not count on it (``LedgerTransaction.counted_commission_id``) until finance confirms the match
(``confirm_held``) or takes it off the contract (``release_held``). The import decides it as it matches; a change
to a contract's status or dates decides it again for the contract's lines (``recheck_holds``). A line a person
assigned or confirmed is their decision and is never held.

``Matcher`` loads every lookup once so the import's per-row path is a few dictionary reads.
"""
from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select, update

from tracker import audit
from tracker.errors import abort_with, get_or_404
from tracker.extensions import db
from tracker.figures import is_contracted
from tracker.models import (
    AccountRule, BudgetLine, Commission, FundingYear, LedgerTransaction, Provider, SupplierAlias,
)

PO, SUPPLIER, MANUAL, ACCOUNT, LINE = "po", "supplier", "manual", "account", "line"
#: Matches made by the rules, not by a person: the only ones ever held.
HELD_METHODS = (PO, SUPPLIER)
NOT_AWARDED, OUTSIDE_DATES = "not_awarded", "outside_dates"
#: The unmatched page's group for each reason a line is held, in its order.
HELD_GROUPS = {NOT_AWARDED: "Matched to a contract not yet awarded", OUTSIDE_DATES: "Dated outside the contract"}

_SUFFIX = re.compile(r"\b(?:ltd|limited)\b\.?", re.I)
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


@lru_cache(maxsize=8192)  # a ledger names the same few hundred suppliers on thousands of lines
def normalise_supplier(name: str | None) -> str:
    """"Safer Streets Kent Limited" and "SAFER STREETS KENT LTD." both give "saferstreetskent"."""
    if not name:
        return ""
    text = _SUFFIX.sub(" ", name.lower().replace("&", " and "))
    return _NOT_ALNUM.sub("", text)


def normalise_code(value: str | None) -> str:
    """PO numbers and supplier IDs compare without case or surrounding spaces."""
    return (value or "").strip().upper()


def hold_for(status: str, start: date, end: date, on: date) -> str | None:
    """Why a line dated ``on``, matched by the rules to a contract in ``status`` running ``start``-``end``, is held
    rather than counted on it (``NOT_AWARDED`` or ``OUTSIDE_DATES``), or None when it counts. The one rule: the
    import and every re-check of a contract's lines call it."""
    if not is_contracted(status):
        return NOT_AWARDED
    if not start <= on <= end:
        return OUTSIDE_DATES
    return None


def held_message(reason: str | None, reference: str, status: str, start: date, end: date, on: date) -> str:
    """The hold in finance's words: "matched to VRU-25-014, which is not yet awarded (Pipeline)" or "dated
    03/05/2025, before VRU-25-014 starts on 01/01/2026"."""
    if reason == NOT_AWARDED:
        return f"matched to {reference}, which is not yet awarded ({status.capitalize()})"
    if reason == OUTSIDE_DATES:
        if on < start:
            return f"dated {on:%d/%m/%Y}, before {reference} starts on {start:%d/%m/%Y}"
        return f"dated {on:%d/%m/%Y}, after {reference} ends on {end:%d/%m/%Y}"
    return ""


@dataclass(frozen=True)
class _Running:
    id: int
    reference: str
    start: date
    end: date
    status: str = "live"


MATCH_MEMORY = 50_000  # distinct (PO, supplier, date, account, year) answers a Matcher remembers


class Matcher:
    """Every lookup matching needs, loaded in a few queries; ``match`` is then pure Python."""

    def __init__(self) -> None:
        self._answers: dict[tuple, tuple[int | None, int | None, str]] = {}
        self.by_po: dict[str, int] = {}
        self.by_provider: dict[int, list[_Running]] = {}
        self.commissions: dict[int, _Running] = {}
        for c in db.session.execute(select(Commission.id, Commission.reference, Commission.po_number,
                                           Commission.provider_id, Commission.start_date, Commission.end_date,
                                           Commission.status)):
            running = _Running(c.id, c.reference, c.start_date, c.end_date, c.status)
            self.commissions[c.id] = running
            if c.po_number:
                self.by_po[normalise_code(c.po_number)] = c.id
            self.by_provider.setdefault(c.provider_id, []).append(running)
        self.provider_names = {pid: name for pid, name in db.session.execute(select(Provider.id, Provider.name))}
        # supplier key -> (provider id, remembered commission id or None)
        self.by_supplier_id: dict[str, tuple[int, int | None]] = {}
        self.by_name: dict[str, tuple[int, int | None]] = {}
        for pid, name in self.provider_names.items():
            self.by_name.setdefault(normalise_supplier(name), (pid, None))
        for a in db.session.execute(select(SupplierAlias.kind, SupplierAlias.value, SupplierAlias.provider_id,
                                           SupplierAlias.commission_id)):
            if a.kind == "supplier_id":
                self.by_supplier_id[normalise_code(a.value)] = (a.provider_id, a.commission_id)
            else:
                self.by_name[normalise_supplier(a.value)] = (a.provider_id, a.commission_id)
        self.open_years = set(db.session.scalars(select(FundingYear.id).where(FundingYear.status == "open")))
        self.by_account: dict[tuple[str, int], int] = {
            (normalise_code(r.account_code), r.funding_year_id): r.budget_line_id
            for r in db.session.execute(select(AccountRule.account_code, AccountRule.funding_year_id,
                                               AccountRule.budget_line_id))}

    def _supplier(self, supplier_id: str, supplier_name: str) -> tuple[int, int | None] | None:
        found = None
        if supplier_id:
            found = self.by_supplier_id.get(normalise_code(supplier_id))
        if found is None and supplier_name:
            found = self.by_name.get(normalise_supplier(supplier_name))
        return found

    def _remembered_applies(self, commission_id: int | None, on: date, year_id: int | None) -> bool:
        c = self.commissions.get(commission_id) if commission_id is not None else None
        return c is not None and c.start <= on <= c.end and (year_id is None or year_id in self.open_years)

    def match(self, po_number: str, supplier_id: str, supplier_name: str, on: date, account_code: str = "",
              year_id: int | None = None) -> tuple[int | None, int | None, str]:
        """(commission id, budget line id, method) for one ledger line; (None, None, "") when unmatched.

        Remembered by its arguments (the lookups do not change while a Matcher lives): a ledger repeats the same
        supplier, PO and account on the same dates line after line."""
        key = (po_number, supplier_id, supplier_name, on, account_code, year_id)
        found = self._answers.get(key)
        if found is None:
            found = self._match(po_number, supplier_id, supplier_name, on, account_code, year_id)
            if len(self._answers) < MATCH_MEMORY:
                self._answers[key] = found
        return found

    def _match(self, po_number: str, supplier_id: str, supplier_name: str, on: date, account_code: str,
               year_id: int | None) -> tuple[int | None, int | None, str]:
        if po_number:
            hit = self.by_po.get(normalise_code(po_number))
            if hit is not None:
                return hit, self.coded_line(account_code, year_id), PO
        found = self._supplier(supplier_id, supplier_name)
        if found is not None:
            provider_id, remembered = found
            if self._remembered_applies(remembered, on, year_id):
                return remembered, self.coded_line(account_code, year_id), SUPPLIER
            running = [c for c in self.by_provider.get(provider_id, ()) if c.start <= on <= c.end]
            if len(running) == 1:
                return running[0].id, self.coded_line(account_code, year_id), SUPPLIER
        line_id = self.coded_line(account_code, year_id)
        if line_id is not None:
            return None, line_id, ACCOUNT
        return None, None, ""

    def coded_line(self, account_code: str, year_id: int | None) -> int | None:
        """The budget line the ledger's own coding gives a line (an account rule for its account and year), if any.
        On a contract, the figures engine uses it only when it is one of the contract's shares in the year, and
        apportions the line across the shares otherwise (``figures.route_spend``)."""
        if not account_code or year_id is None:
            return None
        return self.by_account.get((normalise_code(account_code), year_id))

    def hold(self, commission_id: int | None, method: str, on: date) -> tuple[str | None, str]:
        """(reason, message) when a line this Matcher matched is held (``hold_for``), else (None, "")."""
        c = self.commissions.get(commission_id) if commission_id is not None else None
        if c is None or method not in HELD_METHODS:
            return None, ""
        reason = hold_for(c.status, c.start, c.end, on)
        return reason, held_message(reason, c.reference, c.status, c.start, c.end, on)

    def explain(self, po_number: str, supplier_id: str, supplier_name: str, on: date) -> str:
        """Why a line matched nothing, in a finance officer's words."""
        when = on.strftime("%d/%m/%Y")
        if po_number and normalise_code(po_number) not in self.by_po:
            return f"PO {po_number} is not on any commission"
        found = self._supplier(supplier_id, supplier_name)
        no_po = "No PO, and " if not po_number else ""
        if not (normalise_code(supplier_id) or normalise_supplier(supplier_name)):
            return f"{no_po}no supplier (a journal)" if no_po else "No supplier"
        who = supplier_name or supplier_id
        if found is None:
            return f"{no_po or ''}{'s' if no_po else 'S'}upplier {who} is not a provider with a commission"
        provider_id, remembered = found
        commissions = self.by_provider.get(provider_id, ())
        name = self.provider_names.get(provider_id, who)
        if not commissions:
            return f"{name} has no commission"
        running = [c for c in commissions if c.start <= on <= c.end]
        if not running:
            return f"No commission of {name} runs on {when}"
        if len(running) > 1:
            return (f"{name} has {len(running)} commissions running on {when} "
                    f"({', '.join(c.reference for c in running[:3])}); choose one")
        return f"{name}'s commission {running[0].reference} runs on {when}; import again or assign it"


# --- unmatched lines ----------------------------------------------------------------------------------------

UNASSIGNED = (LedgerTransaction.commission_id.is_(None), LedgerTransaction.budget_line_id.is_(None))


def unmatched_count() -> int:
    return db.session.scalar(select(func.count(LedgerTransaction.id)).where(*UNASSIGNED)) or 0


# --- held lines ---------------------------------------------------------------------------------------------

HELD = (LedgerTransaction.commission_id.is_not(None), LedgerTransaction.held_reason.is_not(None))


def recheck_holds(commission_id: int | None = None, line_ids=None) -> int:
    """Decide again (``hold_for``) whether the rules' matches of a contract, or the lines ``line_ids``, are held:
    after a contract's status or dates change (awarded, varied, its dates corrected) or an import moves a line's
    date. Lines in closed years stay as they were reported; a person's assignment or confirmation is never held.
    Audited per line changed; returns how many changed."""
    q = (select(LedgerTransaction, Commission.reference, Commission.status, Commission.start_date,
                Commission.end_date)
         .join(Commission, Commission.id == LedgerTransaction.commission_id)
         .join(FundingYear, FundingYear.id == LedgerTransaction.funding_year_id)
         .where(LedgerTransaction.match_method.in_(HELD_METHODS), FundingYear.status != "closed"))
    if commission_id is not None:
        q = q.where(LedgerTransaction.commission_id == commission_id)
    if line_ids is not None:
        q = q.where(LedgerTransaction.id.in_(list(line_ids) or [0]))
    changed = 0
    for line, reference, status, start, end in db.session.execute(q).all():
        reason = hold_for(status, start, end, line.posting_date)
        if reason == line.held_reason:
            continue
        before = audit.snapshot(line, ("held_reason",))
        line.held_reason = reason
        summary = (f"Ledger line {line.reference} held, not counted: "
                   f"{held_message(reason, reference, status, start, end, line.posting_date)}" if reason
                   else f"Ledger line {line.reference} now counts on {reference}")
        audit.record("imports", "change", line, summary, before, audit.snapshot(line, ("held_reason",)))
        changed += 1
    db.session.flush()
    return changed


def held_lines(limit: int = 200) -> dict[str, dict]:
    """The held lines by reason (``HELD_GROUPS`` order): {reason: {"count", "total_pence", "lines": [(line,
    commission, message)]}}, at most ``limit`` lines each, oldest first; three queries whatever their number."""
    from sqlalchemy.orm import contains_eager

    out = {reason: {"count": 0, "total_pence": 0, "lines": []} for reason in HELD_GROUPS}
    for reason, count, total in db.session.execute(
            select(LedgerTransaction.held_reason, func.count(LedgerTransaction.id),
                   func.coalesce(func.sum(LedgerTransaction.net_pence), 0))
            .where(*HELD).group_by(LedgerTransaction.held_reason)):
        group = out.setdefault(reason, {"count": 0, "total_pence": 0, "lines": []})
        group["count"], group["total_pence"] = int(count), int(total or 0)
    for reason, group in out.items():
        if not group["count"]:
            continue
        lines = db.session.scalars(
            select(LedgerTransaction).join(Commission, Commission.id == LedgerTransaction.commission_id)
            .options(contains_eager(LedgerTransaction.commission))
            .where(*HELD, LedgerTransaction.held_reason == reason)
            .order_by(Commission.reference, LedgerTransaction.posting_date, LedgerTransaction.id).limit(limit)).all()
        group["lines"] = [(l, l.commission, held_message(reason, l.commission.reference, l.commission.status,
                                                         l.commission.start_date, l.commission.end_date,
                                                         l.posting_date)) for l in lines]
    return out


def held_count() -> int:
    return db.session.scalar(select(func.count(LedgerTransaction.id)).where(*HELD)) or 0


class HeldRefused(ValueError):
    """A held line that cannot be confirmed or released (its year is closed); the message says why."""


def _held_line_in_open_year(line_id: int) -> LedgerTransaction | None:
    from tracker.funding.rules import closed_year_problem

    line = db.session.get(LedgerTransaction, line_id)
    if line is None:
        abort_with(404, "There is no ledger line with that number.")
    problem = closed_year_problem(db.session.get(FundingYear, line.funding_year_id) if line.funding_year_id else None)
    if problem:
        raise HeldRefused(f"Line {line.reference}: {problem}")
    return line


def confirm_held(line_id: int) -> bool:
    """Finance confirms a held line's match: it counts on its commission from now on, as their decision (method
    "manual", so no later re-check holds it again). One conditional update, so a second click (or a second tab)
    changes nothing: False when the line was no longer held. Audited."""
    line = _held_line_in_open_year(line_id)
    before = audit.snapshot(line, ("held_reason", "match_method"))
    reference = line.commission.reference if line.commission else ""
    done = db.session.execute(
        update(LedgerTransaction).where(LedgerTransaction.id == line_id, *HELD)
        .values(held_reason=None, match_method=MANUAL).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        return False
    db.session.refresh(line)
    audit.record("imports", "change", line, f"Confirmed ledger line {line.reference} on {reference}: it counts now",
                 before, audit.snapshot(line, ("held_reason", "match_method")))
    return True


def release_held(line_id: int) -> bool:
    """Finance takes a held line off its commission: back among the unmatched lines, to be assigned where it
    belongs. Conditional, like ``confirm_held``: False when the line was no longer held. Audited."""
    line = _held_line_in_open_year(line_id)
    fields = ("commission_id", "budget_line_id", "match_method", "held_reason")
    before = audit.snapshot(line, fields)
    reference = line.commission.reference if line.commission else ""
    done = db.session.execute(
        update(LedgerTransaction).where(LedgerTransaction.id == line_id, *HELD)
        .values(commission_id=None, budget_line_id=None, match_method="", held_reason=None)
        .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        return False
    db.session.refresh(line)
    audit.record("imports", "change", line, f"Took ledger line {line.reference} off {reference}: unmatched now",
                 before, audit.snapshot(line, fields))
    return True


# --- assigning ----------------------------------------------------------------------------------------------

def supplier_key(line: LedgerTransaction) -> tuple[str, str] | None:
    """The (kind, value) a remembered rule keys on: the supplier ID, else the normalised name; None for none."""
    if line.supplier_id and normalise_code(line.supplier_id):
        return "supplier_id", normalise_code(line.supplier_id)
    if normalise_supplier(line.supplier_name):
        return "supplier_name", normalise_supplier(line.supplier_name)
    return None


def _same_supplier(line: LedgerTransaction, key: tuple[str, str]) -> bool:
    return supplier_key(line) == key


@dataclass
class Plan:
    """What assigning some lines to a commission will do, shown before it is done."""

    commission: Commission
    lines: list[LedgerTransaction]
    followers: list[LedgerTransaction] = field(default_factory=list)  # moved by the remembered rule
    spent_before: int = 0

    @property
    def moving_pence(self) -> int:
        return sum(l.net_pence for l in self.lines) + sum(l.net_pence for l in self.followers)

    @property
    def spent_after(self) -> int:
        return self.spent_before + self.moving_pence

    @property
    def over_by(self) -> int:
        """How far the assignment takes the commission's spend over its (lifetime) value; 0 when it does not."""
        value = self.commission.value_pence or 0
        return max(0, self.spent_after - value) if self.spent_after > self.spent_before else 0


def commission_spend(commission_id: int) -> int:
    """Spend counted on the commission (held lines are not)."""
    return int(db.session.scalar(select(func.coalesce(func.sum(LedgerTransaction.net_pence), 0))
                                 .where(LedgerTransaction.commission_id == commission_id,
                                        LedgerTransaction.held_reason.is_(None))) or 0)


def rule_followers(key: tuple[str, str], commission: Commission, exclude: set[int] = frozenset()) -> list[LedgerTransaction]:
    """Unassigned lines of the supplier ``key`` that a remembered rule for ``commission`` moves: dated within the
    commission's dates, in open funding years."""
    kind, value = key
    q = (select(LedgerTransaction).join(FundingYear, FundingYear.id == LedgerTransaction.funding_year_id)
         .where(*UNASSIGNED, FundingYear.status == "open",
                LedgerTransaction.posting_date.between(commission.start_date, commission.end_date))
         .order_by(LedgerTransaction.posting_date, LedgerTransaction.id))
    if kind == "supplier_id":
        q = q.where(func.upper(func.trim(LedgerTransaction.supplier_id)) == value)
        return [l for l in db.session.scalars(q) if l.id not in exclude]
    # Names compare normalised, which SQL cannot do portably: narrow by the first letters, then check in Python.
    return [l for l in db.session.scalars(q.where(LedgerTransaction.supplier_id == ""))
            if l.id not in exclude and _same_supplier(l, key)]


def plan_assignment(lines: list[LedgerTransaction], commission: Commission, remember: bool = False) -> Plan:
    """Which lines assigning ``lines`` to ``commission`` moves (with ``remember``, the supplier's others too)."""
    plan = Plan(commission, list(lines), spent_before=commission_spend(commission.id))
    if remember:
        ids = {l.id for l in lines}
        for key in dict.fromkeys(k for k in map(supplier_key, lines) if k):
            for other in rule_followers(key, commission, ids):
                ids.add(other.id)
                plan.followers.append(other)
    return plan


def _remember(key: tuple[str, str], commission: Commission) -> SupplierAlias:
    """Record that this supplier is the commission's provider and its lines go to that commission."""
    kind, value = key
    alias = db.session.scalar(select(SupplierAlias).where(SupplierAlias.kind == kind, SupplierAlias.value == value))
    before = audit.snapshot(alias, ("provider_id", "commission_id")) if alias else None
    if alias is None:
        alias = SupplierAlias(kind=kind, value=value, provider_id=commission.provider_id)
        db.session.add(alias)
    alias.provider_id = commission.provider_id
    alias.commission_id = commission.id
    db.session.flush()
    audit.record("imports", "change" if before else "create", alias,
                 f"Remembered supplier {value} for {commission.reference}", before,
                 audit.snapshot(alias, ("provider_id", "commission_id")))
    return alias


_PUT_FIELDS = ("commission_id", "budget_line_id", "match_method", "held_reason")


def _put(line: LedgerTransaction, commission_id: int | None, budget_line_id: int | None, method: str,
         summary: str) -> None:
    """A person's assignment: their decision, so never held (``HELD_METHODS``)."""
    before = audit.snapshot(line, _PUT_FIELDS)
    line.commission_id, line.budget_line_id, line.match_method = commission_id, budget_line_id, method
    line.held_reason = None
    audit.record("imports", "change", line, summary, before, audit.snapshot(line, _PUT_FIELDS))


class ClosedYear(ValueError):
    """A line or the commission is in a closed funding year; the message says which."""


def assign(lines: list[LedgerTransaction], commission: Commission, remember: bool = False,
           follow: bool = True) -> int:
    """Put ``lines`` against ``commission`` (audited); with ``remember`` the supplier's future lines go there too
    and, with ``follow``, its unassigned lines within the commission's dates in open years now (``plan_assignment``
    shows them first; a confirmed plan passes them in ``lines`` with ``follow`` off). Returns how many moved.

    ClosedYear when a line's year or the commission's is closed (``funding.rules.closed_year_problem``)."""
    from tracker.funding.rules import closed_year_problem

    years = {y.id: y for y in db.session.scalars(select(FundingYear))}
    for line in lines:
        problem = closed_year_problem(years.get(line.funding_year_id), years.get(commission.funding_year_id))
        if problem:
            raise ClosedYear(f"Line {line.reference}: {problem}")
    plan = plan_assignment(lines, commission, remember and follow)
    for line in plan.lines + plan.followers:
        # The line keeps its own coding; the figures engine routes it to the contract's shares (figures.route_spend).
        _put(line, commission.id, line.budget_line_id, MANUAL,
             f"Assigned ledger line {line.reference} to {commission.reference}")
    if remember:
        for key in dict.fromkeys(k for k in map(supplier_key, lines) if k):
            _remember(key, commission)
    db.session.flush()
    return len(plan.lines) + len(plan.followers)


def assign_to_budget_line(lines: list[LedgerTransaction], line: BudgetLine) -> int:
    """Put spend that is not a commission (salaries, venue hire) straight on a budget line (audited)."""
    for l in lines:
        _put(l, None, line.id, LINE, f"Assigned ledger line {l.reference} to budget line {line.name}")
    db.session.flush()
    return len(lines)


def apply_account_rule(rule: AccountRule) -> int:
    """Put the rule's year's unassigned lines with its account code on its budget line (audited); how many."""
    lines = db.session.scalars(select(LedgerTransaction).where(
        *UNASSIGNED, LedgerTransaction.funding_year_id == rule.funding_year_id,
        func.upper(func.trim(LedgerTransaction.account_code)) == normalise_code(rule.account_code))).all()
    for l in lines:
        _put(l, None, rule.budget_line_id, ACCOUNT, f"Account {rule.account_code}: ledger line {l.reference} to "
             f"budget line {rule.budget_line.name}")
    db.session.flush()
    return len(lines)


# --- rules: seen, changed, deleted ----------------------------------------------------------------------------

class RuleRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def get_supplier_rule_or_404(alias_id: int) -> SupplierAlias:
    """A remembered supplier rule: a supplier alias that sends its lines to a commission (others are not rules)."""
    alias = db.session.get(SupplierAlias, alias_id)
    if alias is None or alias.commission_id is None:
        abort_with(404, "There is no remembered rule with that number.")
    return alias


def get_account_rule_or_404(rule_id: int) -> AccountRule:
    return get_or_404(AccountRule, rule_id, "There is no account rule with that number.")


def supplier_rules() -> list[SupplierAlias]:
    """Every remembered supplier rule, with its provider and commission (one query)."""
    from sqlalchemy.orm import joinedload

    return list(db.session.scalars(
        select(SupplierAlias).where(SupplierAlias.commission_id.is_not(None))
        .options(joinedload(SupplierAlias.provider), joinedload(SupplierAlias.commission))
        .order_by(SupplierAlias.value)))


def account_rules() -> list[AccountRule]:
    from sqlalchemy.orm import joinedload

    return list(db.session.scalars(
        select(AccountRule).options(joinedload(AccountRule.funding_year),
                                    joinedload(AccountRule.budget_line).joinedload(BudgetLine.funding_stream),
                                    joinedload(AccountRule.budget_line).joinedload(BudgetLine.category),
                                    joinedload(AccountRule.budget_line).joinedload(BudgetLine.strand))
        .join(FundingYear, FundingYear.id == AccountRule.funding_year_id)
        .order_by(FundingYear.start_date.desc(), AccountRule.account_code)))


_RULE_FIELDS = ("provider_id", "commission_id")


def change_supplier_rule(alias: SupplierAlias, commission: Commission) -> None:
    """Send the supplier's future lines to ``commission`` (audited); lines already assigned stay."""
    before = audit.snapshot(alias, _RULE_FIELDS)
    alias.commission_id = commission.id
    alias.provider_id = commission.provider_id
    db.session.flush()
    audit.record("imports", "change", alias, f"Rule for supplier {alias.value} now sends its lines to "
                 f"{commission.reference}", before, audit.snapshot(alias, _RULE_FIELDS))


def delete_supplier_rule(alias: SupplierAlias) -> None:
    """Forget the remembered commission; the alias still says which provider the supplier is."""
    before = audit.snapshot(alias, _RULE_FIELDS)
    alias.commission_id = None
    db.session.flush()
    audit.record("imports", "negative", alias, f"Deleted the rule for supplier {alias.value}", before,
                 audit.snapshot(alias, _RULE_FIELDS))


def add_account_rule(account_code: str, line: BudgetLine, user_id: int | None = None) -> tuple[AccountRule, int]:
    """Map ``account_code`` to ``line`` for the line's year and move that year's unassigned lines on the account.

    RuleRefused when the year is closed or the account already has a rule that year."""
    code = normalise_code(account_code)
    if line.funding_year.is_closed:
        raise RuleRefused(f"Funding year {line.funding_year.label} is closed, so no rule can be added for it")
    existing = db.session.scalar(select(AccountRule).where(AccountRule.account_code == code,
                                                           AccountRule.funding_year_id == line.funding_year_id))
    if existing is not None:
        raise RuleRefused(f"Account {code} already goes to {existing.budget_line.name} in {line.funding_year.label}; "
                          "delete that rule first")
    user_id = user_id if user_id is not None else audit.acting_user_id()
    rule = AccountRule(account_code=code, funding_year_id=line.funding_year_id, budget_line_id=line.id,
                       created_by_id=user_id)
    db.session.add(rule)
    db.session.flush()
    audit.record("imports", "create", rule, f"Account {code} goes to budget line {line.name} "
                 f"({line.funding_year.label})", None, {"account_code": code, "budget_line_id": line.id})
    return rule, apply_account_rule(rule)


def delete_account_rule(rule: AccountRule) -> None:
    audit.record("imports", "negative", rule, f"Deleted the rule for account {rule.account_code}",
                 {"account_code": rule.account_code, "budget_line_id": rule.budget_line_id}, None)
    db.session.delete(rule)
    db.session.flush()
