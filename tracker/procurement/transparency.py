"""Transparency publications: spend over £500, the contract registers and the grants lists, built for a period
from the ledger and the commissions, previewed, then issued and frozen like a return (the exact bytes kept, a
correction is the next version, with when and where it was published).

Every file is CSV written by ``tracker.returns.exports.export_rows``: text that a spreadsheet could run as a
formula gets a leading apostrophe, amounts are plain numbers.
"""
from __future__ import annotations

import calendar
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

from flask import url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from tracker import audit, files, settings
from tracker.errors import get_or_404
from tracker.models import (
    BudgetLine, Category, Commission, LedgerTransaction, Provider, Publication, User,
)
from tracker.models.base import utcnow
from tracker.models.monitoring import Document
from tracker.periods import label_for, quarter_bounds, quarter_of, year_bounds
from tracker.procurement import personal_data
from tracker.procurement.personal_data import REDACTED
from tracker.procurement.rules import ENTERED_STATUSES
from tracker.returns.builder import DATE, MONEY, Column

#: Spend is published when it is more than this (in pence, either sign): £500.00 is out, £500.01 in.
SPEND_OVER_PENCE = 500_00
#: The LGTC contract register lists contracts over this value.
REGISTER_OVER_PENCE = 5_000_00
#: The PCC lists contracts up to this value, and holds copies of those over it.
PCC_LIST_UP_TO_PENCE = 10_000_00
#: Ledger lines that are payments to suppliers (journals and accruals are not).
SPEND_TYPES = ("invoice", "credit")
FOLDER = "publications"
TRANSPARENCY_SETTINGS = ("spend_aggregate_invoices", "spend_publish_gross", "spend_monthly_due_days",
                         "spend_quarterly_due_months", "vru_name", "pcc_name", "grants_360_prefix",
                         "funding_org_identifier")


class PeriodError(ValueError):
    """A period in an address that is not one this file is made for; the message says what is expected."""


@dataclass(frozen=True)
class Period:
    key: str  # as in the address: 2025-05, 2025-26-q1, 2025-26
    name: str  # in words: May 2025, 2025-26 Q1, 2025-26
    start: date
    end: date


def add_months_end(d: date, months: int) -> date:
    """The last day of the month ``months`` after ``d``'s month."""
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return date(y, m, calendar.monthrange(y, m)[1])


def parse_period(unit: str, text: str) -> Period:
    text = (text or "").strip().lower()
    try:
        if unit == "month":
            m = re.fullmatch(r"(\d{4})-(\d{2})", text)
            if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
                raise ValueError
            start = date(int(m.group(1)), int(m.group(2)), 1)
            return Period(text, f"{start:%B %Y}", start, add_months_end(start, 0))
        if unit == "quarter":
            m = re.fullmatch(r"(\d{4}-\d{2})-q([1-4])", text)
            if not m:
                raise ValueError
            start, end = quarter_bounds(m.group(1), int(m.group(2)))
            return Period(text, f"{m.group(1)} Q{m.group(2)}", start, end)
        start, end = year_bounds(text)
        return Period(text, text, start, end)
    except ValueError:
        example = {"month": "2025-05 (a month)", "quarter": "2025-26-q1 (a quarter)", "year": "2025-26 (a year)"}[unit]
        raise PeriodError(f"“{text[:20]}” is not a period for this file: give it like {example}.") from None


def future_problem(period: Period, today: date) -> str | None:
    """Why no file can be made for ``period`` yet (None when it can): a period that has not begun has no spend
    to publish, and a file for 2030-01 is a typing slip."""
    if period.start > today:
        return (f"{period.name} has not begun yet (today is {today:%d/%m/%Y}), so there is nothing to publish for "
                "it. Check the period.")
    return None


def current_period(unit: str, today: date) -> Period:
    """The last complete period before ``today``: what is usually being prepared."""
    if unit == "month":
        last = today.replace(day=1) - timedelta(days=1)
        return parse_period("month", f"{last:%Y-%m}")
    if unit == "quarter":
        before = quarter_bounds(label_for(today), quarter_of(today))[0] - timedelta(days=1)
        return parse_period("quarter", f"{label_for(before)}-q{quarter_of(before)}")
    return parse_period("year", label_for(year_bounds(label_for(today))[0] - timedelta(days=1)))


