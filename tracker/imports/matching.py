"""Matching ledger lines to commissions, and the assignments finance makes for lines nothing matched.

A line is matched, in order, by its PO number (the commission's ``po_number``), then by its supplier ID
(a ``supplier_id`` SupplierAlias) or its supplier name normalised (``normalise_supplier``: case, spaces,
punctuation and "Ltd"/"Limited" ignored) against the provider's recorded names and aliases. A supplier whose
lines a person assigned to a commission remembers that commission (``SupplierAlias.commission_id``); otherwise
the provider's commission running on the line's date is used when there is exactly one. Anything else is left
unmatched for a person to assign on the unmatched lines page.

``Matcher`` loads every lookup once so the import's per-row path is a few dictionary reads.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from tracker import audit
from tracker.extensions import db
from tracker.models import Commission, FundingYear, LedgerTransaction, Provider, SupplierAlias

PO, SUPPLIER, MANUAL = "po", "supplier", "manual"

_SUFFIX = re.compile(r"\b(?:ltd|limited)\b\.?", re.I)
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_supplier(name: str | None) -> str:
    """"Safer Streets Kent Limited" and "SAFER STREETS KENT LTD." both give "saferstreetskent"."""
    if not name:
        return ""
    text = _SUFFIX.sub(" ", name.lower().replace("&", " and "))
    return _NOT_ALNUM.sub("", text)


def normalise_code(value: str | None) -> str:
    """PO numbers and supplier IDs compare without case or surrounding spaces."""
    return (value or "").strip().upper()


@dataclass(frozen=True)
class _Running:
    id: int
    start: date
    end: date


def line_of_commission(commission_id: int, on: date, shares: dict | None = None, years: dict | None = None) -> int | None:
    """The budget line a ledger line dated ``on`` and matched to a contract counts on: the contract's funding
    share in that funding year (the largest where it is split). ``shares``/``years`` are preloaded maps."""
    from tracker.commissions.shares import line_for_ledger, shares_index
    from tracker.models import FundingYear
    from tracker.periods import label_for

    shares = shares if shares is not None else shares_index([commission_id])
    if years is None:
        years = dict(db.session.execute(select(FundingYear.label, FundingYear.id)).all())
    return line_for_ledger(commission_id, years.get(label_for(on)), shares)


class Matcher:
    """Every lookup matching needs, loaded in a few queries; ``match`` is then pure Python."""

    def __init__(self) -> None:
        from tracker.commissions.shares import shares_index
        from tracker.models import FundingYear

        self.by_po: dict[str, int] = {}
        self.by_provider: dict[int, list[_Running]] = {}
        self.known: set[int] = set()
        self.shares = shares_index()
        self.years = dict(db.session.execute(select(FundingYear.label, FundingYear.id)).all())
        for c in db.session.execute(select(Commission.id, Commission.po_number, Commission.provider_id,
                                           Commission.start_date, Commission.end_date)):
            self.known.add(c.id)
            if c.po_number:
                self.by_po[normalise_code(c.po_number)] = c.id
            self.by_provider.setdefault(c.provider_id, []).append(_Running(c.id, c.start_date, c.end_date))
        # supplier key -> (provider id, remembered commission id or None)
        self.by_supplier_id: dict[str, tuple[int, int | None]] = {}
        self.by_name: dict[str, tuple[int, int | None]] = {}
        for p in db.session.execute(select(Provider.id, Provider.name)):
            self.by_name.setdefault(normalise_supplier(p.name), (p.id, None))
        for a in db.session.execute(select(SupplierAlias.kind, SupplierAlias.value, SupplierAlias.provider_id,
                                           SupplierAlias.commission_id)):
            if a.kind == "supplier_id":
                self.by_supplier_id[normalise_code(a.value)] = (a.provider_id, a.commission_id)
            else:
                self.by_name[normalise_supplier(a.value)] = (a.provider_id, a.commission_id)

    def match(self, po_number: str, supplier_id: str, supplier_name: str, on: date) -> tuple[int | None, int | None, str]:
        """(commission id, budget line id, method) for one ledger line; (None, None, "") when unmatched."""
        if po_number:
            hit = self.by_po.get(normalise_code(po_number))
            if hit:
                return hit, self.line_for(hit, on), PO
        found = None
        if supplier_id:
            found = self.by_supplier_id.get(normalise_code(supplier_id))
        if found is None and supplier_name:
            found = self.by_name.get(normalise_supplier(supplier_name))
        if found is None:
            return None, None, ""
        provider_id, remembered = found
        if remembered is not None and remembered in self.known:
            return remembered, self.line_for(remembered, on), SUPPLIER
        running = [c for c in self.by_provider.get(provider_id, ()) if c.start <= on <= c.end]
        if len(running) == 1:
            return running[0].id, self.line_for(running[0].id, on), SUPPLIER
        return None, None, ""

    def line_for(self, commission_id: int, on: date) -> int | None:
        return line_of_commission(commission_id, on, self.shares, self.years)


# --- unmatched lines and assignment -------------------------------------------------------------------------

def unmatched_lines(limit: int = 500) -> list[LedgerTransaction]:
    """Ledger lines no commission claims yet, by supplier then date (one query)."""
    return list(db.session.scalars(
        select(LedgerTransaction).where(LedgerTransaction.commission_id.is_(None))
        .order_by(LedgerTransaction.supplier_name, LedgerTransaction.posting_date, LedgerTransaction.id)
        .limit(limit)))


def unmatched_count() -> int:
    from sqlalchemy import func

    return db.session.scalar(select(func.count(LedgerTransaction.id))
                             .where(LedgerTransaction.commission_id.is_(None))) or 0


def _remember(line: LedgerTransaction, commission: Commission) -> SupplierAlias | None:
    """Record that this line's supplier is the commission's provider and its lines go to that commission."""
    if line.supplier_id:
        kind, value = "supplier_id", normalise_code(line.supplier_id)
    elif normalise_supplier(line.supplier_name):
        kind, value = "supplier_name", normalise_supplier(line.supplier_name)
    else:
        return None
    alias = db.session.scalar(select(SupplierAlias).where(SupplierAlias.kind == kind, SupplierAlias.value == value))
    if alias is None:
        alias = SupplierAlias(kind=kind, value=value, provider_id=commission.provider_id)
        db.session.add(alias)
    alias.provider_id = commission.provider_id
    alias.commission_id = commission.id
    return alias


class ClosedYear(ValueError):
    """A line or the commission is in a closed funding year; the message says which."""


def assign(lines: list[LedgerTransaction], commission: Commission, remember: bool = True) -> int:
    """Put ``lines`` against ``commission`` (audited); with ``remember`` the supplier's other unmatched lines
    follow, and its future lines will too. Returns how many lines were assigned."""
    from tracker.funding.rules import closed_year_problem

    years = {y.id: y for y in db.session.scalars(select(FundingYear))}
    commission_year = years.get(commission.funding_year_id)
    for line in lines:
        problem = closed_year_problem(years.get(line.funding_year_id), commission_year)
        if problem:
            raise ClosedYear(f"Line {line.reference}: {problem}")
    assigned = 0
    suppliers = set()
    for line in lines:
        before = audit.snapshot(line, ("commission_id", "budget_line_id", "match_method"))
        line.commission_id = commission.id
        line.budget_line_id = line_of_commission(commission.id, line.posting_date)
        line.match_method = MANUAL
        audit.record("imports", "change", line, f"Assigned ledger line {line.reference} to {commission.reference}",
                     before, audit.snapshot(line, ("commission_id", "budget_line_id", "match_method")))
        assigned += 1
        if remember and _remember(line, commission) is not None:
            suppliers.add((normalise_code(line.supplier_id), normalise_supplier(line.supplier_name)))
    db.session.flush()
    for supplier_id, name in suppliers:
        others = db.session.scalars(select(LedgerTransaction).where(LedgerTransaction.commission_id.is_(None))).all()
        for other in others:
            if closed_year_problem(years.get(other.funding_year_id), commission_year):
                continue  # a line of a closed year stays as it is (it can be assigned once the year is reopened)
            if (supplier_id and normalise_code(other.supplier_id) == supplier_id) or (
                    not supplier_id and normalise_supplier(other.supplier_name) == name):
                before = audit.snapshot(other, ("commission_id", "budget_line_id", "match_method"))
                other.commission_id = commission.id
                other.budget_line_id = line_of_commission(commission.id, other.posting_date)
                other.match_method = MANUAL
                audit.record("imports", "change", other, f"Assigned ledger line {other.reference} to "
                             f"{commission.reference} (remembered supplier)", before,
                             audit.snapshot(other, ("commission_id", "budget_line_id", "match_method")))
                assigned += 1
        if others:
            audit.record("imports", "change", commission,
                         f"Remembered supplier {supplier_id or name} for {commission.reference}")
    return assigned


