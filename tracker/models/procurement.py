"""Procurement Act 2023: the thresholds (dated reference data) and the notices owed for each contract."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

#: The kinds of threshold: sub-central authority services, and light-touch (social, health, education) services.
THRESHOLD_CATEGORIES = ("services", "light-touch")


class ProcurementThreshold(Base):
    """A Procurement Act threshold (VAT inclusive) from a date: the one in force when a procurement started decides
    whether the contract is a public contract. An admin adds a row when the thresholds are revised."""

    __tablename__ = "procurement_thresholds"
    __table_args__ = (UniqueConstraint("category", "applies_from", name="uq_procurement_thresholds_category_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: services (sub-central authority services) or light-touch.
    category: Mapped[str] = mapped_column(String(20))
    #: The threshold including VAT, in pence.
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    #: The first procurement start date it applies to.
    applies_from: Mapped[date]
    #: Where the figure comes from (e.g. the regulations that set it).
    source: Mapped[str] = mapped_column(String(200), default="")
    #: When it was added.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcurementNotice(Base):
    """A notice the Procurement Act asks us to publish on the Central Digital Platform, with its deadline.

    Made by ``tracker.procurement.notices`` from the commission (and its variations); the deadline on the
    Deadlines page has the same ``source_key``. Once published (date and link recorded) it is kept even if
    its source changes."""

    __tablename__ = "procurement_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The contract it is about (None for the authority's payments compliance notice).
    commission_id: Mapped[int | None] = mapped_column(ForeignKey("commissions.id"), index=True)
    #: The variation a contract change notice is about.
    variation_id: Mapped[int | None] = mapped_column(ForeignKey("variations.id"), index=True)
    #: What notice: contract-details, contract-details-light-touch, below-threshold-details, contract-change,
    #: contract-termination, kpi-assessment, payments-compliance, payments-over-30k.
    kind: Mapped[str] = mapped_column(String(40))
    #: What made it, e.g. ``commission:4:notice:termination``; the same key as its deadline.
    source_key: Mapped[str] = mapped_column(String(80), unique=True)
    #: The last day of the period a periodic notice covers (payments, KPI assessment); None otherwise.
    period_end: Mapped[date | None]
    #: The last day to publish it.
    due_date: Mapped[date] = mapped_column(index=True)
    #: The day it was published on the Central Digital Platform (None while not yet published).
    published_on: Mapped[date | None]
    #: Where it was published (the notice's address on the Central Digital Platform).
    link: Mapped[str] = mapped_column(String(500), default="")
    #: When it was made.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When it last changed.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    commission: Mapped["Commission | None"] = relationship()  # noqa: F821
    variation: Mapped["Variation | None"] = relationship()  # noqa: F821


class Publication(Base):
    """One issued version of a transparency file for a period (spend over £500, contract register, grants):
    its exact bytes are kept, so every download is the same file; a correction is the next version."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("kind", "period", "version", name="uq_publications_kind_period_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What file: spend-monthly, spend-quarterly, contract-register, pcc-contracts, cdr-grants or grants-360.
    kind: Mapped[str] = mapped_column(String(30))
    #: The period it covers, as in its address: ``2025-05`` (a month), ``2025-26-q1`` (a quarter), ``2025-26`` (a year).
    period: Mapped[str] = mapped_column(String(12))
    #: Version number: 1 for the first issue, then 2, 3 ... for corrections.
    version: Mapped[int] = mapped_column(default=1)
    #: How many rows the file has.
    row_count: Mapped[int] = mapped_column(default=0)
    #: What the correction put right (empty for the first version).
    correction_note: Mapped[str] = mapped_column(Text, default="")
    #: Where the issued file's exact bytes are kept (relative to DATA_DIR).
    stored_path: Mapped[str] = mapped_column(String(500), default="")
    #: SHA-256 of the issued file.
    sha256: Mapped[str] = mapped_column(String(64), default="")
    #: Size of the issued file in bytes.
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Who issued it.
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When it was issued.
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The day it was published on the website (None while not yet published).
    published_on: Mapped[date | None]
    #: Where it was published (the web address).
    published_where: Mapped[str] = mapped_column(String(500), default="")

    issued_by: Mapped["User | None"] = relationship()  # noqa: F821


class PersonalDataDecision(Base):
    """Finance's decision on a ledger line a public spend file may name a person by (a doubtful one: a supplier
    name like a person's, a phone number, an email address or a postcode in its text): redact it, or let it
    through with a reason. Kept, so every later version of the file keeps it; it holds only while the line's
    doubts are the ones it was made on (``tracker.procurement.personal_data``)."""

    __tablename__ = "personal_data_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The ledger line decided on (its decision goes with it when an import is withdrawn).
    ledger_transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id", ondelete="CASCADE"),
                                                       unique=True)
    #: True: let through (published as in the ledger); False: redacted.
    publish: Mapped[bool] = mapped_column(default=False)
    #: Why it may be published (required when let through).
    reason: Mapped[str] = mapped_column(Text, default="")
    #: The doubts it was decided on, as the review list showed them.
    findings: Mapped[str] = mapped_column(String(1000), default="")
    #: Who decided.
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When.
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    decided_by: Mapped["User | None"] = relationship()  # noqa: F821
