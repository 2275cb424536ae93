"""A commissions register: each row a commission (and its provider), by reference."""
from __future__ import annotations

from sqlalchemy import select

from tracker.commissions import rules as commission_rules
from tracker.commissions.service import provider_key
from tracker.commissions.shares import ShareInput, default_shares, over_budget_warnings
from tracker.extensions import db
from tracker.funding.rules import closed_year_problem
from tracker.imports.analysis import ADD, CHANGED, ERROR, UNCHANGED, Row, _closed_message, _Kind
from tracker.imports.drafts import Draft
from tracker.models import BudgetLine, Commission, FundingStream, FundingYear, Provider, Strand
from tracker.models.commissions import COMMISSION_STATUSES, COMMISSION_TYPES, PROCUREMENT_ROUTES
from tracker.periods import label_for

class _Commissions(_Kind):
    money_field = "value"
    COMPARE = ("title", "provider_id", "strand_id", "funding_year_id", "budget_line_id", "procurement_route",
               "value_pence", "start_date", "end_date", "status", "contract_manager", "po_number", "description",
               "commission_type", "review_date", "pcc_decision_ref")
    OPTIONAL = {"procurement_route": "procurement_route", "status": "status", "contract_manager": "contract_manager",
                "po_number": "po_number", "description": "description", "commission_type": "type",
                "review_date": "review_date", "pcc_decision_ref": "pcc_decision", "strand_id": "strand",
                "budget_line_id": "funding_stream"}

    def __init__(self, draft: Draft) -> None:
        super().__init__(draft)
        self.years = {y.label: (y.id, y.status) for y in db.session.execute(
            select(FundingYear.label, FundingYear.id, FundingYear.status))}
        self.strands = {n.lower(): i for i, n in db.session.execute(select(Strand.id, Strand.name))}
        self.streams = {n.lower(): i for i, n in db.session.execute(select(FundingStream.id, FundingStream.name))}
        self.lines: dict[tuple[int, int, int], int] = {}
        self.line_stream: dict[int, int] = {}
        for line in db.session.execute(select(BudgetLine.id, BudgetLine.funding_year_id, BudgetLine.funding_stream_id,
                                              BudgetLine.strand_id).order_by(BudgetLine.id)):
            self.lines.setdefault((line.funding_year_id, line.funding_stream_id, line.strand_id), line.id)
            self.line_stream[line.id] = line.funding_stream_id
        self.providers = {provider_key(n): i for i, n in db.session.execute(select(Provider.id, Provider.name))}
        self.existing = {c.reference.lower(): c for c in db.session.scalars(select(Commission))}
        self.year_objs = {y.id: y for y in db.session.scalars(select(FundingYear))}
        self.seen: dict[str, int] = {}
        self.routes = {r.lower(): r for r in PROCUREMENT_ROUTES}
        self.notes: list[str] = []
        #: The funding shares the file's rows would set (a new contract's, or a changed one's that the commit
        #: splits afresh), and the contracts whose shares they replace: for the over-budget question.
        self.shares_taken: list[ShareInput] = []
        self.replacing: set[int] = set()

    def over_budget(self) -> list[str]:
        """The budget lines the whole file would take over their amount: the form's question
        (``over_budget_warnings``), asked once for every row (the preview lists them; the commit needs them
        confirmed)."""
        return over_budget_warnings(None, self.shares_taken, replacing=self.replacing)

    def _take_shares(self, data: dict, existing: Commission | None) -> None:
        """Note the shares this row's commit would set (the same condition as ``_change_commissions``)."""
        line_id = data.get("budget_line_id")
        if not line_id:
            return
        if existing is not None:
            current_lines = {sh.budget_line_id for sh in existing.funding_shares}
            resplit = line_id not in current_lines or any(
                getattr(existing, k) != data[k] for k in ("value_pence", "start_date", "end_date"))
            if not resplit:
                return
            self.replacing.add(existing.id)
        self.shares_taken.extend(default_shares(data["value_pence"], data["start_date"], data["end_date"],
                                                db.session.get(BudgetLine, line_id)))

    def check(self, row_no: int, values: dict) -> Row:
        p, problems = self.parse(row_no, values)
        ref = p.get("reference")
        year = None
        if ref and ref.lower() in self.seen:
            problems.append(self.located(row_no, "reference", ref, f"repeats row {self.seen[ref.lower()]}"))
        elif ref:
            self.seen[ref.lower()] = row_no
        label = self.draft.year_label or (label_for(p["start"]) if p.get("start") else "")
        if label:
            year = self.years.get(label)
            if year is None:
                problems.append(self.located(row_no, "start", values.get("start"),
                                             f"is in funding year {label}, and no funding year {label} is set up"))
            elif year[1] == "closed":
                problems.append(self.located(row_no, "start", values.get("start"), _closed_message(label)))
        # The form's rules (tracker/commissions/rules.py), with the same edges.
        if not commission_rules.end_after_start(p.get("start"), p.get("end")):
            problems.append(self.located(row_no, "end", values.get("end"), "is not after the start date"))
        if not commission_rules.value_above_zero(p.get("value")):
            problems.append(self.located(row_no, "value", values.get("value"), "must be more than £0.00"))
        strand_id = None
        if p.get("strand"):
            strand_id = self.strands.get(p["strand"].lower())
            if strand_id is None:
                problems.append(self.located(row_no, "strand", p["strand"], "is not a strand set up in the tracker"))
        line_id = None
        if p.get("funding_stream"):
            stream_id = self.streams.get(p["funding_stream"].lower())
            if stream_id is None:
                problems.append(self.located(row_no, "funding_stream", p["funding_stream"],
                                             "is not a funding stream set up in the tracker"))
            elif year and strand_id:
                current = self.existing.get((ref or "").lower())
                current_lines = [s.budget_line_id for s in current.funding_shares
                                 if s.funding_year_id == year[0]] if current is not None else []
                same_stream = [i for i in current_lines if self.line_stream.get(i) == stream_id]
                if same_stream:
                    line_id = same_stream[0]  # the register names only the stream: the contract's line stands
                else:
                    line_id = self.lines.get((year[0], stream_id, strand_id))
                if line_id is None:
                    # Not an error: the commission is still worth having; the note says why it has no budget line.
                    self.notes.append(f"{self.sheet}, row {row_no}: no {p['funding_stream']} budget line for "
                                      f"{p['strand']} in {label}, so the commission is not linked to a budget line")
        route = None
        if p.get("procurement_route"):
            route = self.routes.get(p["procurement_route"].lower())
            if route is None:
                problems.append(self.located(row_no, "procurement_route", p["procurement_route"],
                                             f"is not a procurement route ({', '.join(PROCUREMENT_ROUTES)})"))
        status = None
        if p.get("status"):
            status = p["status"].lower()
            if status not in COMMISSION_STATUSES:
                problems.append(self.located(row_no, "status", p["status"],
                                             f"is not a status ({', '.join(COMMISSION_STATUSES)})"))
        ctype = None
        if p.get("type"):
            ctype = p["type"].lower()
            if ctype not in COMMISSION_TYPES:
                problems.append(self.located(row_no, "type", p["type"], "is not contract or grant"))
        existing = self.existing.get(ref.lower()) if ref else None
        if existing is None and not p.get("strand") and "strand" not in [q.get("field") for q in problems]:
            problems.append(self.located(row_no, "strand", p.get("strand"), "is blank, and a new commission needs "
                                         "its strand"))
        if problems:
            return Row(row_no, ERROR, {}, problems, values, money=p.get("value"))
        data = {"reference": ref, "title": p["title"], "provider": p["provider"], "funding_year_id": year[0],
                "value_pence": p["value"], "start_date": p["start"], "end_date": p["end"]}
        optional = {"strand_id": strand_id, "budget_line_id": line_id, "procurement_route": route, "status": status,
                    "contract_manager": p.get("contract_manager"), "po_number": p.get("po_number"),
                    "description": p.get("description"), "commission_type": ctype,
                    "review_date": p.get("review_date"), "pcc_decision_ref": p.get("pcc_decision")}
        for column, source in self.OPTIONAL.items():
            if source in self.draft.mapping:
                data[column] = optional[column]
        for flag in ("vcse", "sme"):
            if flag in p:
                data[flag] = p[flag]
        if existing is None:
            self._take_shares(data, None)
            return Row(row_no, ADD, data, [], values, money=p["value"])
        provider_id = self.providers.get(provider_key(p["provider"]))
        existing_line = next((sh.budget_line_id for sh in existing.funding_shares
                              if sh.funding_year_id == data["funding_year_id"]), None)
        same = provider_id == existing.provider_id and all(
            (existing_line if c == "budget_line_id" else getattr(existing, c)) == data[c]
            for c in self.COMPARE if c in data and c != "provider_id")
        if same and provider_id is not None:
            provider = existing.provider
            same = all(getattr(provider, f) == data[f] for f in ("vcse", "sme") if f in data)
        if not same:
            closed = closed_year_problem(self.year_objs.get(existing.funding_year_id),
                                         self.year_objs.get(data["funding_year_id"]))
            if closed:
                return Row(row_no, ERROR, {}, [self.located(row_no, "reference", ref, f"is commission "
                                                            f"{existing.reference}, which would change: {closed}")],
                           values, money=p["value"])
        if not same:
            self._take_shares(data, existing)
        return Row(row_no, UNCHANGED if same else CHANGED, data, [], values, existing_id=existing.id,
                   money=p["value"])
