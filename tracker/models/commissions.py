"""Providers, commissions (commissioned services) and their variations."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

# The lifecycle, in order; ended and terminated are both final.
COMMISSION_STATUSES = ("pipeline", "approved", "procuring", "awarded", "live", "ended", "terminated")
COMMISSION_TYPES = ("contract", "grant")
PROCUREMENT_ROUTES = (
    "Direct award",
    "Quotation",
    "Open tender",
    "Framework call-off",
    "Light-touch",
    "Grant",
)
END_DECISIONS = ("extend", "re-procure", "let end")
#: A contract event is a change of status (its kind is the new status) or a variation.
VARIED = "varied"
CONTRACT_EVENT_KINDS = (*COMMISSION_STATUSES, VARIED)


class Provider(Base):
    """An organisation that delivers commissioned services. Unique: its name."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The organisation's name.
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: Registered charity number, if a charity.
    charity_number: Mapped[str] = mapped_column(String(20), default="")
    #: Companies House number, if a company or CIC.
    company_number: Mapped[str] = mapped_column(String(20), default="")
    #: Voluntary, community or social enterprise.
    vcse: Mapped[bool] = mapped_column(default=False)
    #: Small or medium-sized enterprise.
    sme: Mapped[bool] = mapped_column(default=False)
    #: A supported employment provider (Procurement Act supplier type).
    supported_employment: Mapped[bool] = mapped_column(default=False)
    #: A public service mutual (Procurement Act supplier type).
    public_service_mutual: Mapped[bool] = mapped_column(default=False)
    #: An individual or sole trader: their name is redacted in published spend and contract files.
    individual: Mapped[bool] = mapped_column(default=False)
    #: Free notes (contact, address, safeguarding lead).
    notes: Mapped[str] = mapped_column(Text, default="")
    #: When the provider was added.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Counts saves; a save from a form opened at an older version is refused (two people editing at once).
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    commissions: Mapped[list["Commission"]] = relationship(back_populates="provider")
    supplier_aliases: Mapped[list["SupplierAlias"]] = relationship(back_populates="provider")


class SupplierAlias(Base):
    """A supplier ID or name in the finance ledger known to be this provider (for matching ledger lines).

    Unique: kind and value (one provider per supplier ID or normalised name)."""

    __tablename__ = "supplier_aliases"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_supplier_aliases_kind_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The provider the ledger supplier is.
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    #: ``supplier_id`` (the ledger's supplier code) or ``supplier_name`` (a normalised name).
    kind: Mapped[str] = mapped_column(String(20))
    #: The supplier code, or the name normalised (lower case, no spaces, no "Ltd"/"Limited").
    value: Mapped[str] = mapped_column(String(200))
    #: The commission to put this supplier's unmatched lines against, when a person chose one.
    commission_id: Mapped[int | None] = mapped_column(ForeignKey("commissions.id"))

    provider: Mapped[Provider] = relationship(back_populates="supplier_aliases")
    commission: Mapped["Commission | None"] = relationship()


