"""Personal data in the public spend files: which payments may name a person, and what is published for them.

The one place the rule lives. ``find`` says what in a ledger line may name a person: a *certain* finding (the
supplier is, or its name or ID matches, a provider flagged as an individual; a text names one) is always redacted;
a *doubtful* one (a supplier name like a person's or a sole trader's; a phone number, email address or postcode
in the text) is redacted unless finance lets it through with a reason (``PersonalDataDecision``). A redacted
payment shows ``REDACTED`` as its supplier and its category as its purpose. ``transparency`` builds the spend
files with ``check`` and refuses to issue while a doubtful payment has no decision.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker import audit
from tracker.figures import NOT_ON_A_LINE
from tracker.imports.matching import normalise_code, normalise_supplier
from tracker.models import LedgerTransaction, PersonalDataDecision, Provider, SupplierAlias
from tracker.models.base import utcnow

REDACTED = "Redacted: personal data"
#: The purpose of a redacted payment with no category or account description.
NO_CATEGORY = "Services"

# Doubtful on their own: a company can be "Dr Bike Ltd" and a venue has a postcode; finance decides.
_TITLE = re.compile(r"^\s*(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|rev)\b\.?\s+\S", re.I)
_SOLE_TRADER = re.compile(r"\b(?:sole\s+trader|t/a|trading\s+as)\b", re.I)
_INITIALS_SURNAME = re.compile(r"^\s*(?:[A-Z]\.?\s+){1,3}[A-Z][a-z'’-]+\s*$")  # "J Bloggs", "J. R. Bloggs"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# UK numbers: 0 (or +44 / 0044, with an optional "(0)") then 1, 2, 3 or 7 and nine more digits, spaced or not:
# 07700 900123, +44 7700 900123, 01632 960001, (020) 7946 0000. Eleven digits exactly, so longer references miss.
_PHONE = re.compile(r"(?:(?<![\w+])(?:\+|00)\s?44\s?(?:\(0\)\s?)?|(?<![\w(])\(?0)[1237](?:[\s\-)]{0,2}\d){9}(?!\d)")
_POSTCODE = re.compile(r"\b(?:GIR\s?0AA|[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2})\b", re.I)
_TOKEN = re.compile(r"[0-9a-z]+")
_TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev"}


@dataclass(frozen=True)
class Finding:
    """Why a line may name a person, in finance's words; ``certain`` ones are always redacted."""

    why: str
    certain: bool


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall((text or "").lower().replace("’", "").replace("'", ""))


def name_patterns(name: str) -> set[str]:
    """How a person's name may be written in a text: in full, and as first name or initial with the surname
    ("Jane Individual" also "J Individual"). Titles are left out; lower-case words joined by single spaces."""
    words = [w for w in _tokens(name) if w not in _TITLES]
    if not words:
        return set()
    found = {" ".join(words)}
    if len(words) >= 2:
        found |= {f"{words[0]} {words[-1]}", f"{words[0][0]} {words[-1]}"}
    return found


class Individuals:
    """The providers flagged as individuals, as lines can point to them: their supplier IDs, their names
    normalised (``normalise_supplier``, with the names learnt as supplier aliases) and their names as written."""

    def __init__(self, names: Iterable[str] = (), supplier_ids: dict[str, str] | None = None,
                 alias_names: dict[str, str] | None = None):
        self.supplier_ids = {normalise_code(k): v for k, v in (supplier_ids or {}).items() if k}
        self.normalised = {normalise_supplier(n): n for n in names if normalise_supplier(n)}
        self.normalised.update({k: v for k, v in (alias_names or {}).items() if k})
        self.patterns: dict[str, str] = {}
        for n in names:
            for p in name_patterns(n):
                self.patterns.setdefault(p, n)
        # One pass over a text for every name (a ledger has thousands of lines): the longest names tried first.
        self._names = re.compile(" (" + "|".join(re.escape(p) for p in sorted(self.patterns, key=len, reverse=True))
                                 + ") ") if self.patterns else None

    @classmethod
    def load(cls, session: Session) -> "Individuals":
        names = list(session.scalars(select(Provider.name).where(Provider.individual)))
        ids, aliases = {}, {}
        for kind, value, name in session.execute(
                select(SupplierAlias.kind, SupplierAlias.value, Provider.name).join(Provider)
                .where(Provider.individual)):
            (ids if kind == "supplier_id" else aliases)[value] = name
        return cls(names, ids, aliases)

    def named_in(self, text: str) -> str | None:
        """The flagged individual whose name ``text`` holds, if any."""
        if self._names is None or not text:
            return None
        found = self._names.search(f" {' '.join(_tokens(text))} ")
        return self.patterns[found.group(1)] if found else None


