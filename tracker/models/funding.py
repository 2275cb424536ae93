"""Funding years, funding streams, allocations (with revisions) and budget lines."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

YEAR_DRAFT, YEAR_OPEN, YEAR_CLOSED = "draft", "open", "closed"
YEAR_STATUSES = (YEAR_DRAFT, YEAR_OPEN, YEAR_CLOSED)
CLAIM_FREQUENCIES = ("monthly", "quarterly", "half-yearly", "annual")


class FundingYear(Base):
    """A financial year, 1 April to 31 March, named like 2025-26. Unique: its label."""

    __tablename__ = "funding_years"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The year's name, e.g. ``2025-26``.
    label: Mapped[str] = mapped_column(String(7), unique=True)
    #: First day (1 April).
    start_date: Mapped[date]
    #: Last day (31 March).
    end_date: Mapped[date]
    #: draft (being planned), open (in delivery) or closed (read-only).
    status: Mapped[str] = mapped_column(String(10), default=YEAR_DRAFT)
    #: Free notes, e.g. when the grant letter arrived.
    notes: Mapped[str] = mapped_column(Text, default="")
    #: When the year was set up.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Counts saves; a save from a form opened at an older version is refused (two people editing at once).
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    allocations: Mapped[list["Allocation"]] = relationship(back_populates="funding_year")
    budget_lines: Mapped[list["BudgetLine"]] = relationship(back_populates="funding_year")

    @property
    def is_closed(self) -> bool:
        return self.status == YEAR_CLOSED

    def __repr__(self) -> str:
        return f"<FundingYear {self.label}>"


class FundingStream(Base):
    """A source of money within a year: Home Office VRU core grant, Serious Violence Duty, Young Futures ...

    Unique: its name."""

    __tablename__ = "funding_streams"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The stream's name as the grant letter gives it.
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: Who pays it (Home Office, PCC, a partner).
    funder: Mapped[str] = mapped_column(String(120), default="")
    #: True when the funder wants spend split into labour and non-labour (e.g. Serious Violence Duty).
    labour_split: Mapped[bool] = mapped_column(default=False)
    #: How often claims are made: monthly, quarterly, half-yearly or annual.
    claim_frequency: Mapped[str] = mapped_column(String(20), default="quarterly")
    #: Claims fall due this many days after the end of the claim period.
    claim_due_days: Mapped[int] = mapped_column(default=30)
    #: defrayed (money paid out: accruals and their reversals left out) or accrued (accruals count).
    claim_basis: Mapped[str] = mapped_column(String(10), default="defrayed")
    #: arrears (claim after the period for what was spent) or advance (claim the period's profile at its start).
    claim_timing: Mapped[str] = mapped_column(String(10), default="arrears")
    #: The final claim of the year falls due this many days after 31 March.
    final_claim_due_days: Mapped[int] = mapped_column(default=45)
    #: False when the stream has ended; it is no longer offered for new years.
    active: Mapped[bool] = mapped_column(default=True)
    #: The finance officer who looks after this stream's claims; owns the deadlines the app makes for it.
    finance_lead_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Counts saves; a save from a form opened at an older version is refused (two people editing at once).
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    finance_lead: Mapped["User | None"] = relationship()  # noqa: F821


class Allocation(Base):
    """How much a funding stream gives in a funding year: the original award and the current (revised) figure.

    Unique: one allocation per funding year and stream."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("funding_year_id", "funding_stream_id", name="uq_allocations_year_stream"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The funding year.
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: The funding stream.
    funding_stream_id: Mapped[int] = mapped_column(ForeignKey("funding_streams.id"), index=True)
    #: The amount first awarded, in pence.
    original_pence: Mapped[int] = mapped_column(BigInteger)
    #: The amount now, after every revision, in pence.
    revised_pence: Mapped[int] = mapped_column(BigInteger)
    #: draft until the grant letter confirms it, then confirmed.
    status: Mapped[str] = mapped_column(String(10), default="confirmed")
    #: Notes on the award (grant letter reference, conditions).
    notes: Mapped[str] = mapped_column(Text, default="")
    #: The date of the grant letter (or signed agreement) that confirmed the allocation.
    grant_letter_date: Mapped[date | None]
    #: The grant letter's (or agreement's) reference.
    grant_letter_reference: Mapped[str] = mapped_column(String(120), default="")

    funding_year: Mapped[FundingYear] = relationship(back_populates="allocations")
    funding_stream: Mapped[FundingStream] = relationship()
    revisions: Mapped[list["AllocationRevision"]] = relationship(
        back_populates="allocation", order_by="AllocationRevision.changed_at"
    )


