"""Budget allocations: each row a budget line of the chosen year, by stream, category and strand."""
from __future__ import annotations

from sqlalchemy import select

from tracker.extensions import db
from tracker.funding.service import profile_difference
from tracker.imports.analysis import ADD, CHANGED, ERROR, UNCHANGED, Row, _Kind
from tracker.imports.drafts import Draft
from tracker.imports.headers import normalise_header
from tracker.imports.problems import problem
from tracker.models import BudgetLine, Category, FundingStream, FundingYear, Strand
from tracker.money import format_pence

class _Budget(_Kind):
    money_field = "amount"
    COMPARE = ("labour", "amount_pence", "q1_pence", "q2_pence", "q3_pence", "q4_pence")

    def __init__(self, draft: Draft) -> None:
        super().__init__(draft)
        self.year = db.session.get(FundingYear, draft.year_id) if draft.year_id else None
        self.streams = {n.lower(): i for i, n in db.session.execute(select(FundingStream.id, FundingStream.name))}
        self.categories = {c.name.lower(): c for c in db.session.scalars(select(Category))}
        self.strands = {n.lower(): i for i, n in db.session.execute(select(Strand.id, Strand.name))}
        self.existing = {}
        if self.year is not None:
            for line in db.session.scalars(select(BudgetLine).where(BudgetLine.funding_year_id == self.year.id)):
                self.existing[(line.funding_stream_id, line.category_id, line.strand_id)] = line
        self.seen: dict[tuple, int] = {}

    def check(self, row_no: int, values: dict) -> Row:
        p, problems = self.parse(row_no, values)
        if self.year is None:
            problems.append(problem(self.sheet, row_no, "", "", "has no funding year: choose the year this budget is for"))
        elif self.year.is_closed:
            problems.append(problem(self.sheet, row_no, "", "", f"is for funding year {self.year.label}, which is "
                                    "closed, so its budget cannot be changed"))
        ids = []
        for name, lookup, what in (("stream", self.streams, "a funding stream"),
                                   ("category", {k: v.id for k, v in self.categories.items()}, "a budget category"),
                                   ("strand", self.strands, "a strand")):
            found = lookup.get((p.get(name) or "").lower()) if p.get(name) else None
            if p.get(name) and found is None:
                problems.append(self.located(row_no, name, p[name], f"is not {what} set up in the tracker"))
            ids.append(found)
        labour = None
        if p.get("labour"):
            text = normalise_header(p["labour"])
            if text in ("labour", "pay", "y", "yes", "true"):
                labour = True
            elif text in ("nonlabour", "nonpay", "n", "no", "false"):
                labour = False
            else:
                problems.append(self.located(row_no, "labour", p["labour"], "is not Labour or Non-labour"))
        amount = p.get("amount")
        quarters = [p.get(q) for q in ("q1", "q2", "q3", "q4")]
        if amount is not None and amount < 0:
            problems.append(self.located(row_no, "amount", values.get("amount"), "is negative"))
        if amount is not None and None not in quarters and profile_difference(amount, quarters) != 0:
            # The budget line form's rule (tracker/funding/service.py).
            problems.append(self.located(row_no, "amount", values.get("amount"),
                                         f"does not equal the Q1-Q4 profile, which adds up to "
                                         f"{format_pence(sum(quarters))}"))
        key = tuple(ids)
        if None not in key and key in self.seen:
            problems.append(self.located(row_no, "stream", p.get("stream"),
                                         f"repeats row {self.seen[key]} (same stream, category and strand)"))
        elif None not in key:
            self.seen[key] = row_no
        if problems:
            return Row(row_no, ERROR, {}, problems, values, money=amount)
        if labour is None:
            labour = self.categories[p["category"].lower()].labour
        data = {"funding_year_id": self.year.id, "funding_stream_id": ids[0], "category_id": ids[1],
                "strand_id": ids[2], "labour": labour, "amount_pence": amount, "q1_pence": quarters[0],
                "q2_pence": quarters[1], "q3_pence": quarters[2], "q4_pence": quarters[3]}
        existing = self.existing.get(key)
        if existing is None:
            return Row(row_no, ADD, data, [], values, money=amount)
        same = all(getattr(existing, c) == data[c] for c in self.COMPARE)
        return Row(row_no, UNCHANGED if same else CHANGED, data, [], values, existing_id=existing.id, money=amount)