@dataclass
class Table:
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Spend files: the payments that may name a person, for finance to review before issuing.
    review: list[personal_data.Review] = field(default_factory=list)
    #: What the person issuing should see first (shown beside Issue): the file can go out, but read these.
    warnings: list[str] = field(default_factory=list)


# --- Who is named: individuals are redacted (spend lines: tracker.procurement.personal_data) ---------------

class Names:
    """Providers' published names in the contract and grants files: an individual's is redacted."""

    @staticmethod
    def of_provider(provider: Provider) -> str:
        return REDACTED if provider.individual else provider.name


# --- Spend over £500 ------------------------------------------------------------------------------------------

@dataclass
class Payment:
    """One published row: a ledger line, or (aggregation on) an invoice's lines added up."""

    posting_date: date
    reference: str
    supplier: str
    purpose: str
    vfm: str
    department: str
    merchant_category: str
    #: The budget categories the spend counts on (``figures.route_spend``), or "Not on a budget line".
    expense_category: str
    amount_pence: int
    vat_pence: int
    lines: int = 1
    #: Its entry on finance's personal-data review list, when it may name a person.
    review: personal_data.Review | None = None


def _vfm(c: Commission | None, with_reason: bool = True) -> str:
    if c is None:
        return ""
    if c.award_reason and with_reason:
        return c.award_reason
    return f"{c.procurement_route} ({'competed' if c.competed else 'not competed'})"


def spend_payments(session: Session, period: Period, values: dict) -> tuple[list[Payment], list[str]]:
    """The payments of the period over £500 (more than £500.00, credits too), aggregated by invoice when the
    setting says so, net or gross as it says; with notes on what was left out or redacted."""
    lines = session.scalars(
        select(LedgerTransaction)
        .options(joinedload(LedgerTransaction.commission).joinedload(Commission.provider))
        .where(LedgerTransaction.posting_date.between(period.start, period.end),
               LedgerTransaction.transaction_type.in_(SPEND_TYPES))
        .order_by(LedgerTransaction.posting_date, LedgerTransaction.id)).all()
    individuals = personal_data.Individuals.load(session)
    decisions = personal_data.decisions_between(session, period.start, period.end)
    category_of = _expense_categories(session, lines)
    gross = bool(values["spend_publish_gross"])
    groups: "OrderedDict[tuple, list[LedgerTransaction]]" = OrderedDict()
    for line in lines:
        supplier = line.supplier_id or line.supplier_name.strip().lower()
        key = (supplier, line.invoice_number) if values["spend_aggregate_invoices"] and line.invoice_number else ("line", line.id)
        groups.setdefault(key, []).append(line)
    payments, review = [], []
    for group in groups.values():
        first = group[0]
        amount = sum((l.gross_pence if gross else l.net_pence) for l in group)
        if abs(amount) <= SPEND_OVER_PENCE:
            continue
        c = first.commission
        supplier = first.supplier_name or (c.provider.name if c is not None else "") or first.supplier_id
        purpose = (c.title if c is not None else "") or first.narrative or first.account_description
        vfm = _vfm(c)
        verdict = personal_data.check(individuals, group, decisions)
        posted, reference = min(l.posting_date for l in group), first.invoice_number or first.reference
        seen = None
        if verdict.findings:
            seen = personal_data.Review([l.id for l in group], posted, reference, supplier, purpose, amount, verdict)
            review.append(seen)
        expense_category = "; ".join(dict.fromkeys(category_of[l.id] for l in group))
        if verdict.redacted:
            supplier, purpose = REDACTED, personal_data.category_of(first, expense_category)
            if c is not None and personal_data.find(individuals, texts=[c.award_reason]):
                vfm = _vfm(c, with_reason=False)
        payments.append(Payment(
            posting_date=posted, reference=reference, supplier=supplier, purpose=purpose,
            vfm=vfm, department=first.cost_centre or values["vru_name"],
            merchant_category=first.account_description,
            expense_category=expense_category, amount_pence=amount,
            vat_pence=sum(l.vat_pence for l in group), lines=len(group), review=seen))
    notes = [f"{len(lines)} ledger line(s) of the period (invoices and credits); {len(payments)} payment(s) over £500 "
             f"({'gross, including VAT' if gross else 'net of VAT'}"
             f"{', invoice lines added up' if values['spend_aggregate_invoices'] else ''})."]
    notes += personal_data.notes(review)
    return payments, notes