def contacts(text: str) -> list[str]:
    """Phone numbers, email addresses and postcodes in ``text``, each as "phone number 07700 900123"."""
    text = text or ""
    found = [f"phone number {m.group(0).strip()}" for m in _PHONE.finditer(text)]
    found += [f"email address {m.group(0)}" for m in _EMAIL.finditer(text)]
    without_emails = _EMAIL.sub(" ", text)
    found += [f"postcode {m.group(0).upper()}" for m in _POSTCODE.finditer(without_emails)]
    return found


def person_like(supplier_name: str) -> str | None:
    """Why a supplier name looks like a person's or a sole trader's (doubtful: "Dr Bike Ltd" is a company)."""
    if _TITLE.search(supplier_name or ""):
        return "starts with a title"
    if _SOLE_TRADER.search(supplier_name or ""):
        return "says sole trader or trading as"
    if _INITIALS_SURNAME.match(supplier_name or ""):
        return "is initials and a surname"
    return None


def find(individuals: Individuals, *, supplier_name: str = "", supplier_id: str = "",
         individual_provider: str | None = None, texts: Sequence[str] = ()) -> tuple[Finding, ...]:
    """Everything in one ledger line that may name a person. ``individual_provider``: the name of the line's
    commission's provider when it is flagged as an individual. ``texts``: what may be published from the line
    (its narrative, its commission's title and reason for the award)."""
    found: list[Finding] = []
    if individual_provider:
        found.append(Finding(f"paid under a contract with {individual_provider}, an individual", True))
    code = normalise_code(supplier_id)
    if code and code in individuals.supplier_ids:
        found.append(Finding(f"supplier ID {supplier_id} is {individuals.supplier_ids[code]}'s, an individual", True))
    key = normalise_supplier(supplier_name)
    person = individuals.normalised.get(key) if key else None
    person = person or individuals.named_in(supplier_name)
    if person:
        found.append(Finding(f"supplier “{supplier_name}” is {person}, an individual", True))
    for text in texts:
        person = individuals.named_in(text)
        if person:
            found.append(Finding(f"“{text}” names {person}, an individual", True))
    looks = person_like(supplier_name)
    if looks:
        found.append(Finding(f"supplier “{supplier_name}” {looks}: it may be a person", False))
    for text in (supplier_name, *texts):
        found += [Finding(f"{c} in “{text}”", False) for c in contacts(text)]
    return tuple(dict.fromkeys(found))


def doubts(findings: Iterable[Finding]) -> str:
    """The doubtful findings as one text: a decision holds while a line's doubts are the ones it was made on."""
    return "; ".join(f.why for f in findings if not f.certain)[:1000]


# --- A payment's verdict ---------------------------------------------------------------------------------------

CLEAR, REDACT, LET_THROUGH, UNDECIDED = "clear", "redacted", "let through", "undecided"


@dataclass
class LineCheck:
    line_id: int
    findings: tuple[Finding, ...]
    #: Finance's decision on the line's doubts (a PersonalDataDecision), when it still holds.
    decision: object | None = None
    #: A decision made on other doubts than the line has now: it no longer holds.
    stale: bool = False


@dataclass
class Verdict:
    """What is published for one payment (one ledger line, or an invoice's lines added up)."""

    lines: list[LineCheck] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return list(dict.fromkeys(f for line in self.lines for f in line.findings))

    @property
    def certain(self) -> bool:
        return any(f.certain for f in self.findings)

    @property
    def doubtful_lines(self) -> list[LineCheck]:
        return [line for line in self.lines if any(not f.certain for f in line.findings)]

    @property
    def status(self) -> str:
        if not self.findings:
            return CLEAR
        if self.certain or any(line.decision is not None and not line.decision.publish for line in self.doubtful_lines):
            return REDACT
        if any(line.decision is None for line in self.doubtful_lines):
            return UNDECIDED
        return LET_THROUGH

    @property
    def redacted(self) -> bool:
        """Redacted in the file: certain, decided so, or (in a draft) waiting for a decision."""
        return self.status in (REDACT, UNDECIDED)

    @property
    def needs_decision(self) -> bool:
        """Doubtful only, so finance may let it through (a certain one is always redacted)."""
        return bool(self.doubtful_lines) and not self.certain

    @property
    def reasons(self) -> list[str]:
        """The reasons finance gave for letting it through."""
        return list(dict.fromkeys(line.decision.reason for line in self.doubtful_lines
                                  if line.decision is not None and line.decision.publish))