class Commission(Base):
    """One service bought from one provider: a contract or a grant. It is the legal contract (provider, dates,
    lifetime value, procurement facts, variations); its money is held as funding shares, a year and a budget
    line each. Unique: its reference."""

    __tablename__ = "commissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Our reference, e.g. ``VRU-25-014``; unique.
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    #: The service's name.
    title: Mapped[str] = mapped_column(String(200))
    #: What the service does and for whom.
    description: Mapped[str] = mapped_column(Text, default="")
    #: Who delivers it.
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    #: The strand it serves.
    strand_id: Mapped[int] = mapped_column(ForeignKey("strands.id"), index=True)
    #: The funding year the contract was let in (its first year); its money by year is in ``funding_shares``.
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: How it was bought: direct award, quotation, open tender, framework call-off, light-touch, grant.
    procurement_route: Mapped[str] = mapped_column(String(40), default="Direct award")
    #: Whether the award was competed.
    competed: Mapped[bool] = mapped_column(default=False)
    #: contract or grant (a pure grant is outside the Procurement Act: no notices).
    commission_type: Mapped[str] = mapped_column(String(10), default="contract")
    #: Light-touch services (social, health, education): their own, higher Procurement Act threshold.
    light_touch: Mapped[bool] = mapped_column(default=False)
    #: The day the procurement started: decides which threshold applies (None: not recorded, the start date is used).
    procurement_started_on: Mapped[date | None]
    #: The day the contract was entered into (signed); None: the start date is used.
    contract_entered_on: Mapped[date | None]
    #: The estimated value including VAT when procurement started, in pence (None: the value is used).
    value_incl_vat_pence: Mapped[int | None] = mapped_column(BigInteger)
    #: The Central Digital Platform's procurement identifier (e.g. ``ocds-h6vhtk-04f1a2``).
    cdp_procurement_id: Mapped[str] = mapped_column(String(60), default="")
    #: The Central Digital Platform's contract identifier.
    cdp_contract_id: Mapped[str] = mapped_column(String(60), default="")
    #: Why it was awarded to this provider: the value-for-money reason in the spend file, a grant's reasons.
    award_reason: Mapped[str] = mapped_column(Text, default="")
    #: A grant's conditions (published with the crime and disorder reduction grants).
    grant_conditions: Mapped[str] = mapped_column(Text, default="")
    #: The contract's value over its whole life, in pence (its funding shares add up to it).
    value_pence: Mapped[int] = mapped_column(BigInteger)
    #: First day of delivery.
    start_date: Mapped[date]
    #: Last day of delivery.
    end_date: Mapped[date] = mapped_column(index=True)
    #: When the service is next reviewed, if set.
    review_date: Mapped[date | None]
    #: Extension options in the contract (e.g. "1 + 1 years").
    extension_options: Mapped[str] = mapped_column(String(200), default="")
    #: pipeline, approved, procuring, awarded, live, ended or terminated.
    status: Mapped[str] = mapped_column(String(12), default="pipeline", index=True)
    #: What was decided about the end: extend, re-procure or let end (None while undecided).
    end_decision: Mapped[str | None] = mapped_column(String(20))
    #: The PCC decision that approved it, e.g. ``PCC/D/2025/014``.
    pcc_decision_ref: Mapped[str] = mapped_column(String(40), default="")
    #: The purchase order number finance raised (links ledger lines to it).
    po_number: Mapped[str] = mapped_column(String(40), default="", index=True)
    #: Who manages the contract day to day.
    contract_manager: Mapped[str] = mapped_column(String(120), default="")
    #: Counts saves; a save based on an older version is refused (two people editing at once).
    version: Mapped[int] = mapped_column(default=1)
    #: When the record was made.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When it last changed.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    provider: Mapped[Provider] = relationship(back_populates="commissions")
    strand: Mapped["Strand"] = relationship()  # noqa: F821
    funding_year: Mapped["FundingYear"] = relationship()  # noqa: F821
    funding_shares: Mapped[list["FundingShare"]] = relationship(
        back_populates="commission", order_by="(FundingShare.year_label, FundingShare.id)",
        cascade="all, delete-orphan")
    variations: Mapped[list["Variation"]] = relationship(
        back_populates="commission", order_by="Variation.variation_date"
    )
    events: Mapped[list["ContractEvent"]] = relationship(
        back_populates="commission",
        order_by="(ContractEvent.effective_date, ContractEvent.recorded_at, ContractEvent.id)", cascade="all, delete-orphan")

    @property
    def stream_names(self) -> list[str]:
        """The funding streams its shares come from, in order of the money (load ``funding_shares``)."""
        money: dict[str, int] = {}
        for s in self.funding_shares:
            if s.funding_stream is not None:
                money[s.funding_stream.name] = money.get(s.funding_stream.name, 0) + s.amount_pence
        return sorted(money, key=lambda name: (-money[name], name))


class Variation(Base):
    """A recorded change to a commission: an extension, a change in value, or both."""

    __tablename__ = "variations"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The commission varied.
    commission_id: Mapped[int] = mapped_column(ForeignKey("commissions.id"), index=True)
    #: The date the variation was agreed.
    variation_date: Mapped[date]
    #: Why.
    reason: Mapped[str] = mapped_column(Text)
    #: Change in value, in pence (negative for a reduction).
    value_change_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The end date before the variation, when it changed the end date.
    previous_end_date: Mapped[date | None]
    #: The new end date, when it changed the end date.
    new_end_date: Mapped[date | None]
    #: Who recorded it.
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When it was recorded.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    commission: Mapped[Commission] = relationship(back_populates="variations")


