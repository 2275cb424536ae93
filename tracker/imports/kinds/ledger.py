"""A finance ledger export: each row a ledger line, matched to a commission or budget line as it is checked."""
from __future__ import annotations

import re
from functools import lru_cache

from sqlalchemy import select

from tracker import settings
from tracker.extensions import db
from tracker.funding.rules import closed_year_problem
from tracker.imports import matching
from tracker.imports.analysis import ADD, CHANGED, ERROR, UNCHANGED, Row, _closed_message, _Kind
from tracker.imports.drafts import Draft
from tracker.models import FundingYear, LedgerTransaction
from tracker.periods import label_for, period_of, period_problem


def _is_reversal(words: list[str]) -> bool:
    """Whether a type text's words name an accrual reversal ("Reversal", "Accrual reversal", "Rev", "Acc Rev")."""
    return any(w == "rev" or w.startswith("revers") for w in words)


@lru_cache(maxsize=256)  # a ledger has a handful of type texts, and this runs once per row
def _transaction_type(text: str, negative: bool) -> str:
    """The ledger's type text as one of ``TRANSACTION_TYPES``. A reversal is recognised before the prefixes, so
    "Accrual reversal" is a reversal and not an accrual, and a "Reversal" is never taken for a credit."""
    t = text.strip().lower()
    if _is_reversal(re.split(r"[^a-z]+", t)):
        return "reversal"
    for prefix, kind in (("inv", "invoice"), ("cr", "credit"), ("j", "journal"), ("acc", "accrual")):
        if t.startswith(prefix):
            return kind
    return "credit" if negative else "invoice"


class _Ledger(_Kind):
    money_field = "net"
    COMPARE = ("posting_date", "period", "cost_centre", "account_code", "account_description", "supplier_id",
               "supplier_name", "invoice_number", "po_number", "narrative", "vat_pence", "gross_pence",
               "transaction_type")

    def __init__(self, draft: Draft) -> None:
        super().__init__(draft)
        self.years = {y.label: (y.id, y.status) for y in db.session.execute(
            select(FundingYear.label, FundingYear.id, FundingYear.status))}
        self.year_objs = {y.id: y for y in db.session.scalars(select(FundingYear))}
        cols = [getattr(LedgerTransaction, c) for c in self.COMPARE]
        self.existing: dict[tuple[str, int], tuple] = {}  # (id, *COMPARE, funding_year_id)
        for r in db.session.execute(select(LedgerTransaction.reference, LedgerTransaction.net_pence,
                                           LedgerTransaction.id, *cols, LedgerTransaction.funding_year_id)):
            self.existing[(r[0], r[1])] = tuple(r[2:])
        self.seen: dict[tuple[str, int], int] = {}
        self.matcher = matching.Matcher()
        self.adjustment_period = settings.get("adjustment_period")
        self.compared = [i for i, c in enumerate(self.COMPARE) if self._mapped(c)]

    def _mapped(self, column: str) -> bool:
        name = {"vat_pence": "vat", "gross_pence": "gross", "transaction_type": "type"}.get(column, column)
        return name in self.draft.mapping or column in ("period",)

    @staticmethod
    def _type(text: str, net: int) -> str:
        return _transaction_type(text or "", net < 0)

    def check(self, row_no: int, values: dict) -> Row:
        p, problems = self.parse(row_no, values)
        net = p.get("net")
        posting = p.get("posting_date")
        year_id = None
        if posting is not None:
            label = label_for(posting)
            year = self.years.get(label)
            if year is None:
                problems.append(self.located(row_no, "posting_date", values.get("posting_date"),
                                             f"is in funding year {label}, and no funding year {label} is set up"))
            elif year[1] == "closed":
                problems.append(self.located(row_no, "posting_date", values.get("posting_date"),
                                             _closed_message(label)))
            else:
                year_id = year[0]
            if p.get("period") is not None:
                # The posting date decides the period and quarter; a period column that disagrees is an error.
                wrong = period_problem(p["period"], posting, self.adjustment_period)
                if wrong:
                    problems.append(self.located(row_no, "period", values.get("period"), wrong))
        if problems:
            return Row(row_no, ERROR, {}, problems, values, money=net)
        key = (p["reference"], net)
        if key in self.seen:
            problem_ = self.located(row_no, "reference", p["reference"],
                                    f"repeats row {self.seen[key]} (same reference and amount), so it would be "
                                    "counted twice")
            return Row(row_no, ERROR, {}, [problem_], values, money=net)
        self.seen[key] = row_no
        vat = p.get("vat", 0)
        data = {
            # The ledger's own period as it gives it (P13-P16 stay P13-P16, counted by quarter_of_ledger_line);
            # without a period column, the posting date's.
            "reference": p["reference"], "posting_date": posting,
            "period": p["period"] if p.get("period") is not None else period_of(posting),
            "funding_year_id": year_id, "cost_centre": p.get("cost_centre", ""),
            "account_code": p.get("account_code", ""), "account_description": p.get("account_description", ""),
            "supplier_id": p.get("supplier_id", ""), "supplier_name": p.get("supplier_name", ""),
            "invoice_number": p.get("invoice_number", ""), "po_number": p.get("po_number", ""),
            "narrative": p.get("narrative", ""), "net_pence": net, "vat_pence": vat,
            "gross_pence": p.get("gross", net + vat), "transaction_type": self._type(p.get("type", ""), net),
        }
        old = self.existing.get(key)
        if old is None:
            commission_id, line_id, method = self.matcher.match(data["po_number"], data["supplier_id"],
                                                                data["supplier_name"], posting,
                                                                data["account_code"], year_id)
            held, message = self.matcher.hold(commission_id, method, posting)
            data.update(commission_id=commission_id, budget_line_id=line_id, match_method=method, held_reason=held)
            # A warning, not an error: the line lands held (not counted on the contract) for finance to confirm.
            warnings = [self.located(row_no, "reference", p["reference"], message) | {"held": held}] if held else []
            return Row(row_no, ADD, data, warnings, values, money=net)
        period_at = self.COMPARE.index("period") + 1
        if p.get("period") is None and period_problem(old[period_at], posting, self.adjustment_period) is None:
            data["period"] = old[period_at]  # a file with no period column keeps the period a ledger gave before
        new = tuple(data[c] for c in self.COMPARE)
        if all(old[i + 1] == new[i] for i in self.compared):
            return Row(row_no, UNCHANGED, data, [], values, existing_id=old[0], money=net)
        closed = closed_year_problem(self.year_objs.get(old[-1]), self.year_objs.get(year_id))
        if closed:
            return Row(row_no, ERROR, {}, [self.located(row_no, "reference", p["reference"],
                                                        f"is already imported and would change: {closed}")],
                       values, money=net)
        changed = {c: data[c] for c in self.COMPARE if self._mapped(c)}
        changed["funding_year_id"] = year_id  # a new date may fall in another (open) year: the line follows it
        return Row(row_no, CHANGED, changed, [], values, existing_id=old[0], money=net)