def _expense_categories(session: Session, lines: list[LedgerTransaction]) -> dict[int, str]:
    """Each ledger line's expense category: the category of the budget line(s) its spend counts on, by the figures
    engine's rule (``route_spend``: a contract's line follows the contract's shares in its year), so the file says
    what the budget page says. A query per funding year in the period and one for the categories, whatever the
    number of lines."""
    from tracker.figures import NOT_ON_A_LINE, route_spend, year_share_map

    shares = {y: year_share_map(y) for y in {l.funding_year_id for l in lines if l.funding_year_id is not None}}
    routed = {l.id: [line_id for line_id, _ in route_spend(l.counted_commission, l.budget_line_id, l.net_pence,
                                                            shares.get(l.funding_year_id, {}))]
              for l in lines}
    ids = {i for line_ids in routed.values() for i in line_ids if i is not None}
    names = {i: name for i, name in session.execute(  # asked even when empty: a page's query count stays fixed
        select(BudgetLine.id, Category.name).join(Category, BudgetLine.category_id == Category.id)
        .where(BudgetLine.id.in_(ids))).all()}
    return {lid: "; ".join(dict.fromkeys(names.get(i, NOT_ON_A_LINE) if i is not None else NOT_ON_A_LINE
                                         for i in line_ids)) for lid, line_ids in routed.items()}


def _amount_heading(values: dict) -> str:
    return "Amount (including VAT)" if values["spend_publish_gross"] else "Amount (net of VAT)"


def _lacking_reasons(payments: list[Payment], reasons: list[str]) -> list[str]:
    """The warning before issue when rows have no value-for-money reason: how many, and which."""
    missing = [p for p, reason in zip(payments, reasons) if not reason.strip()]
    if not missing:
        return []
    listed = "; ".join(f"{p.posting_date:%d/%m/%Y} {p.reference} {p.supplier}" for p in missing)
    return [f"{len(missing)} of {len(payments)} row(s) ({len(missing) * 100 // len(payments)}%) have no "
            f"value-for-money reason: {listed}. Give each contract its “Why it was awarded”, or match the spend to "
            "its contract, before issuing."]


def build_spend_monthly(session: Session, period: Period, values: dict) -> Table:
    payments, notes = spend_payments(session, period, values)
    columns = [Column("body", "Body name"), Column("date", "Date", DATE), Column("reference", "Transaction number"),
               Column("recipient", "Recipient"), Column("purpose", "Purpose"), Column("category", "Expense category"),
               Column("vfm", "Value-for-money reason"), Column("amount", _amount_heading(values), MONEY)]
    rows = [[values["pcc_name"], p.posting_date, p.reference, p.supplier, p.purpose, p.expense_category, p.vfm,
             p.amount_pence] for p in payments]
    return Table(columns, rows, notes, [p.review for p in payments if p.review],
                 _lacking_reasons(payments, [p.vfm for p in payments]))


def build_spend_quarterly(session: Session, period: Period, values: dict) -> Table:
    payments, notes = spend_payments(session, period, values)
    columns = [Column("body", "Body name"), Column("date", "Date", DATE), Column("reference", "Transaction number"),
               Column("department", "Department"), Column("beneficiary", "Beneficiary"),
               Column("purpose", "Purpose of expenditure"), Column("amount", _amount_heading(values), MONEY),
               Column("vat", "Irrecoverable VAT", MONEY), Column("merchant", "Merchant category"),
               Column("category", "Expense category")]
    # The PCC recovers VAT: irrecoverable VAT is nil; when amounts are gross the VAT is already in them.
    rows = [[values["pcc_name"], p.posting_date, p.reference, p.department, p.supplier, p.purpose, p.amount_pence, 0,
             p.merchant_category, p.expense_category] for p in payments]
    notes.append("Irrecoverable VAT is shown as nil: the PCC recovers the VAT it pays.")
    return Table(columns, rows, notes, [p.review for p in payments if p.review])


