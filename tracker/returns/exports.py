"""Download any filtered list (commissions, ledger lines, milestones, audit) as .xlsx or .csv.

``export_rows(columns, rows, fmt)`` is the one exporter. It is safe with user text: in .xlsx every text cell
is written as a string (never a formula); in .csv a text cell starting with = + - @ tab or carriage return gets
a leading apostrophe, as OWASP advises for CSV injection, so a spreadsheet opening it shows text. Numbers,
percentages and dates are real numbers and dates (a negative amount or percentage is a number, not text, so it is
never prefixed). Every CSV the app gives (these lists, the transparency files, procurement notices) is written
through ``csv_cell`` here, so one rule decides what is guarded.

The commissions list uses the headings the commissions register import recognises, with real dates and
amounts as numbers, so the .xlsx it gives re-imports unchanged.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tracker.extensions import db
from tracker.funding.rules import choose_quarter, choose_year
from tracker.models import AuditEvent, Commission, FundingShare, LedgerTransaction, Milestone
from tracker.returns.builder import DATE, MONEY, NUMBER, PERCENT, TEXT, Column
from tracker.returns.workbook import DATE_FORMAT, MONEY_FORMAT, PADDING, PERCENT_FORMAT, shown
from tracker.text import is_yes
from tracker.web import XLSX_MIMETYPE

FORMATS = ("xlsx", "csv")
MIMETYPES = {
    "xlsx": XLSX_MIMETYPE,
    "csv": "text/csv; charset=utf-8",
}
DATETIME = "datetime"
BOOL = "bool"
_DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")
# A negative number as people write it (-80.9%, -£1,250.50, -12): a spreadsheet reads it as a number, and it has
# nothing after the sign that could make it a formula, so it needs no guard (and an apostrophe would make it text).
_NEGATIVE_NUMBER = re.compile(r"-£?(?:0|[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d*)(?:\.\d+)?%?")


class ExportError(ValueError):
    """A filter in the query string that cannot be used; the message says which and why."""


def csv_safe(text: str) -> str:
    """Text for a CSV cell that a spreadsheet will not run as a formula (a plain negative number is left as it is)."""
    if text.startswith(_DANGEROUS_FIRST) and not _NEGATIVE_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_cell(kind: str, value) -> str:
    """One CSV cell by its column's kind: money (pence) as pounds, percentages and numbers as numbers, dates as
    dd/mm/yyyy; anything else is text, guarded by ``csv_safe``."""
    if value is None:
        return ""
    if kind == MONEY:
        pence = int(value)
        sign = "-" if pence < 0 else ""
        return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"
    if kind in (PERCENT, NUMBER) and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)  # -80.9, never '-80.9: a number a spreadsheet can add up
    if kind == DATE:
        return value.strftime("%d/%m/%Y")
    if kind == DATETIME:
        return value.strftime("%d/%m/%Y %H:%M:%S")
    if kind == BOOL:
        return "Y" if value else "N"
    return csv_safe(str(value))


def export_rows(columns: list[Column], rows: Iterable[list], fmt: str, sheet: str = "List") -> bytes:
    """``rows`` (lists of values: money in pence, dates as dates) as .xlsx or .csv bytes."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([csv_safe(c.heading) for c in columns])
        for values in rows:
            writer.writerow([csv_cell(c.kind, v) for c, v in zip(columns, values)])
        # A byte-order mark so Excel reads the £ sign and names with accents as UTF-8.
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    if fmt != "xlsx":
        raise ExportError(f"“{fmt[:10]}” is not a download format: choose xlsx or csv.")
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"constant_memory": True, "strings_to_formulas": False,
                                      "strings_to_urls": False, "strings_to_numbers": False})
    wb.set_properties({"title": sheet, "created": datetime(2000, 1, 1)})
    header = wb.add_format({"bold": True, "bg_color": "#dee0e2", "bottom": 1})
    money = wb.add_format({"num_format": MONEY_FORMAT})
    percent = wb.add_format({"num_format": PERCENT_FORMAT})
    day = wb.add_format({"num_format": DATE_FORMAT})
    moment = wb.add_format({"num_format": "dd/mm/yyyy hh:mm:ss"})
    ws = wb.add_worksheet(sheet[:31])
    for i, c in enumerate(columns):
        ws.write_string(0, i, c.heading, header)
    # The largest and smallest amount of each money column: its widest as shown, for the width set at the end
    # (rows stream through once, so the widths are known only after them), so no amount shows as "###".
    extremes: dict[int, list[int]] = {i: [] for i, c in enumerate(columns) if c.kind == MONEY}
    ws.freeze_panes(1, 0)
    count = 0
    for r, values in enumerate(rows, start=1):
        count = r
        for i, (c, v) in enumerate(zip(columns, values)):
            if v is None:
                continue
            if c.kind == MONEY:
                ws.write_number(r, i, v / 100, money)
                seen = extremes[i]
                if not seen:
                    seen += [v, v]
                elif v > seen[0]:
                    seen[0] = v
                elif v < seen[1]:
                    seen[1] = v
            elif c.kind == DATE:
                ws.write_datetime(r, i, datetime(v.year, v.month, v.day), day)
            elif c.kind == DATETIME:
                ws.write_datetime(r, i, v, moment)
            elif c.kind == BOOL:
                ws.write_string(r, i, "Y" if v else "N")
            elif c.kind == PERCENT and isinstance(v, (int, Decimal)):
                ws.write_number(r, i, float(Decimal(v) / 100), percent)  # float ok: a percentage, not money
            elif c.kind == NUMBER and isinstance(v, int):
                ws.write_number(r, i, v)
            else:
                ws.write_string(r, i, str(v))
    for i, c in enumerate(columns):
        ws.set_column(i, i, max([c.width] + [len(shown(c, v)) + PADDING for v in extremes.get(i, [])]))
    ws.autofilter(0, 0, max(count, 0), len(columns) - 1)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    wb.close()
    return buffer.getvalue()