class AllocationRevision(Base):
    """One change to an allocation (a virement or a revised award), with its reason."""

    __tablename__ = "allocation_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The allocation changed.
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    #: The figure before the change, in pence.
    previous_pence: Mapped[int] = mapped_column(BigInteger)
    #: The figure after the change, in pence.
    new_pence: Mapped[int] = mapped_column(BigInteger)
    #: Why it changed, in the finance officer's words.
    reason: Mapped[str] = mapped_column(Text)
    #: Who changed it.
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When.
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    allocation: Mapped[Allocation] = relationship(back_populates="revisions")
    changed_by: Mapped["User | None"] = relationship()  # noqa: F821


class BudgetLine(Base):
    """A slice of a stream's allocation for one category and strand, with its Q1-Q4 profile.

    Unique: one line per funding year, stream, category and strand (``uq_budget_lines_year_stream_category_strand``).
    """

    __tablename__ = "budget_lines"
    __table_args__ = (UniqueConstraint("funding_year_id", "funding_stream_id", "category_id", "strand_id",
                                       name="uq_budget_lines_year_stream_category_strand"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The funding year.
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: The funding stream it is paid from.
    funding_stream_id: Mapped[int] = mapped_column(ForeignKey("funding_streams.id"), index=True)
    #: The budget category.
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    #: The strand it serves.
    strand_id: Mapped[int] = mapped_column(ForeignKey("strands.id"), index=True)
    #: True for labour (staff) costs, False for non-labour.
    labour: Mapped[bool] = mapped_column(default=False)
    #: A short description, e.g. "Mentoring services".
    description: Mapped[str] = mapped_column(String(200), default="")
    #: The budget for the year now, in pence.
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    #: The budget first set for the year, in pence (kept when virements change the amount).
    original_amount_pence: Mapped[int] = mapped_column(BigInteger)
    #: Planned spend in Q1 (Apr-Jun), in pence.
    q1_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Planned spend in Q2 (Jul-Sep), in pence.
    q2_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Planned spend in Q3 (Oct-Dec), in pence.
    q3_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Planned spend in Q4 (Jan-Mar), in pence.
    q4_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Finance's own figure for spend still planned but not yet contracted, in pence, replacing the default
    #: (the remaining profile less outstanding commitments); None: use the default.
    planned_override_pence: Mapped[int | None] = mapped_column(BigInteger)
    #: Why finance overrode the planned spend (required with an override).
    planned_override_reason: Mapped[str] = mapped_column(Text, default="")
    #: Counts saves; a save from a form opened at an older version is refused (two people editing at once).
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    funding_year: Mapped[FundingYear] = relationship(back_populates="budget_lines")
    funding_stream: Mapped[FundingStream] = relationship()
    category: Mapped["Category"] = relationship()  # noqa: F821
    strand: Mapped["Strand"] = relationship()  # noqa: F821

    @property
    def profile(self) -> list[int]:
        return [self.q1_pence, self.q2_pence, self.q3_pence, self.q4_pence]

    @property
    def name(self) -> str:
        return f"{self.funding_stream.name} / {self.category.name} / {self.strand.name}"