# --- Contracts and grants -------------------------------------------------------------------------------------

def _live_in(session: Session, period: Period, commission_type: str):
    return session.scalars(
        select(Commission)
        .options(joinedload(Commission.provider), selectinload(Commission.funding_shares))
        .where(Commission.commission_type == commission_type, Commission.start_date <= period.end,
               Commission.end_date >= period.start,
               Commission.status.in_(ENTERED_STATUSES))
        .order_by(Commission.reference)).all()


def _procured(c: Commission) -> str:
    route = c.procurement_route.lower()
    if "quotation" in route:
        return "Quoted"
    if c.competed or "tender" in route or "framework" in route:
        return "Tendered"
    return "Direct award"


def build_contract_register(session: Session, period: Period, values: dict) -> Table:
    """The Local Government Transparency Code contract register: contracts over £5,000 live in the period."""
    columns = [Column("reference", "Reference"), Column("title", "Title"), Column("department", "Department"),
               Column("description", "Description"), Column("supplier", "Supplier name"),
               Column("company", "Supplier company number"), Column("charity", "Supplier charity number"),
               Column("org_id", "Supplier identifier (org-id)"), Column("value", "Value over its life", MONEY),
               Column("year_value", f"Value in {label_for(period.end)}", MONEY),
               Column("vat", "Irrecoverable VAT", MONEY), Column("start", "Start date", DATE),
               Column("end", "End date", DATE), Column("review", "Review date", DATE),
               Column("procured", "Quoted or tendered"), Column("sme", "SME"), Column("vcse", "VCSE")]
    year = label_for(period.end)
    rows = []
    for c in _live_in(session, period, "contract"):
        if c.value_pence <= REGISTER_OVER_PENCE:
            continue
        p = c.provider
        # Company and charity numbers in columns of their own, as text; the org-id form (GB-COH-09823115) keeps a
        # company number's leading zero in a spreadsheet that would read "09823115" as the number 9823115.
        company, charity = ("", "") if p.individual else (p.company_number.strip(), p.charity_number.strip())
        rows.append([c.reference, c.title, values["vru_name"], c.description, Names.of_provider(p), company, charity,
                     _org_identifier(p, "") if company or charity else "", c.value_pence,
                     sum(s.amount_pence for s in c.funding_shares if s.year_label == year), 0, c.start_date,
                     c.end_date, c.review_date, _procured(c), "Yes" if p.sme else "No", "Yes" if p.vcse else "No"])
    return Table(columns, rows, [f"{len(rows)} contract(s) over £5,000 live in {period.name}."])


def build_pcc_contracts(session: Session, period: Period, values: dict) -> Table:
    """The PCC's contracts: those up to £10,000 listed, and for those over £10,000 the copy held (the contract
    document kept under Documents)."""
    contracts = _live_in(session, period, "contract")
    held = {}
    if contracts:
        for d in session.scalars(select(Document).where(Document.kind == "contract",
                                                        Document.commission_id.in_([c.id for c in contracts]))
                                 .order_by(Document.id)):
            held.setdefault(d.commission_id, d.title)
    columns = [Column("reference", "Reference"), Column("title", "Title"), Column("supplier", "Supplier"),
               Column("value", "Value", MONEY), Column("start", "Start date", DATE), Column("end", "End date", DATE),
               Column("band", "Value band"), Column("copy", "Copy of the contract")]
    rows, missing = [], 0
    for c in contracts:
        over = c.value_pence > PCC_LIST_UP_TO_PENCE
        copy = (held.get(c.id) or "") if over else ""
        if over and not copy:
            copy, missing = "Not held: add the contract under Documents", missing + 1
        rows.append([c.reference, c.title, Names.of_provider(c.provider), c.value_pence, c.start_date, c.end_date,
                     "Over £10,000" if over else "Up to £10,000", copy])
    notes = [f"{len(rows)} contract(s) live in {period.name}."]
    if missing:
        notes.append(f"{missing} contract(s) over £10,000 have no copy held: publish a copy of each.")
    return Table(columns, rows, notes)