# --- The lists ---------------------------------------------------------------------------------------------


@dataclass
class Listing:
    name: str
    columns: list[Column]
    rows: Iterable[list]


# Headings the commissions register import knows (tracker/imports/headers.py COMMISSIONS), values as it reads them.
COMMISSION_COLUMNS = [
    Column("reference", "Contract Ref", TEXT, 14), Column("title", "Service", TEXT, 36),
    Column("provider", "Provider", TEXT, 30), Column("strand", "Strand", TEXT, 22),
    Column("stream", "Funding Stream", TEXT, 26), Column("route", "Procurement Route", TEXT, 18),
    Column("value", "Contract Value (£)", MONEY, 16), Column("start", "Start Date", DATE, 12),
    Column("end", "End Date", DATE, 12), Column("status", "Status", TEXT, 11), Column("vcse", "VCSE?", BOOL, 7),
    Column("sme", "SME?", BOOL, 7), Column("manager", "Contract Manager", TEXT, 20), Column("po", "PO No", TEXT, 12),
    Column("type", "Type", TEXT, 10), Column("review", "Review Date", DATE, 12),
    Column("decision", "PCC Decision", TEXT, 16), Column("description", "Description", TEXT, 40),
]


def commission_rows(commissions: Iterable[Commission]) -> Iterable[list]:
    for c in commissions:
        yield [
            c.reference, c.title, c.provider.name, c.strand.name,
            ", ".join(c.stream_names), c.procurement_route, c.value_pence,
            c.start_date, c.end_date, c.status, c.provider.vcse, c.provider.sme, c.contract_manager, c.po_number,
            c.commission_type, c.review_date, c.pcc_decision_ref, c.description,
        ]


def commissions_listing(args, today: date | None = None) -> Listing:
    """The commissions register's filters (tracker/commissions/queries.py), every matching row, by reference."""
    from tracker.commissions import queries

    f = queries.RegisterFilters.from_args(args)
    if f.ignored:
        raise ExportError("These filters could not be used: " + ", ".join(f.ignored) + ".")
    stmt = (queries.filtered_select(f, today or date.today())
            .options(selectinload(Commission.provider), selectinload(Commission.strand),
                     selectinload(Commission.funding_shares).selectinload(FundingShare.funding_stream))
            .order_by(Commission.reference))
    return Listing("Commissions", COMMISSION_COLUMNS, commission_rows(db.session.scalars(stmt)))


