"""Quarterly returns to the PCC: drafts and the issued, frozen versions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow


class PccReturn(Base):
    """One version of the quarterly return for a funding year and quarter.

    Unique: funding year, quarter and version."""

    __tablename__ = "pcc_returns"
    __table_args__ = (
        UniqueConstraint("funding_year_id", "quarter", "version", name="uq_pcc_returns_year_quarter_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The funding year.
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: The quarter, 1-4.
    quarter: Mapped[int]
    #: Version number: 1 for the first issue, then 2, 3 ... for corrections.
    version: Mapped[int] = mapped_column(default=1)
    #: draft (being prepared) or issued (frozen).
    status: Mapped[str] = mapped_column(String(10), default="draft")
    #: The narrative on risks and underspend.
    narrative: Mapped[str] = mapped_column(Text, default="")
    #: Where the issued workbook's exact bytes are kept.
    stored_path: Mapped[str] = mapped_column(String(500), default="")
    #: SHA-256 of the issued workbook.
    sha256: Mapped[str] = mapped_column(String(64), default="")
    #: Size of the issued workbook in bytes.
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Who prepared it.
    prepared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Who issued it.
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When it was issued.
    issued_at: Mapped[datetime | None]
    #: Why a corrected version (2, 3 ...) was issued; shown on its Cover and in the list of returns.
    correction_reason: Mapped[str] = mapped_column(Text, default="")
    #: The return's cover, tables and notes as issued (JSON): the on-screen view reads this, never live data.
    frozen: Mapped[str] = mapped_column(Text, default="")
    #: When the record was made.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    funding_year: Mapped["FundingYear"] = relationship()  # noqa: F821
    prepared_by: Mapped["User | None"] = relationship(foreign_keys=[prepared_by_id])  # noqa: F821
    issued_by: Mapped["User | None"] = relationship(foreign_keys=[issued_by_id])  # noqa: F821


class ForecastSnapshot(Base):
    """A budget line's or stream's figures as stated in an issued return ("what we said last quarter")."""

    __tablename__ = "forecast_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The issued return that stated these figures.
    pcc_return_id: Mapped[int] = mapped_column(ForeignKey("pcc_returns.id", ondelete="CASCADE"), index=True)
    #: line, stream or not_on_a_line (spend and shares not yet put on a budget line).
    kind: Mapped[str] = mapped_column(String(16))
    #: The budget line (kind line) or funding stream (kind stream); none for not_on_a_line.
    budget_line_id: Mapped[int | None] = mapped_column(ForeignKey("budget_lines.id", ondelete="SET NULL"))
    #: The funding stream (kind stream).
    funding_stream_id: Mapped[int | None] = mapped_column(ForeignKey("funding_streams.id", ondelete="SET NULL"))
    #: The row's name as printed.
    name: Mapped[str] = mapped_column(String(200), default="")
    #: Q1-Q4 profile, in pence, as at that return.
    profile_q1_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Q2 profile.
    profile_q2_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Q3 profile.
    profile_q3_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Q4 profile.
    profile_q4_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Actual to date, committed, forecast outturn and variance, in pence, as at that return's quarter end.
    actual_to_date_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Committed as at that return.
    committed_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Forecast outturn as stated in that return.
    forecast_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Variance as stated in that return.
    variance_pence: Mapped[int] = mapped_column(BigInteger, default=0)

    pcc_return: Mapped[PccReturn] = relationship()

    @property
    def profile(self) -> list[int]:
        return [self.profile_q1_pence, self.profile_q2_pence, self.profile_q3_pence, self.profile_q4_pence]