def build_cdr_grants(session: Session, period: Period, values: dict) -> Table:
    """Crime and disorder reduction grants: recipient, purpose, conditions and reasons, from the grants."""
    columns = [Column("reference", "Reference"), Column("recipient", "Recipient"), Column("purpose", "Purpose"),
               Column("amount", "Amount", MONEY), Column("start", "Start date", DATE), Column("end", "End date", DATE),
               Column("conditions", "Conditions"), Column("reasons", "Reasons for the grant")]
    rows = [[c.reference, Names.of_provider(c.provider), c.description or c.title, c.value_pence, c.start_date,
             c.end_date, c.grant_conditions, c.award_reason] for c in _live_in(session, period, "grant")]
    return Table(columns, rows, [f"{len(rows)} grant(s) made or running in {period.name}."])


def _org_identifier(p: Provider, prefix: str) -> str:
    if p.charity_number and not p.individual:
        return f"GB-CHC-{p.charity_number}"
    if p.company_number and not p.individual:
        return f"GB-COH-{p.company_number}"
    return f"{prefix}-recipient-{p.id}"


def build_grants_360(session: Session, period: Period, values: dict) -> Table:
    """Grants in the 360Giving Data Standard's spreadsheet form: its core fields, by their column titles."""
    prefix = values["grants_360_prefix"]
    columns = [Column("id", "Identifier"), Column("title", "Title"), Column("description", "Description"),
               Column("currency", "Currency"), Column("amount", "Amount Awarded", MONEY),
               Column("award_date", "Award Date"), Column("start", "Planned Dates:Start Date"),
               Column("end", "Planned Dates:End Date"), Column("rid", "Recipient Org:Identifier"),
               Column("rname", "Recipient Org:Name"), Column("rchc", "Recipient Org:Charity Number"),
               Column("rcoh", "Recipient Org:Company Number"), Column("fid", "Funding Org:Identifier"),
               Column("fname", "Funding Org:Name"), Column("modified", "Last Modified")]
    rows = []
    for c in _live_in(session, period, "grant"):
        if not period.start <= c.start_date <= period.end:
            continue  # a grant is published once, in the year it was awarded
        p = c.provider
        rows.append([f"{prefix}-{c.reference}", c.title, c.description or c.title, "GBP", c.value_pence,
                     c.start_date.isoformat(), c.start_date.isoformat(), c.end_date.isoformat(),
                     _org_identifier(p, prefix), Names.of_provider(p), "" if p.individual else p.charity_number,
                     "" if p.individual else p.company_number, values["funding_org_identifier"], values["pcc_name"],
                     c.updated_at.replace(microsecond=0).isoformat()])
    notes = [f"{len(rows)} grant(s) awarded in {period.name}. Award Date is the grant's start date."]
    return Table(columns, rows, notes)


#: The example values the 360Giving settings ship with: a file carrying them would publish identifiers that are
#: not ours, so it is refused until an admin sets the area's own.
EXAMPLE_360 = {"grants_360_prefix": "360G-example", "funding_org_identifier": "GB-GOR-EXAMPLE"}


def refusals(kind: "Kind", values: dict) -> list[tuple[str, str]]:
    """Why ``kind`` cannot be issued with these settings: [(what is wrong, the setting's key), ...]."""
    if kind.key != "grants-360":
        return []
    out = []
    if values["grants_360_prefix"].strip().lower().startswith(EXAMPLE_360["grants_360_prefix"].lower()):
        out.append((f"The 360Giving publisher prefix is the example “{values['grants_360_prefix']}”: set the prefix "
                    "360Giving gave your area.", "grants_360_prefix"))
    if values["funding_org_identifier"].strip().upper() == EXAMPLE_360["funding_org_identifier"]:
        out.append((f"The Funding Org identifier is the example “{values['funding_org_identifier']}”: set the PCC's "
                    "own org-id.guide identifier.", "funding_org_identifier"))
    return out


