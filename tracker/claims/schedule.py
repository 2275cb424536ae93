"""A claim schedule as an .xlsx workbook: the claim's facts and the ledger lines it is made of.

Its figures add up: the lines counted are the period's spend (in arrears), and spend + brought forward =
claimable + carried forward (a period's negative is netted off the stream's next claim, ``rules.carry_forward``).

A submitted claim's schedule is written once, when it is submitted, and kept (``service.submit``); every later
download serves those bytes. The workbook's created date is the submission time, so the same claim gives the same
bytes. User text is always written as text, never as a formula.
"""
from __future__ import annotations

import io
from datetime import datetime

import xlsxwriter
from sqlalchemy import select

from tracker.claims import rules
from tracker.extensions import db
from tracker.models import BudgetLine, Claim, ClaimSubmission, LedgerTransaction
from tracker.periods import month_of_ledger_line
from tracker.returns.workbook import DATE_FORMAT, MONEY_FORMAT, WORKBOOK_OPTIONS, pounds


def ledger_lines(claim: Claim) -> list[LedgerTransaction]:
    """The stream's ledger lines in the claim's period, whatever their type (one query)."""
    n = rules.months_per_period(claim.frequency)
    months = range((claim.period - 1) * n + 1, claim.period * n + 1)
    rows = db.session.scalars(
        select(LedgerTransaction).join(BudgetLine, BudgetLine.id == LedgerTransaction.budget_line_id)
        .where(LedgerTransaction.funding_year_id == claim.funding_year_id,
               BudgetLine.funding_stream_id == claim.funding_stream_id)
        .order_by(LedgerTransaction.posting_date, LedgerTransaction.id)).all()
    return [t for t in rows if month_of_ledger_line(t.period, t.posting_date.month) in months]


def facts(claim: Claim, sc, cell, submission: ClaimSubmission | None) -> list[tuple[str, object, str]]:
    """(label, value, kind) for the top of the schedule."""
    s = claim.funding_stream
    return [
        ("Funding stream", s.name, "text"),
        ("Funder", s.funder or "", "text"),
        ("Funding year", claim.funding_year.label, "text"),
        ("Claim period", cell.name + (" (final claim)" if cell.final else ""), "text"),
        ("Basis", f"{s.claim_basis}, in {s.claim_timing}", "text"),
        ("Due", cell.due, "date"),
        ("Revised allocation", sc.revised, "money"),
        ("Claimed by the year's other claims", sc.claimed_elsewhere(claim.period), "money"),
        ("Spend this period", cell.spend, "money"),
        ("Brought forward from earlier periods", cell.brought_forward, "money"),
        ("Carried forward to the next period", cell.carried_forward, "money"),
        ("Claimable this period", cell.claimable, "money"),
        ("Claimed this period", claim.claimed_pence, "money"),
        ("Signed off by", claim.signed_off_by, "text"),
        ("Version", submission.version if submission else "Draft: not submitted", "text"),
        ("Submitted", submission.submitted_at.strftime("%d/%m/%Y %H:%M") if submission else "", "text"),
    ]


def schedule_bytes(claim: Claim, sc, cell, submission: ClaimSubmission | None = None,
                   generated_at: datetime | None = None) -> bytes:
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, WORKBOOK_OPTIONS)
    stamp = submission.submitted_at if submission else (generated_at or datetime(2000, 1, 1))
    wb.set_properties({"title": "Grant claim schedule", "company": claim.funding_stream.funder or "",
                       "created": stamp})
    bold = wb.add_format({"bold": True})
    money = wb.add_format({"num_format": MONEY_FORMAT})
    day = wb.add_format({"num_format": DATE_FORMAT, "align": "left"})
    ws = wb.add_worksheet("Claim")
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 40)
    ws.write_string(0, 0, "Grant claim schedule", wb.add_format({"bold": True, "font_size": 14}))
    row = 2
    for label, value, kind in facts(claim, sc, cell, submission):
        ws.write_string(row, 0, label, bold)
        if kind == "money":
            ws.write_number(row, 1, pounds(value), money)
        elif kind == "date":
            ws.write_datetime(row, 1, datetime.combine(value, datetime.min.time()), day)
        else:
            ws.write_string(row, 1, str(value))
        row += 1

    ls = wb.add_worksheet("Ledger lines")
    headings = ["Posted", "Period", "Reference", "Supplier", "Narrative", "Type", "Net", "Counts"]
    widths = [11, 8, 14, 30, 40, 10, 14, 8]
    for c, (h, w) in enumerate(zip(headings, widths)):
        ls.write_string(0, c, h, bold)
        ls.set_column(c, c, w)
    r = 1
    counted = 0
    for t in ledger_lines(claim):
        counts = claim.funding_stream.claim_timing != "advance" and rules.counts(claim.funding_stream.claim_basis,
                                                                                 t.transaction_type)
        ls.write_datetime(r, 0, datetime.combine(t.posting_date, datetime.min.time()), day)
        ls.write_number(r, 1, t.period)
        ls.write_string(r, 2, t.reference)
        ls.write_string(r, 3, t.supplier_name)
        ls.write_string(r, 4, t.narrative)
        ls.write_string(r, 5, t.transaction_type)
        ls.write_number(r, 6, pounds(t.net_pence), money)
        ls.write_string(r, 7, "Yes" if counts else "No")
        counted += t.net_pence if counts else 0
        r += 1
    ls.write_string(r, 5, "Counted", bold)
    ls.write_formula(r, 6, f'=SUMIF(H2:H{r},"Yes",G2:G{r})', money, pounds(counted))
    wb.close()
    return buffer.getvalue()