BUDGET_COLUMNS = [
    Column("stream", "Funding stream", TEXT, 26), Column("category", "Category", TEXT, 22),
    Column("strand", "Strand", TEXT, 22), Column("line", "Budget line", TEXT, 30),
    Column("budget", "Budget", MONEY, 15), Column("profile_to_date", "Profile to date", MONEY, 15),
    Column("committed", "Committed", MONEY, 15), Column("actual_to_date", "Actual to date", MONEY, 15),
    Column("outstanding", "Outstanding commitment", MONEY, 15), Column("planned", "Planned", MONEY, 15),
    Column("forecast", "Forecast outturn", MONEY, 15),
    # A line's variance is against its budget; the page's stream table (against the allocation) uses other words.
    Column("variance", "Variance against budget £", MONEY, 15),
    Column("variance_percent", "Variance against budget %", PERCENT, 10), Column("rag", "RAG", TEXT, 6),
]


def _budget_values(f) -> list:
    return [f.budget, f.profile_to_date, f.committed, f.actual_to_date, f.outstanding, f.planned, f.forecast,
            f.variance, f.variance_percent, f.rag]


def budget_listing(args) -> Listing:
    """The budget page's lines, the "Not on a budget line" row and a Total row: the same year, quarter and
    figures as the page (?year=2025-26&quarter=4), from the same figures engine."""
    from tracker.figures import table_total
    from tracker.funding.service import budget_page, choose_budget_view

    view = choose_budget_view(args)
    if view.year is None:
        raise ExportError("No funding year has been set up yet.")
    page = budget_page(view.year, view.quarter)
    rows = [[line.funding_stream.name, line.category.name, line.strand.name, line.description, *_budget_values(f)]
            for line, f in page.lines]
    if page.not_on_a_line:
        rows.append(["", "", "", page.not_on_a_line.name, *_budget_values(page.not_on_a_line)])
    rows.append(["Total", "", "", "", *_budget_values(table_total(page.line_rows(), page.quarter))])
    return Listing(f"Budget {view.year.label} Q{view.quarter}", BUDGET_COLUMNS, rows)


LEDGER_COLUMNS = [
    Column("reference", "Transaction reference", TEXT, 16), Column("date", "Posting date", DATE, 12),
    Column("period", "Period", NUMBER, 8), Column("cost_centre", "Cost centre", TEXT, 12),
    Column("account", "Account code", TEXT, 12), Column("account_description", "Account description", TEXT, 24),
    Column("supplier_id", "Supplier ID", TEXT, 12), Column("supplier", "Supplier name", TEXT, 28),
    Column("invoice", "Invoice number", TEXT, 14), Column("po", "PO number", TEXT, 12),
    Column("narrative", "Narrative", TEXT, 36), Column("net", "Net", MONEY, 14), Column("vat", "VAT", MONEY, 12),
    Column("gross", "Gross", MONEY, 14), Column("type", "Type", TEXT, 10),
    Column("commission", "Commission", TEXT, 14), Column("match", "Matched by", TEXT, 10),
]


def _int_arg(args, name: str, low: int, high: int) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ExportError(f"“{raw[:20]}” is not a {name}: use a whole number from {low} to {high}.")
    return int(raw)


def _year_id(args) -> int | None:
    """The id of the year ``?year=`` names, or None for every year (a bad one: ``choose_year``'s 4xx)."""
    year = choose_year(args, default=lambda: None)
    return year.id if year else None