@dataclass(frozen=True)
class Kind:
    key: str
    title: str
    unit: str  # month, quarter or year
    about: str
    build: Callable[[Session, Period, dict], Table]

    def due(self, period: Period, values: dict) -> date:
        if self.unit == "month":
            return period.end + timedelta(days=int(values["spend_monthly_due_days"]))
        return add_months_end(period.end, int(values["spend_quarterly_due_months"]))


KINDS: "OrderedDict[str, Kind]" = OrderedDict((k.key, k) for k in (
    Kind("spend-monthly", "Spend over £500 (PCC, monthly)", "month",
         "Each payment over £500: date, recipient, purpose and the value-for-money reason.", build_spend_monthly),
    Kind("spend-quarterly", "Spend over £500 (Local Government Transparency Code, quarterly)", "quarter",
         "Each payment over £500 with department, beneficiary, purpose, amount, irrecoverable VAT and merchant "
         "category.", build_spend_quarterly),
    Kind("contract-register", "Contract register (Local Government Transparency Code)", "quarter",
         "Contracts over £5,000: supplier, values, dates, quoted or tendered, SME and VCSE.", build_contract_register),
    Kind("pcc-contracts", "PCC contracts list (up to £10,000, copies over £10,000)", "quarter",
         "Contracts up to £10,000 listed; for those over £10,000, the copy of the contract held.", build_pcc_contracts),
    Kind("cdr-grants", "Crime and disorder reduction grants", "year",
         "Each grant: recipient, purpose, conditions and reasons.", build_cdr_grants),
    Kind("grants-360", "Grants in the 360Giving Data Standard", "year",
         "Grants awarded in the year, in the 360Giving spreadsheet columns.", build_grants_360),
))


def get_kind(key: str) -> Kind | None:
    return KINDS.get(key)


def build(kind: Kind, period: Period, session: Session) -> Table:
    return kind.build(session, period, settings.get_many(*TRANSPARENCY_SETTINGS, session=session))


def file_bytes(table: Table) -> bytes:
    from tracker.returns.exports import export_rows

    return export_rows(table.columns, table.rows, "csv")


def download_name(kind: Kind, period: Period, version: int | None) -> str:
    return f"{kind.key}-{period.key}-{'DRAFT' if version is None else f'v{version}'}.csv"


# --- Issued versions -------------------------------------------------------------------------------------------

def versions(session: Session, kind: Kind, period: Period) -> list[Publication]:
    return session.scalars(select(Publication).options(joinedload(Publication.issued_by))
                           .where(Publication.kind == kind.key, Publication.period == period.key)
                           .order_by(Publication.version.desc())).all()


class IssueProblem(ValueError):
    """Why a file cannot be issued as asked (shown at the form)."""


def issue(session: Session, kind: Kind, period: Period, user: User | None, correction_note: str = "",
          seen_latest: int | None = None) -> Publication:
    """Freeze the file as the next version: build it, keep its exact bytes and hash; the caller commits (and on
    failure removes the stored file with ``files.remove``).

    ``seen_latest`` is the latest version the person saw issued (0 for none) when they pressed Issue: another
    issued since is a ``transitions.Lost`` (409). The version is claimed (its row flushed, unique per kind and
    period) before the file is written, so of two issues at once the loser writes no file and gets the 409."""
    from tracker import transitions

    problem = future_problem(period, date.today())
    if problem:
        raise IssueProblem(problem)
    refused = refusals(kind, settings.get_many(*TRANSPARENCY_SETTINGS, session=session))
    if refused:
        raise IssueProblem(" ".join(text for text, _ in refused) + " An admin sets them under Admin, Settings.")
    earlier = versions(session, kind, period)
    latest = earlier[0].version if earlier else 0

    def page(pub: Publication) -> tuple[str, str]:
        return (url_for("procurement.publication", kind_key=kind.key, period=period.key),
                f"See version {pub.version} as it was issued")

    if seen_latest is not None and seen_latest != latest:
        raise transitions.lost(Publication, earlier[0].id if earlier else None,
                               f"Version {latest} of {kind.title} for {period.name} was issued while you were "
                               "checking it, so yours was not issued. Look at it before issuing a correction.", page)
    note = (correction_note or "").strip()
    if earlier and not note:
        raise IssueProblem(f"Version {latest} is already issued: say what this correction puts right.")
    table = build(kind, period, session)
    waiting = personal_data.undecided(table.review)
    if waiting:  # a doubtful line is published only on finance's decision
        raise IssueProblem(personal_data.undecided_message(waiting))
    content = file_bytes(table)
    version = latest + 1
    pub = Publication(kind=kind.key, period=period.key, version=version, row_count=len(table.rows),
                      correction_note=note, issued_by_id=user.id if user else None,
                      issued_at=utcnow().replace(microsecond=0))
    session.add(pub)
    transitions.inserted(session.flush, winner=lambda: versions(session, kind, period)[0], link=page,
                         message=f"Someone else issued version {version} of {kind.title} for {period.name} at the "
                                 "same moment, so yours was not issued.")
    stored = files.write(FOLDER, files.generated_name("csv", f"{kind.key}-{period.key}-v{version}"), content)
    pub.stored_path, pub.sha256, pub.size_bytes = stored.path, stored.sha256, stored.size_bytes
    audit.record("procurement", "create", pub, f"Issued {kind.title} for {period.name}, version {version}",
                 after={"version": version, "rows": pub.row_count, "sha256": pub.sha256, "correction": note or None})
    return pub


