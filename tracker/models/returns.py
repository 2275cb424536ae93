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
    #: When the record was made.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    funding_year: Mapped["FundingYear"] = relationship()  # noqa: F821
    prepared_by: Mapped["User | None"] = relationship(foreign_keys=[prepared_by_id])  # noqa: F821
    issued_by: Mapped["User | None"] = relationship(foreign_keys=[issued_by_id])  # noqa: F821