def ledger_listing(args) -> Listing:
    """Ledger lines filtered by ``year``, ``quarter``, ``period``, ``commission`` (id), ``unmatched=1``, ``q``."""
    from tracker.commissions.queries import like_pattern
    from sqlalchemy import or_

    stmt = select(LedgerTransaction).options(selectinload(LedgerTransaction.commission))
    year_id = _year_id(args)
    if year_id:
        stmt = stmt.where(LedgerTransaction.funding_year_id == year_id)
    quarter = choose_quarter(args, default=None)
    if quarter:
        stmt = stmt.where(LedgerTransaction.counts_in_quarter(quarter))
    period = _int_arg(args, "period", 1, 16)  # P13-P16: the ledger's year-end adjustment periods, kept as given
    if period:
        stmt = stmt.where(LedgerTransaction.period == period)
    commission = _int_arg(args, "commission", 1, 2**31)
    if commission:
        stmt = stmt.where(LedgerTransaction.commission_id == commission)
    if is_yes(args.get("unmatched")):
        stmt = stmt.where(LedgerTransaction.commission_id.is_(None))
    q = (args.get("q") or "").strip()[:100]
    if q:
        like = like_pattern(q)
        stmt = stmt.where(or_(LedgerTransaction.reference.ilike(like, escape="\\"),
                              LedgerTransaction.supplier_name.ilike(like, escape="\\"),
                              LedgerTransaction.narrative.ilike(like, escape="\\")))
    stmt = stmt.order_by(LedgerTransaction.posting_date, LedgerTransaction.id)

    def rows():
        for t in db.session.scalars(stmt):
            yield [t.reference, t.posting_date, t.period, t.cost_centre, t.account_code, t.account_description,
                   t.supplier_id, t.supplier_name, t.invoice_number, t.po_number, t.narrative, t.net_pence,
                   t.vat_pence, t.gross_pence, t.transaction_type, t.commission.reference if t.commission else "",
                   t.match_method]

    return Listing("Ledger lines", LEDGER_COLUMNS, rows())


MILESTONE_COLUMNS = [
    Column("due", "Due", DATE, 12), Column("title", "Milestone", TEXT, 40), Column("programme", "Programme", TEXT, 20),
    Column("owner", "Owner", TEXT, 20), Column("status", "Status", TEXT, 12), Column("done", "Done on", DATE, 12),
    Column("evidence", "Evidence", TEXT, 40), Column("link", "Evidence link", TEXT, 30),
    Column("commission", "Commission", TEXT, 14), Column("year", "Funding year", TEXT, 10),
]


def milestones_listing(args) -> Listing:
    """Milestones filtered by ``year``, ``status`` and ``programme``, by due date."""
    from tracker.models.milestones import MILESTONE_STATUSES, PROGRAMMES

    stmt = select(Milestone).options(selectinload(Milestone.owner), selectinload(Milestone.commission),
                                     selectinload(Milestone.funding_year))
    year_id = _year_id(args)
    if year_id:
        stmt = stmt.where(Milestone.funding_year_id == year_id)
    status = (args.get("status") or "").strip()
    if status:
        if status not in MILESTONE_STATUSES:
            raise ExportError(f"“{status[:20]}” is not a milestone status: use one of {', '.join(MILESTONE_STATUSES)}.")
        stmt = stmt.where(Milestone.status == status)
    programme = (args.get("programme") or "").strip()
    if programme:
        if programme not in PROGRAMMES:
            raise ExportError(f"“{programme[:30]}” is not a programme: use one of {', '.join(PROGRAMMES)}.")
        stmt = stmt.where(Milestone.programme == programme)

    def rows():
        for m in db.session.scalars(stmt.order_by(Milestone.due_date, Milestone.id)):
            yield [m.due_date, m.title, m.programme, m.owner.name if m.owner else "", m.status, m.completed_date,
                   m.evidence, m.evidence_link, m.commission.reference if m.commission else "",
                   m.funding_year.label if m.funding_year else ""]

    return Listing("Milestones", MILESTONE_COLUMNS, rows())


AUDIT_COLUMNS = [
    Column("when", "When (UTC)", DATETIME, 20), Column("who", "Who", TEXT, 20), Column("realm", "Area", TEXT, 12),
    Column("kind", "Kind", TEXT, 10), Column("object", "Record", TEXT, 16), Column("id", "Record number", NUMBER, 10),
    Column("summary", "What happened", TEXT, 60),
]


def audit_listing(args) -> Listing:
    """The audit trail filtered by ``realm`` and ``object_type``, newest first."""
    stmt = select(AuditEvent).options(selectinload(AuditEvent.user))
    realm = (args.get("realm") or "").strip()[:20]
    if realm:
        stmt = stmt.where(AuditEvent.realm == realm)
    object_type = (args.get("object_type") or "").strip()[:40]
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)

    def rows():
        for e in db.session.scalars(stmt.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())):
            yield [e.created_at, e.user.name if e.user else "", e.realm, e.kind, e.object_type, e.object_id, e.summary]

    return Listing("Audit trail", AUDIT_COLUMNS, rows())


LISTINGS = {"budget": budget_listing, "commissions": commissions_listing, "ledger": ledger_listing,
            "milestones": milestones_listing, "audit": audit_listing}