def stored_bytes(pub: Publication) -> bytes:
    """The issued file's exact bytes, checked against its recorded SHA-256 (FileNotFoundError, files.FileChanged)."""
    return files.read(pub.stored_path, sha256=pub.sha256)


def mark_published(pub: Publication, published_on: date, where: str) -> None:
    before = audit.snapshot(pub, ("published_on", "published_where"))
    pub.published_on, pub.published_where = published_on, where.strip()
    old, new = audit.diff(before, audit.snapshot(pub, ("published_on", "published_where")))
    audit.record("procurement", "change", pub, f"Recorded where {pub.kind} {pub.period} v{pub.version} was published",
                 old, new)


def get_publication_or_404(publication_id: int) -> Publication:
    return get_or_404(Publication, publication_id, "There is no issued publication with that number.")


# --- Deadlines: each file of each period of a funding year, closed when its first version is issued ----------

#: Settings whose change moves the publication deadlines (the deadline sync listens for them).
PUBLICATION_DEADLINE_SETTINGS = ("spend_monthly_due_days", "spend_quarterly_due_months")
PUBLICATION_PROGRAMME = "Transparency"
PUBLICATION_KIND = "publication"


def year_periods(unit: str, label: str) -> list[Period]:
    """The periods of funding year ``label`` a file of ``unit`` is made for (12 months, 4 quarters or the year)."""
    if unit == "month":
        start, _end = year_bounds(label)
        return [parse_period("month", f"{add_months_end(start, i):%Y-%m}") for i in range(12)]
    if unit == "quarter":
        return [parse_period("quarter", f"{label}-q{q}") for q in range(1, 5)]
    return [parse_period("year", label)]


def publication_key(kind_key: str, period_key: str) -> str:
    return f"publication:{kind_key}:{period_key}"


def publication_deadlines(years, values: dict) -> list:
    """Every transparency file due for each period of each funding year (``Kind.due``), as deadlines for the sync
    (tracker.milestones.service.sync_deadlines) to make; no queries."""
    from tracker.milestones.service import Wanted

    out = []
    for year in years:
        for kind in KINDS.values():
            for period in year_periods(kind.unit, year.label):
                out.append(Wanted(publication_key(kind.key, period.key), f"{kind.title}: {period.name} due to publish",
                                  kind.due(period, values), PUBLICATION_PROGRAMME, PUBLICATION_KIND, year.id))
    return out


def settled_publications(session: Session) -> dict:
    """The publication deadlines met: ``{source_key: (date, evidence)}`` from each file's first issued version."""
    rows = session.execute(select(Publication.kind, Publication.period, func.min(Publication.issued_at))
                           .group_by(Publication.kind, Publication.period)).all()
    out = {}
    for kind_key, period_key, issued_at in rows:
        on = issued_at.date() if issued_at else date.today()
        out[publication_key(kind_key, period_key)] = (on, f"File issued on {on:%d/%m/%Y} (version 1).")
    return out