class ContractEvent(Base):
    """One step in a contract's life, with the date it takes effect: a change of status (awarded, live, ended,
    terminated, ...) or a variation. Figures "as at a quarter end" read the effective date, not when it was typed.

    The first event of a contract records the status it was entered with (``from_status`` None): it is where the
    history starts, not a change, so it says nothing about earlier quarters."""

    __tablename__ = "contract_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The contract.
    commission_id: Mapped[int] = mapped_column(ForeignKey("commissions.id"), index=True)
    #: The status it moved to (one of the statuses), or ``varied`` for a variation.
    kind: Mapped[str] = mapped_column(String(12))
    #: The status it moved from; None for the status a contract was entered with, and for a variation.
    from_status: Mapped[str | None] = mapped_column(String(12))
    #: The day it takes effect (a termination's effective date, a variation's date agreed).
    effective_date: Mapped[date]
    #: Who recorded it (None for the system, the command line, or history from before events were kept).
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When it was recorded.
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Why, in the users' words (a variation's reason, a termination's note).
    note: Mapped[str] = mapped_column(Text, default="")
    #: The variation it records, for a variation.
    variation_id: Mapped[int | None] = mapped_column(ForeignKey("variations.id"))
    #: A variation's value before it, in pence.
    value_before_pence: Mapped[int | None] = mapped_column(BigInteger)
    #: A variation's value after it, in pence.
    value_after_pence: Mapped[int | None] = mapped_column(BigInteger)
    #: A variation's end date before it, when it moved the end.
    end_date_before: Mapped[date | None]
    #: A variation's new end date, when it moved the end.
    end_date_after: Mapped[date | None]

    commission: Mapped[Commission] = relationship(back_populates="events")
    recorded_by: Mapped["User | None"] = relationship()  # noqa: F821

    @property
    def is_status_change(self) -> bool:
        """A change from one status to another (not the status entered with, not a variation)."""
        return self.kind != VARIED and self.from_status is not None


class FundingShare(Base):
    """The part of a contract's value paid from one budget line in one funding year.

    A contract has one share per year and line it is paid from: several in a year when it is split across
    streams, and one or more in each year it spans. A share for a year that is not set up yet has no
    ``funding_year_id``: it waits, shown as "not yet funded", and attaches when the year is created.
    Natural key: commission, year label and budget line (checked by the service, since the line may be empty).
    """

    __tablename__ = "funding_shares"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The contract it funds.
    commission_id: Mapped[int] = mapped_column(ForeignKey("commissions.id"), index=True)
    #: The funding year it belongs to, by name (e.g. ``2026-27``), kept while that year is not set up.
    year_label: Mapped[str] = mapped_column(String(7), index=True)
    #: The funding year, once it exists (None: "not yet funded").
    funding_year_id: Mapped[int | None] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: The funding stream it is meant to come from (kept so a waiting share attaches to the right line).
    funding_stream_id: Mapped[int | None] = mapped_column(ForeignKey("funding_streams.id"))
    #: The budget line it is paid from (None: not on a budget line yet).
    budget_line_id: Mapped[int | None] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    #: The amount, in pence.
    amount_pence: Mapped[int] = mapped_column(BigInteger)

    commission: Mapped[Commission] = relationship(back_populates="funding_shares")
    payments: Mapped[list["SharePayment"]] = relationship(
        back_populates="share", order_by="SharePayment.due_date", cascade="all, delete-orphan")
    funding_year: Mapped["FundingYear | None"] = relationship()  # noqa: F821
    funding_stream: Mapped["FundingStream | None"] = relationship()  # noqa: F821
    budget_line: Mapped["BudgetLine | None"] = relationship()  # noqa: F821

    @property
    def waiting(self) -> bool:
        """True while the share's funding year is not set up yet ("not yet funded")."""
        return self.funding_year_id is None


class SharePayment(Base):
    """One payment due on a funding share (its payment schedule, optional). Natural key: share and due date."""

    __tablename__ = "share_payments"
    __table_args__ = (UniqueConstraint("funding_share_id", "due_date", name="uq_share_payments_share_due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The funding share it is paid from.
    funding_share_id: Mapped[int] = mapped_column(ForeignKey("funding_shares.id"), index=True)
    #: When the payment falls due.
    due_date: Mapped[date]
    #: How much, in pence.
    amount_pence: Mapped[int] = mapped_column(BigInteger)

    share: Mapped[FundingShare] = relationship(back_populates="payments")
