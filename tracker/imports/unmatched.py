"""The unmatched ledger lines page: filters from the address, lines grouped by supplier with subtotals, paging,
and the reason each line matched nothing. Plain functions; the routes only read the request and render."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from math import ceil

from sqlalchemy import func, or_, select

from tracker.extensions import db
from tracker.imports.matching import UNASSIGNED, Matcher
from tracker.models import LedgerTransaction
from tracker.money import MoneyError, parse_pence

PER_PAGE = 50


@dataclass
class Filters:
    """What the address asks for: ``q`` (reference, narrative, supplier, invoice or PO), ``supplier``,
    ``account``, ``period`` (the ledger's own: 1-12, or 13-16 for year-end adjustments), ``min`` and ``max``
    (amounts in pounds), ``page``."""

    q: str = ""
    supplier: str = ""
    account: str = ""
    period: int | None = None
    min_pence: int | None = None
    max_pence: int | None = None
    page: int = 1
    problems: list[str] = field(default_factory=list)

    def args(self) -> dict:
        """The filters as address arguments (for links and hidden fields); blank ones left out."""
        out = {"q": self.q, "supplier": self.supplier, "account": self.account,
               "period": self.period, "min": _pounds(self.min_pence), "max": _pounds(self.max_pence)}
        return {k: v for k, v in out.items() if v not in ("", None)}


def _pounds(pence: int | None) -> str | None:
    if pence is None:
        return None
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"


def parse_filters(args) -> Filters:
    """Read the filters; a value that makes no sense is left out and named in ``problems`` (the page answers 400)."""
    f = Filters()
    f.q = (args.get("q") or "").strip()[:100]
    f.supplier = (args.get("supplier") or "").strip()[:200]
    f.account = (args.get("account") or "").strip()[:40]
    period = (args.get("period") or "").strip()
    if period:
        if period.isdigit() and 1 <= int(period) <= 16:
            f.period = int(period)
        else:
            f.problems.append(f"Period '{period[:20]}' is not a period from 1 to 16 (P13-P16 are year-end "
                              "adjustments), so it was not used")
    for name, attr in (("min", "min_pence"), ("max", "max_pence")):
        text = (args.get(name) or "").strip()
        if text:
            try:
                setattr(f, attr, parse_pence(text[:30]))
            except (MoneyError, ValueError, ArithmeticError):
                f.problems.append(f"The {'smallest' if name == 'min' else 'largest'} amount '{text[:30]}' is not an "
                                  "amount of money, so it was not used")
    if f.min_pence is not None and f.max_pence is not None and f.min_pence > f.max_pence:
        f.problems.append("The smallest amount is more than the largest, so neither was used")
        f.min_pence = f.max_pence = None
    page = (args.get("page") or "1").strip()
    if page.isdigit() and int(page) >= 1:
        f.page = min(int(page), 100_000)
    else:
        f.problems.append(f"Page '{page[:20]}' is not a page number, so the first page is shown")
    return f


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower() + "%"


def filtered(f: Filters):
    """The unassigned lines the filters select (a statement, not yet ordered)."""
    stmt = select(LedgerTransaction).where(*UNASSIGNED)
    if f.q:
        like = _like(f.q)
        stmt = stmt.where(or_(*(func.lower(c).like(like, escape="\\") for c in (
            LedgerTransaction.reference, LedgerTransaction.narrative, LedgerTransaction.supplier_name,
            LedgerTransaction.supplier_id, LedgerTransaction.invoice_number, LedgerTransaction.po_number))))
    if f.supplier:
        like = _like(f.supplier)
        stmt = stmt.where(or_(func.lower(LedgerTransaction.supplier_name).like(like, escape="\\"),
                              func.lower(LedgerTransaction.supplier_id).like(like, escape="\\")))
    if f.account:
        stmt = stmt.where(func.lower(LedgerTransaction.account_code) == f.account.lower())
    if f.period is not None:
        stmt = stmt.where(LedgerTransaction.period == f.period)
    if f.min_pence is not None:
        stmt = stmt.where(LedgerTransaction.net_pence >= f.min_pence)
    if f.max_pence is not None:
        stmt = stmt.where(LedgerTransaction.net_pence <= f.max_pence)
    return stmt


def group_key(supplier_id: str, supplier_name: str) -> str:
    """One supplier group's key as sent back by the "all of this supplier's lines" tick box."""
    return json.dumps([supplier_id or "", supplier_name or ""])


def lines_in_groups(f: Filters, keys: list[str]) -> list[LedgerTransaction]:
    """Every filtered line (on any page) of the supplier groups ticked; keys that make no sense are ignored."""
    pairs = []
    for key in keys[:500]:
        try:
            sid, name = json.loads(key)
        except (ValueError, TypeError):
            continue
        if isinstance(sid, str) and isinstance(name, str):
            pairs.append((sid, name))
    out: list[LedgerTransaction] = []
    for sid, name in pairs:
        out.extend(db.session.scalars(filtered(f).where(LedgerTransaction.supplier_id == sid,
                                                        LedgerTransaction.supplier_name == name)))
    return out


@dataclass
class Group:
    key: str
    supplier_id: str
    supplier_name: str
    count: int  # all the group's filtered lines, not only this page's
    total_pence: int
    lines: list = field(default_factory=list)  # (line, reason) on this page


@dataclass
class Page:
    groups: list[Group]
    count: int
    total_pence: int
    page: int
    pages: int


def page_of(f: Filters, per_page: int = PER_PAGE) -> Page:
    """One page of filtered lines, by supplier then date, grouped by supplier with each group's subtotal over
    every page; a fixed number of queries whatever the number of lines."""
    base = filtered(f).subquery()
    count, total = db.session.execute(select(func.count(base.c.id), func.coalesce(func.sum(base.c.net_pence), 0))).one()
    pages = max(1, ceil(count / per_page))
    page = min(f.page, pages)
    lines = db.session.scalars(filtered(f).order_by(LedgerTransaction.supplier_name, LedgerTransaction.supplier_id,
                                                    LedgerTransaction.posting_date, LedgerTransaction.id)
                               .offset((page - 1) * per_page).limit(per_page)).all()
    keys = {(l.supplier_id, l.supplier_name) for l in lines}
    subtotals = {}
    if keys:
        names = {k[1] for k in keys}
        rows = db.session.execute(select(base.c.supplier_id, base.c.supplier_name, func.count(base.c.id),
                                         func.sum(base.c.net_pence))
                                  .where(base.c.supplier_name.in_(names))
                                  .group_by(base.c.supplier_id, base.c.supplier_name))
        subtotals = {(sid, name): (n, int(t or 0)) for sid, name, n, t in rows}
    matcher = Matcher()
    groups: dict[tuple[str, str], Group] = {}
    for line in lines:
        k = (line.supplier_id, line.supplier_name)
        if k not in groups:
            n, t = subtotals.get(k, (0, 0))
            groups[k] = Group(group_key(*k), k[0], k[1], n, t)
        reason = matcher.explain(line.po_number, line.supplier_id, line.supplier_name, line.posting_date)
        groups[k].lines.append((line, reason))
    return Page(list(groups.values()), count, int(total or 0), page, pages)
