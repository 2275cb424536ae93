"""Factories for test data: each makes a valid record in one line, with everything it needs made too.

``make.commission()`` makes a provider, strand, funding year, stream, category and budget line as needed;
pass any field to override it. Records are added and flushed, not committed.
"""
from __future__ import annotations

import itertools
from datetime import date

from werkzeug.security import generate_password_hash

from tracker.models import (
    Allocation, AuditEvent, BudgetLine, Category, Commission, FundingShare, FundingStream, FundingYear, ImportBatch,
    LedgerTransaction, Milestone, Provider, Strand, User,
)
from tracker.periods import label_for, period_of, year_bounds

_seq = itertools.count(1)
#: The day the tests run the demo as of (``seed_demo(DEMO_TODAY)``): the last day of 2025-26, so 2025-26 is the open
#: year with all its spend, 2024-25 closed and 2026-27 a draft, as the tests that read the demo expect.
DEMO_TODAY = date(2026, 3, 31)


class Factories:
    def __init__(self, session):
        self.session = session

    def _add(self, obj):
        self.session.add(obj)
        self.session.flush()
        return obj

    def _one(self, model, **keys):
        found = self.session.query(model).filter_by(**keys).first()
        return found

    def user(self, role: str = "manager", password: str = "correct-horse-battery-staple", **fields) -> User:
        n = next(_seq)
        fields.setdefault("email", f"{role}{n}@example.org")
        fields.setdefault("name", f"{role.title()} User {n}")
        return self._add(User(role=role, password_hash=generate_password_hash(password, "pbkdf2:sha256:1000"), **fields))

    def year(self, label: str = "2025-26", status: str = "open", **fields) -> FundingYear:
        existing = self._one(FundingYear, label=label)
        if existing:
            return existing
        start, end = year_bounds(label)
        return self._add(FundingYear(label=label, start_date=start, end_date=end, status=status, **fields))

    def strand(self, name: str = "Serious Youth Violence", **fields) -> Strand:
        return self._one(Strand, name=name) or self._add(Strand(name=name, **fields))

    def category(self, name: str = "Commissioned services", **fields) -> Category:
        return self._one(Category, name=name) or self._add(Category(name=name, **fields))

    def stream(self, name: str = "Home Office VRU core grant", **fields) -> FundingStream:
        return self._one(FundingStream, name=name) or self._add(FundingStream(name=name, funder="Home Office", **fields))

    def allocation(self, year=None, stream=None, pence: int = 100_000_00, **fields) -> Allocation:
        year = year or self.year()
        stream = stream or self.stream()
        fields.setdefault("original_pence", pence)
        fields.setdefault("revised_pence", pence)
        return self._add(Allocation(funding_year=year, funding_stream=stream, **fields))

    def budget_line(self, year=None, stream=None, category=None, strand=None, amount_pence: int = 40_000_00,
                    profile: tuple[int, int, int, int] | None = None, **fields) -> BudgetLine:
        profile = profile or (amount_pence // 4, amount_pence // 4, amount_pence // 4, amount_pence - 3 * (amount_pence // 4))
        year, stream, strand = year or self.year(), stream or self.stream(), strand or self.strand()
        if category is None:
            # A line is unique per year, stream, category and strand: a second default line gets its own category.
            category = self.category()
            taken = {c for (c,) in self.session.query(BudgetLine.category_id).filter_by(
                funding_year_id=year.id, funding_stream_id=stream.id, strand_id=strand.id)}
            if category.id in taken:
                category = self.category(f"Commissioned services {next(_seq)}")
        return self._add(BudgetLine(
            funding_year=year, funding_stream=stream, category=category, strand=strand,
            amount_pence=amount_pence, original_amount_pence=fields.pop("original_amount_pence", amount_pence),
            q1_pence=profile[0], q2_pence=profile[1], q3_pence=profile[2], q4_pence=profile[3], **fields,
        ))

    def provider(self, name: str | None = None, **fields) -> Provider:
        name = name or f"Provider {next(_seq)} CIC"
        return self._one(Provider, name=name) or self._add(Provider(name=name, **fields))

    def commission(self, reference: str | None = None, budget_line=None, provider=None, year=None,
                   shares=None, **fields) -> Commission:
        """A contract, funded by default from ``budget_line`` for its value, split by days across the years its
        dates span (``shares``: a list of (year, budget line or None, pence) to set them yourself)."""
        n = next(_seq)
        if budget_line is None and shares is None:
            budget_line = self.budget_line(year=year)
        year = year or (budget_line.funding_year if budget_line is not None else self.year())
        fields.setdefault("title", f"Service {n}")
        fields.setdefault("value_pence", 10_000_00)
        fields.setdefault("start_date", year.start_date)
        fields.setdefault("end_date", year.end_date)
        fields.setdefault("status", "live")
        fields.setdefault("strand", budget_line.strand if budget_line is not None else self.strand())
        commission = self._add(Commission(
            reference=reference or f"VRU-T-{n:04d}", provider=provider or self.provider(), funding_year=year,
            **fields,
        ))
        if shares is None:
            from tracker.commissions.shares import split_by_years

            shares = []
            for label, pence in split_by_years(commission.value_pence, commission.start_date, commission.end_date):
                existing = self._one(FundingYear, label=label)
                line = budget_line if budget_line is not None and budget_line.funding_year.label == label else None
                shares.append((existing or label, line, pence))
        for y, line, pence in shares:
            label = y if isinstance(y, str) else y.label
            y_obj = y if not isinstance(y, str) else None
            commission.funding_shares.append(FundingShare(
                year_label=label, funding_year=y_obj, budget_line=line, amount_pence=pence,
                funding_stream=line.funding_stream if line is not None else None))
        self.session.flush()
        return commission

    @staticmethod
    def line_of(commission):
        """The budget line of a contract's largest funding share (its line, for a contract on one line)."""
        shares = sorted(commission.funding_shares, key=lambda s: -s.amount_pence)
        return next((s.budget_line for s in shares if s.budget_line is not None), None)

    def ledger_line(self, posting_date: date = date(2025, 5, 15), net_pence: int = 1_000_00, commission=None,
                    budget_line=None, year=None, **fields) -> LedgerTransaction:
        """A ledger line; on a contract it has no coding of its own unless ``budget_line`` is given, as matching
        leaves it, and the figures engine routes it to the contract's shares."""
        n = next(_seq)
        year = year or self.year(label_for(posting_date))
        fields.setdefault("vat_pence", 0)
        fields.setdefault("gross_pence", net_pence + fields["vat_pence"])
        return self._add(LedgerTransaction(
            reference=fields.pop("reference", f"TX{n:06d}"), posting_date=posting_date,
            period=fields.pop("period", period_of(posting_date)),
            funding_year_id=year.id, net_pence=net_pence, commission_id=commission.id if commission else None,
            budget_line_id=budget_line.id if budget_line else None, **fields,
        ))

    def milestone(self, title: str | None = None, due_date: date = date(2025, 7, 31), **fields) -> Milestone:
        return self._add(Milestone(title=title or f"Milestone {next(_seq)}", due_date=due_date, **fields))

    def metric(self, name: str | None = None, **fields):
        from tracker.models.monitoring import Metric

        name = name or f"Metric {next(_seq)}"
        fields.setdefault("unit", "people")
        return self._one(Metric, name=name) or self._add(Metric(name=name, **fields))

    def measure(self, commission=None, metric=None, targets=(10, 10, 10, 10), target_year: int | None = None,
                **fields):
        """A commission's measure with quarterly targets (the year's target defaults to their sum), for the
        commission's own funding year unless ``funding_year`` is given."""
        from tracker.models.monitoring import Measure

        commission = commission or self.commission()
        metric = metric or self.metric()
        if "funding_year_id" not in fields:
            fields.setdefault("funding_year", commission.funding_year)
        q1, q2, q3, q4 = targets
        return self._add(Measure(
            commission=commission, metric=metric, unit=fields.pop("unit", metric.unit), target_q1=q1, target_q2=q2,
            target_q3=q3, target_q4=q4, target_year=sum(targets) if target_year is None else target_year, **fields,
        ))

    def measure_actual(self, measure=None, quarter: int = 1, value: int = 10, **fields):
        from tracker.models.monitoring import MeasureActual

        return self._add(MeasureActual(measure=measure or self.measure(), quarter=quarter, value=value, **fields))

    def import_batch(self, kind: str = "ledger", **fields) -> ImportBatch:
        n = next(_seq)
        fields.setdefault("filename", f"file{n}.xlsx")
        fields.setdefault("sha256", f"{n:064d}")
        return self._add(ImportBatch(kind=kind, **fields))

    def audit_event(self, **fields) -> AuditEvent:
        fields.setdefault("realm", "commissions")
        fields.setdefault("kind", "change")
        fields.setdefault("object_type", "Commission")
        fields.setdefault("summary", "Changed")
        return self._add(AuditEvent(**fields))

    def claim(self, year=None, stream=None, period: int = 1, claimed_pence: int = 0, **fields):
        """A claim (draft by default) for a stream's period; the stream gets an allocation if it has none."""
        from tracker.models import Claim

        year = year or self.year()
        stream = stream or self.stream()
        if self._one(Allocation, funding_year_id=year.id, funding_stream_id=stream.id) is None:
            self.allocation(year=year, stream=stream)
        fields.setdefault("frequency", stream.claim_frequency)
        return self._add(Claim(funding_year=year, funding_stream=stream, period=period, claimed_pence=claimed_pence,
                               **fields))

    def condition(self, year=None, stream=None, kind: str = "category_share", minimum_basis_points: int = 1000,
                  **fields):
        """A grant condition: by default, a category's minimum share of the stream's allocation."""
        from tracker.models import GrantCondition

        if kind == "category_share" and "category" not in fields and "category_id" not in fields:
            fields["category"] = self.category("Evaluation")
        return self._add(GrantCondition(funding_year=year or self.year(), funding_stream=stream or self.stream(),
                                        kind=kind, minimum_basis_points=minimum_basis_points, **fields))

    def document(self, year=None, title: str = "Evidence letter", **fields):
        from tracker.models.monitoring import Document

        fields.setdefault("kind", "evidence")
        return self._add(Document(funding_year_id=(year or self.year()).id, title=title, **fields))

    def contribution(self, year=None, stream=None, partner: str | None = None, kind: str = "cash",
                     pledged_pence: int = 10_000_00, evidenced_pence: int = 0, **fields):
        """A match contribution; evidenced money gets a document unless one is given."""
        from tracker.models import MatchContribution

        year = year or self.year()
        if evidenced_pence and "document" not in fields and "document_id" not in fields:
            fields["document"] = self.document(year=year)
        return self._add(MatchContribution(
            funding_year=year, funding_stream=stream or self.stream(), partner=partner or f"Partner {next(_seq)}",
            kind=kind, pledged_pence=pledged_pence, evidenced_pence=evidenced_pence, **fields))
