"""Actual spend from the finance ledger, and the spreadsheet imports that bring data in."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON, BigInteger, ColumnElement, ForeignKey, Index, String, Text, UniqueConstraint, and_, case, extract, false,
    not_, null, or_, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

TRANSACTION_TYPES = ("invoice", "credit", "journal", "accrual", "reversal")


class ImportBatch(Base):
    """One uploaded spreadsheet and what became of it: preview, commit, withdrawal.

    Unique: the draft it was committed from (``draft_token``, so a draft commits at most once), and the file's
    SHA-256 among batches committing or committed (``uq_import_batches_active_sha256``, so the same file cannot
    land twice, even from two drafts committed at the same moment).
    """

    __tablename__ = "import_batches"
    __table_args__ = (
        Index("uq_import_batches_active_sha256", "sha256", unique=True,
              sqlite_where=text("status IN ('committing', 'committed')"),
              postgresql_where=text("status IN ('committing', 'committed')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What the file is: ledger, commissions or budget.
    kind: Mapped[str] = mapped_column(String(20))
    #: The file's name as uploaded.
    filename: Mapped[str] = mapped_column(String(255))
    #: Where the original file is kept (a generated name under the data folder).
    stored_path: Mapped[str] = mapped_column(String(500), default="")
    #: SHA-256 of the file's bytes, to recognise the same file uploaded twice.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: Size in bytes.
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The sheet the data was read from.
    sheet_name: Mapped[str] = mapped_column(String(100), default="")
    #: The funding year the import is for (budget imports; ledger lines carry their own dates).
    funding_year_id: Mapped[int | None] = mapped_column(ForeignKey("funding_years.id"))
    #: uploaded, previewed, committing, committed, failed or withdrawn.
    status: Mapped[str] = mapped_column(String(12), default="uploaded", index=True)
    #: Which column was used for each field.
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Counts: rows read, added, changed, unchanged, errors, left out.
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Every problem found, located by sheet, row and column.
    problems: Mapped[list] = mapped_column(JSON, default=list)
    #: Rows the user chose to leave out (with their problems), kept for the record.
    excluded_rows: Mapped[list] = mapped_column(JSON, default=list)
    #: What the commit replaced or created, so a withdrawal can put it back: {"updated": [{model, id, before}],
    #: "created": {model: [ids]}} (ledger lines are found by import_batch_id instead).
    undo: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Rows processed so far while committing, for the progress bar.
    progress: Mapped[int] = mapped_column(default=0)
    #: Rows to process in all.
    total_rows: Mapped[int] = mapped_column(default=0)
    #: Why it failed, if it did.
    error: Mapped[str] = mapped_column(Text, default="")
    #: The process writing the rows while it commits ("host:pid"), so an import cut off by a crash or restart
    #: can be recognised afterwards and marked failed.
    worker: Mapped[str] = mapped_column(String(120), default="")
    #: The upload (draft) this batch was committed from: claiming it is what makes a second commit impossible.
    #: Cleared when the commit fails, so the same draft may be tried again.
    draft_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Who uploaded it.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When it was uploaded.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When it was committed.
    committed_at: Mapped[datetime | None]
    #: Who withdrew it, if anyone.
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When it was withdrawn.
    withdrawn_at: Mapped[datetime | None]

    created_by: Mapped["User | None"] = relationship(foreign_keys=[created_by_id])  # noqa: F821
    withdrawn_by: Mapped["User | None"] = relationship(foreign_keys=[withdrawn_by_id])  # noqa: F821


class ColumnMapping(Base):
    """A remembered choice of columns for files with the same headers. Unique: kind and header signature."""

    __tablename__ = "column_mappings"
    __table_args__ = (UniqueConstraint("kind", "header_signature", name="uq_column_mappings_kind_signature"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ledger, commissions or budget.
    kind: Mapped[str] = mapped_column(String(20))
    #: A hash of the file's normalised headers.
    header_signature: Mapped[str] = mapped_column(String(64))
    #: Field name to column header.
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    #: When it was last used or changed.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LedgerTransaction(Base):
    """One line of actual spend from the finance ledger (credits are negative).

    Unique: transaction reference and net amount (``uq_ledger_transactions_reference_net``)."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (
        UniqueConstraint("reference", "net_pence", name="uq_ledger_transactions_reference_net"),
        # Spend per commission is summed on every register and commission page: this index answers it alone.
        # It and the budget line's index hold only lines that have one: a query for a commission's or a line's
        # lines implies it (x = value is never true of a null), and an import's unmatched lines, often most of
        # a council's ledger, cost no index entry.
        # held_reason rides along so a contract's counted spend (held lines left out) is still read from the index.
        Index("ix_ledger_transactions_commission_net", "commission_id", "net_pence", "held_reason",
              sqlite_where=text("commission_id IS NOT NULL"), postgresql_where=text("commission_id IS NOT NULL")),
        Index("ix_ledger_transactions_budget_line_id", "budget_line_id",
              sqlite_where=text("budget_line_id IS NOT NULL"), postgresql_where=text("budget_line_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The ledger's transaction reference (searched through the unique index, which leads with it).
    reference: Mapped[str] = mapped_column(String(60))
    #: The posting (or paid) date.
    posting_date: Mapped[date] = mapped_column(index=True)
    #: The ledger's own period: 1-12 (P1 is April), or a year-end adjustment period 13-16 as the ledger gives it
    #: (counted in its posting month, P12 by default: ``tracker.periods.quarter_of_ledger_line``).
    period: Mapped[int]
    #: The funding year the date falls in.
    funding_year_id: Mapped[int | None] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: The cost centre.
    cost_centre: Mapped[str] = mapped_column(String(40), default="")
    #: The account code.
    account_code: Mapped[str] = mapped_column(String(40), default="")
    #: The account code's description.
    account_description: Mapped[str] = mapped_column(String(200), default="")
    #: The ledger's supplier ID.
    supplier_id: Mapped[str] = mapped_column(String(60), default="", index=True)
    #: The supplier's name as the ledger gives it.
    supplier_name: Mapped[str] = mapped_column(String(200), default="")
    #: The supplier's invoice number.
    invoice_number: Mapped[str] = mapped_column(String(60), default="")
    #: The purchase order number.
    po_number: Mapped[str] = mapped_column(String(40), default="")
    #: What the line is for.
    narrative: Mapped[str] = mapped_column(Text, default="")
    #: Net amount in pence (negative for a credit).
    net_pence: Mapped[int] = mapped_column(BigInteger)
    #: VAT in pence.
    vat_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Gross amount in pence.
    gross_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: invoice, credit, journal, accrual or reversal (an accrual reversal: "Reversal", "Accrual reversal", "Rev").
    transaction_type: Mapped[str] = mapped_column(String(20), default="invoice")
    #: The commission this spend is for, once matched (found through ix_ledger_transactions_commission_net).
    commission_id: Mapped[int | None] = mapped_column(ForeignKey("commissions.id"))
    #: A credit finance expects to be invoiced again (a disputed invoice credited and to be reissued): unlike an
    #: agreed credit, it stays outstanding commitment. Only finance changes it (``tracker.imports.credits``).
    reinvoice: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: How it was matched: po, supplier, manual (empty when unmatched).
    match_method: Mapped[str] = mapped_column(String(10), default="")
    #: The budget line the spend counts against (from its commission, or assigned).
    budget_line_id: Mapped[int | None] = mapped_column(ForeignKey("budget_lines.id"))
    #: Why a line matched to a commission is held, not counted on it until finance confirms the match:
    #: ``not_awarded`` (the contract is in the pipeline, approved or procuring) or ``outside_dates`` (dated before
    #: its start or after its end); empty when it counts. Decided by ``imports.matching.hold_for``.
    held_reason: Mapped[str | None] = mapped_column(String(20))
    #: The import that brought it in.
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"), index=True)
    #: When it was recorded here.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    commission: Mapped["Commission | None"] = relationship()  # noqa: F821
    budget_line: Mapped["BudgetLine | None"] = relationship()  # noqa: F821
    import_batch: Mapped[ImportBatch | None] = relationship()

    @classmethod
    def counts_in_quarter(cls, quarter: int):
        """SQL: the line counts in financial quarter 1-4, by ``tracker.periods.quarter_of_ledger_line``'s rule (its
        period when P1-P12, else its posting month), so a P13 line dated 31 March is in Q4."""
        from tracker.periods import calendar_months_of_quarter

        return or_(cls.period.between(3 * quarter - 2, 3 * quarter),
                   and_(not_(cls.period.between(1, 12)),
                        extract("month", cls.posting_date).in_(calendar_months_of_quarter(quarter))))

    @property
    def counted_commission(self) -> int | None:
        """``counted_commission_id()`` for a line already loaded: its commission, or none while held."""
        return None if self.held_reason is not None else self.commission_id

    @classmethod
    def counted_commission_id(cls):
        """The commission a line's spend counts on, as a SQL expression: its commission, or none while the match
        is held (``held_reason``). Every figure of a contract's spend groups or filters by this."""
        return case((cls.held_reason.is_not(None), null()), else_=cls.commission_id)


def settled_credit() -> ColumnElement[bool]:
    """The one definition of a settled credit, as a SQL condition on ``ledger_transactions``: a credit line
    (negative, typed credit) that finance has not marked "to be re-invoiced". It reduces what was paid and does
    not come back as outstanding commitment or forecast future spend; a credit to be re-invoiced does."""
    return and_(LedgerTransaction.net_pence < 0, LedgerTransaction.transaction_type == "credit",
                LedgerTransaction.reinvoice.is_(False))


def is_settled_credit(line: LedgerTransaction) -> bool:
    """``settled_credit()`` for a line already loaded (the same three tests)."""
    return line.net_pence < 0 and line.transaction_type == "credit" and not line.reinvoice


def can_be_reinvoiced(line: LedgerTransaction) -> bool:
    """Only a credit (a negative line typed credit) can be marked to be re-invoiced."""
    return line.net_pence < 0 and line.transaction_type == "credit"


class AccountRule(Base):
    """An account code whose spend is not a commission (salaries, venue hire, evaluation): its ledger lines in
    the rule's funding year go straight to a budget line."""

    __tablename__ = "account_rules"
    __table_args__ = (UniqueConstraint("account_code", "funding_year_id",
                                       name="uq_account_rules_account_code_funding_year_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The ledger's account code, without case or surrounding spaces (``5010``, ``SAL-01``).
    account_code: Mapped[str] = mapped_column(String(40))
    #: The funding year the rule applies to (the budget line's year).
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: Where the account's lines go.
    budget_line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    #: Who made the rule.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When the rule was made.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    budget_line: Mapped["BudgetLine"] = relationship()  # noqa: F821
    funding_year: Mapped["FundingYear"] = relationship()  # noqa: F821
