"""A claim schedule as an .xlsx workbook: the claim's facts and the ledger lines it is made of.

Its figures add up: the lines counted are the period's spend (in arrears), and spend + brought forward =
claimable + carried forward (a period's negative is netted off the stream's next claim, ``rules.carry_forward``).

A submitted claim's schedule is written once, when it is submitted, and kept (``service.submit``); every later
download serves those bytes. The workbook's created date is the submission time, so the same claim gives the same
bytes. User text is always written as text, never as a formula.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import xlsxwriter
from sqlalchemy import or_, select

from tracker import figures
from tracker.claims import rules
from tracker.extensions import db
from tracker.models import BudgetLine, Claim, ClaimSubmission, LedgerTransaction
from tracker.money import format_pence
from tracker.periods import month_of_ledger_line
from tracker.returns.workbook import DATE_FORMAT, MONEY_FORMAT, WORKBOOK_OPTIONS, pounds


@dataclass(frozen=True)
class ClaimLine:
    """A ledger line in a claim: the line, and the part of it that counts on the claim's stream (all of it, unless
    the line pays a contract split across streams: then its share, as the figures engine apportions it)."""

    line: LedgerTransaction
    pence: int

    @property
    def apportioned(self) -> bool:
        return self.pence != self.line.net_pence


def ledger_lines(claim: Claim) -> list[ClaimLine]:
    """The stream's ledger lines in the claim's period, whatever their type (three queries): lines coded to the
    stream's budget lines, and lines of contracts with a share on them, each with what counts on the stream
    (``figures.route_spend``, the rule every figure uses)."""
    n = rules.months_per_period(claim.frequency)
    months = range((claim.period - 1) * n + 1, claim.period * n + 1)
    stream_lines = set(db.session.scalars(select(BudgetLine.id).where(
        BudgetLine.funding_year_id == claim.funding_year_id, BudgetLine.funding_stream_id == claim.funding_stream_id)))
    shares = figures.year_share_map(claim.funding_year_id)
    contracts = [cid for cid, mine in shares.items() if any(line_id in stream_lines for line_id, _ in mine)]
    t = LedgerTransaction
    rows = db.session.scalars(
        select(t).where(t.funding_year_id == claim.funding_year_id,
                        or_(t.budget_line_id.in_(stream_lines or [0]),
                            t.counted_commission_id().in_(contracts or [0])))
        .order_by(t.posting_date, t.id)).all()
    out = []
    for row in rows:
        if month_of_ledger_line(row.period, row.posting_date.month) not in months:
            continue
        routed = figures.route_spend(row.counted_commission, row.budget_line_id, row.net_pence, shares)
        if any(line_id in stream_lines for line_id, _ in routed):
            out.append(ClaimLine(row, sum(p for line_id, p in routed if line_id in stream_lines)))
    return out


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
    headings = ["Posted", "Period", "Reference", "Supplier", "Narrative", "Type", "Net", "Counts", "Note"]
    widths = [11, 8, 14, 30, 40, 10, 14, 8, 36]
    for c, (h, w) in enumerate(zip(headings, widths)):
        ls.write_string(0, c, h, bold)
        ls.set_column(c, c, w)
    r = 1
    counted = 0
    for part in ledger_lines(claim):
        t = part.line
        counts = claim.funding_stream.claim_timing != "advance" and rules.counts(claim.funding_stream.claim_basis,
                                                                                 t.transaction_type)
        ls.write_datetime(r, 0, datetime.combine(t.posting_date, datetime.min.time()), day)
        ls.write_number(r, 1, t.period)
        ls.write_string(r, 2, t.reference)
        ls.write_string(r, 3, t.supplier_name)
        ls.write_string(r, 4, t.narrative)
        ls.write_string(r, 5, t.transaction_type)
        ls.write_number(r, 6, pounds(part.pence), money)
        ls.write_string(r, 7, "Yes" if counts else "No")
        if part.apportioned:
            ls.write_string(r, 8, f"This stream's share of {format_pence(t.net_pence)}")
        counted += part.pence if counts else 0
        r += 1
    ls.write_string(r, 5, "Counted", bold)
    ls.write_formula(r, 6, f'=SUMIF(H2:H{r},"Yes",G2:G{r})', money, pounds(counted))
    wb.close()
    return buffer.getvalue()
