"""Grant claims to funders, their frozen submissions, grant conditions, match contributions and virements."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

CLAIM_BASES = ("defrayed", "accrued")
CLAIM_TIMINGS = ("arrears", "advance")
CLAIM_STATUSES = ("draft", "submitted", "approved", "paid", "queried")
CONDITION_KINDS = ("category_share", "strand_share", "match_share", "ring_fence")
MATCH_KINDS = ("cash", "in_kind")


class Claim(Base):
    """What the VRU claims from a funding stream for one claim period (a quarter, a month ...) of a year."""

    __tablename__ = "claims"
    __table_args__ = (UniqueConstraint("funding_year_id", "funding_stream_id", "period",
                                       name="uq_claims_year_stream_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The funding year.
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: The funding stream claimed from.
    funding_stream_id: Mapped[int] = mapped_column(ForeignKey("funding_streams.id"), index=True)
    #: The claim period within the year: 1-4 for quarterly claims, 1-12 for monthly, 1-2 half-yearly, 1 annual.
    period: Mapped[int]
    #: How often the stream claimed when this claim was made (monthly, quarterly, half-yearly, annual).
    frequency: Mapped[str] = mapped_column(String(20), default="quarterly")
    #: The amount claimed, in pence (finance enters it; never more than is left of the allocation).
    claimed_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: draft, submitted, approved, paid or queried.
    status: Mapped[str] = mapped_column(String(10), default="draft")
    #: The date the claim was sent to the funder.
    submitted_on: Mapped[date | None]
    #: The date the funder paid it.
    paid_on: Mapped[date | None]
    #: What the funder actually paid, in pence.
    received_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The funder's remittance advice reference.
    remittance_reference: Mapped[str] = mapped_column(String(80), default="")
    #: Who signed the claim off (e.g. the PCC's chief finance officer).
    signed_off_by: Mapped[str] = mapped_column(String(120), default="")
    #: Notes on the claim (a query from the funder and its answer, for example).
    note: Mapped[str] = mapped_column(Text, default="")
    #: How many times it has been submitted: 0 while a first draft, then 1, 2 ... (corrections).
    version: Mapped[int] = mapped_column(default=0)
    #: Counts every change (save, submission, decision, payment); each is one UPDATE conditional on the count and
    #: the status it was read at (tracker/locking.py), so of two changes at once the second is refused.
    row_version: Mapped[int] = mapped_column(default=1)
    #: When the record was made.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    funding_year: Mapped["FundingYear"] = relationship()  # noqa: F821
    funding_stream: Mapped["FundingStream"] = relationship()  # noqa: F821
    submissions: Mapped[list["ClaimSubmission"]] = relationship(
        back_populates="claim", order_by="ClaimSubmission.version.desc()")


class ClaimSubmission(Base):
    """One submitted version of a claim: its schedule's exact bytes, kept so every download is the same."""

    __tablename__ = "claim_submissions"
    __table_args__ = (UniqueConstraint("claim_id", "version", name="uq_claim_submissions_claim_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The claim.
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    #: 1 for the first submission, 2, 3 ... for corrections.
    version: Mapped[int]
    #: The amount claimed in this version, in pence.
    claimed_pence: Mapped[int] = mapped_column(BigInteger)
    #: What the ledger showed as claimable when it was submitted, in pence.
    claimable_pence: Mapped[int] = mapped_column(BigInteger)
    #: Where the claim schedule's bytes are kept (relative to the data folder).
    stored_path: Mapped[str] = mapped_column(String(500), default="")
    #: SHA-256 of the claim schedule.
    sha256: Mapped[str] = mapped_column(String(64), default="")
    #: Size of the claim schedule in bytes.
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: When it was submitted (UTC).
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Who submitted it.
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    claim: Mapped[Claim] = relationship(back_populates="submissions")
    submitted_by: Mapped["User | None"] = relationship()  # noqa: F821


class GrantCondition(Base):
    """A condition of a stream's grant for a year: a minimum share for a category or strand, a minimum share of
    match funding, or a ring-fenced labour and non-labour split."""

    __tablename__ = "grant_conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The funding year.
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: The funding stream whose grant sets it.
    funding_stream_id: Mapped[int] = mapped_column(ForeignKey("funding_streams.id"), index=True)
    #: category_share, strand_share, match_share or ring_fence.
    kind: Mapped[str] = mapped_column(String(20))
    #: The budget category a category_share condition is about.
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    #: The strand a strand_share condition is about.
    strand_id: Mapped[int | None] = mapped_column(ForeignKey("strands.id"))
    #: The minimum share of the stream's revised allocation, in hundredths of a percent (1000 is 10%).
    minimum_basis_points: Mapped[int] = mapped_column(default=0)
    #: For a ring fence: the amount ring-fenced for labour, in pence (the rest of the allocation is non-labour).
    labour_pence: Mapped[int | None] = mapped_column(BigInteger)
    #: The condition in the grant letter's words.
    note: Mapped[str] = mapped_column(Text, default="")

    funding_year: Mapped["FundingYear"] = relationship()  # noqa: F821
    funding_stream: Mapped["FundingStream"] = relationship()  # noqa: F821
    category: Mapped["Category | None"] = relationship()  # noqa: F821
    strand: Mapped["Strand | None"] = relationship()  # noqa: F821


class MatchContribution(Base):
    """Money or help in kind a partner puts in beside a stream's grant: pledged, and what is evidenced."""

    __tablename__ = "match_contributions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The funding year.
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: The funding stream it matches.
    funding_stream_id: Mapped[int] = mapped_column(ForeignKey("funding_streams.id"), index=True)
    #: The partner contributing (a council, the NHS trust, a charity).
    partner: Mapped[str] = mapped_column(String(200))
    #: cash or in_kind.
    kind: Mapped[str] = mapped_column(String(10), default="cash")
    #: What the partner has promised, in pence.
    pledged_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: What is shown by evidence (a letter, an invoice, a timesheet), in pence.
    evidenced_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The document that evidences it (one of the year's documents); deleting the document leaves the money
    #: unevidenced.
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    #: Notes (what the in-kind help is, how it was valued).
    note: Mapped[str] = mapped_column(Text, default="")
    #: When it was recorded.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Counts saves; a save from a form opened at an older version is refused (two people editing at once).
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    funding_year: Mapped["FundingYear"] = relationship()  # noqa: F821
    funding_stream: Mapped["FundingStream"] = relationship()  # noqa: F821
    document: Mapped["Document | None"] = relationship()  # noqa: F821


class Virement(Base):
    """Money moved from one budget line to another in the same year, with the reason and any funder approval."""

    __tablename__ = "virements"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The funding year.
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: The line the money comes from.
    from_line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    #: The line the money goes to.
    to_line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    #: How much, in pence.
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    #: Why, in the finance officer's words.
    reason: Mapped[str] = mapped_column(Text, default="")
    #: The funder's approval reference (required to move money across a ring fence).
    approval_reference: Mapped[str] = mapped_column(String(120), default="")
    #: Who made it.
    made_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When.
    made_at: Mapped[datetime] = mapped_column(default=utcnow)

    from_line: Mapped["BudgetLine"] = relationship(foreign_keys=[from_line_id])  # noqa: F821
    to_line: Mapped["BudgetLine"] = relationship(foreign_keys=[to_line_id])  # noqa: F821