def check_line(individuals: Individuals, line: LedgerTransaction, decisions: dict) -> LineCheck:
    c = line.commission
    provider = c.provider if c is not None else None
    findings = find(individuals, supplier_name=line.supplier_name, supplier_id=line.supplier_id,
                    individual_provider=provider.name if provider is not None and provider.individual else None,
                    texts=[t for t in (line.narrative, c.title if c else "", c.award_reason if c else "") if t])
    decision = decisions.get(line.id)
    stale = decision is not None and decision.findings != doubts(findings)
    return LineCheck(line.id, findings, None if stale else decision, stale)


def check(individuals: Individuals, lines: Sequence[LedgerTransaction], decisions: dict) -> Verdict:
    return Verdict([check_line(individuals, line, decisions) for line in lines])


def category_of(line: LedgerTransaction, counted_on: str) -> str:
    """What a redacted payment's purpose says instead: ``counted_on``, the category of the budget line(s) its spend
    counts on (the file's expense category, by the figures engine's ``route_spend``), else the account
    description, else "Services"."""
    if counted_on and counted_on != NOT_ON_A_LINE:
        return counted_on
    return line.account_description or NO_CATEGORY


def decisions_between(session: Session, start: date, end: date) -> dict[int, PersonalDataDecision]:
    """Finance's decisions on the lines dated in a period, by line id (one query)."""
    return {d.ledger_transaction_id: d for d in session.scalars(
        select(PersonalDataDecision).join(LedgerTransaction)
        .where(LedgerTransaction.posting_date.between(start, end)))}


# --- Review -----------------------------------------------------------------------------------------------------

@dataclass
class Review:
    """One payment on finance's review list: as it stands in the ledger (shown to staff, never published)."""

    line_ids: list[int]
    posting_date: date
    reference: str
    supplier: str
    purpose: str
    amount_pence: int
    verdict: Verdict

    @property
    def key(self) -> int:
        return self.line_ids[0]


def notes(review: list[Review]) -> list[str]:
    """The preview's notes on what the review list holds (no names: the notes are shown to every role)."""
    counts = {REDACT: 0, LET_THROUGH: 0, UNDECIDED: 0}
    for r in review:
        counts[r.verdict.status] = counts.get(r.verdict.status, 0) + 1
    found = []
    if counts[REDACT]:
        found.append(f"{counts[REDACT]} payment(s) that may name a person show as “{REDACTED}”, with their "
                     "category as the purpose.")
    if counts[UNDECIDED]:
        found.append(f"{counts[UNDECIDED]} payment(s) may name a person and wait for finance's decision: redacted "
                     "here, and the file cannot be issued until each is decided.")
    if counts[LET_THROUGH]:
        found.append(f"{counts[LET_THROUGH]} payment(s) that may name a person are published as in the ledger: "
                     "finance let them through, with a reason.")
    return found


def undecided(review: Iterable[Review]) -> list[Review]:
    return [r for r in review if r.verdict.status == UNDECIDED]


def undecided_message(waiting: list[Review]) -> str:
    refs = ", ".join(r.reference or f"line {r.key}" for r in waiting[:5]) + (" ..." if len(waiting) > 5 else "")
    return (f"{len(waiting)} payment(s) that may name a person have no decision yet ({refs}). Finance decides "
            "each under “Personal data” above: redact it, or let it through with a reason.")


def decide(session: Session, item: Review, publish: bool, reason: str, user_id: int | None) -> None:
    """Record finance's decision on each doubtful line of a payment (kept for every later version), audited."""
    fields = ("publish", "reason", "findings")
    for line in item.verdict.doubtful_lines:
        decision = session.scalar(select(PersonalDataDecision)
                                  .where(PersonalDataDecision.ledger_transaction_id == line.line_id))
        before = audit.snapshot(decision, fields) if decision is not None else None
        if decision is None:
            decision = PersonalDataDecision(ledger_transaction_id=line.line_id)
            session.add(decision)
        decision.publish, decision.reason = publish, reason.strip()
        decision.findings = doubts(line.findings)
        decision.decided_by_id, decision.decided_at = user_id, utcnow().replace(microsecond=0)
        session.flush()
        what = "Let through" if publish else "Redacted"
        summary = f"{what} {item.reference or f'line {line.line_id}'} in the public spend files: {decision.findings}"
        after = audit.snapshot(decision, fields)
        if before is None:
            audit.record("procurement", "create", decision, summary[:500], after=after, user_id=user_id)
        else:
            old, new = audit.diff(before, after)
            audit.record("procurement", "change", decision, summary[:500], old, new, user_id=user_id)
