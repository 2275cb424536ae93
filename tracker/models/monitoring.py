"""Delivery monitoring: the metrics an admin keeps, each commission's measures (targets) and quarterly actuals,
the provider's narrative per quarter, uploaded monitoring returns, and documents attached to records."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

DOCUMENT_KINDS = ("grant agreement", "contract", "variation", "evidence", "other")
# What a document can be attached to: the URL word and the column that holds the link.
DOCUMENT_OWNERS = ("commission", "provider", "milestone", "funding_year")


class Metric(Base):
    """Something delivery is counted in: referrals received, CYP engaged, sessions delivered ... (reference data).

    Unique: its name, and its code when it has one."""

    __tablename__ = "metrics"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The metric's name as providers and the Home Office use it, e.g. "CYP engaged".
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: A fixed code for the standard metrics the app reports on (e.g. ``cyp_engaged``); None for custom ones.
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    #: The unit a new measure of this metric is counted in, e.g. "people", "sessions", "hours".
    unit: Mapped[str] = mapped_column(String(40), default="")
    #: What counts, in a sentence (shown to providers on the monitoring workbook).
    description: Mapped[str] = mapped_column(Text, default="")
    #: True when "copy from the standard template" adds this metric to a commission.
    in_template: Mapped[bool] = mapped_column(default=False)
    #: Position in lists and workbooks.
    sort_order: Mapped[int] = mapped_column(default=0)
    #: False hides it from choices for new measures; existing measures keep it.
    active: Mapped[bool] = mapped_column(default=True)


class Measure(Base):
    """One metric a commission reports on in one funding year, with its targets for each quarter and the year.
    Its actuals are quarters of that year. A contract that spans years has a measure per year it reports in.

    Unique: one measure per commission, funding year and metric."""

    __tablename__ = "measures"
    __table_args__ = (UniqueConstraint("commission_id", "funding_year_id", "metric_id",
                                       name="uq_measures_commission_year_metric"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The commission that delivers it.
    commission_id: Mapped[int] = mapped_column(ForeignKey("commissions.id"), index=True)
    #: The funding year its targets and actuals belong to (one the contract has a share or delivery dates in).
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: What is counted.
    metric_id: Mapped[int] = mapped_column(ForeignKey("metrics.id"), index=True)
    #: The unit it is counted in for this commission (defaults to the metric's unit).
    unit: Mapped[str] = mapped_column(String(40), default="")
    #: Target for Q1 (Apr-Jun).
    target_q1: Mapped[int] = mapped_column(default=0)
    #: Target for Q2 (Jul-Sep).
    target_q2: Mapped[int] = mapped_column(default=0)
    #: Target for Q3 (Oct-Dec).
    target_q3: Mapped[int] = mapped_column(default=0)
    #: Target for Q4 (Jan-Mar).
    target_q4: Mapped[int] = mapped_column(default=0)
    #: Target for the whole year (may differ from the sum of quarters when people are counted once a year).
    target_year: Mapped[int] = mapped_column(default=0)
    #: When the measure was added.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Counts saves; a save from a form opened at an older version is refused (two people editing at once).
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    commission: Mapped["Commission"] = relationship()  # noqa: F821
    funding_year: Mapped["FundingYear"] = relationship()  # noqa: F821
    metric: Mapped[Metric] = relationship()
    actuals: Mapped[list["MeasureActual"]] = relationship(
        back_populates="measure", cascade="all, delete-orphan", order_by="MeasureActual.quarter"
    )

    def target(self, quarter: int) -> int:
        return getattr(self, f"target_q{quarter}")

    @property
    def targets(self) -> list[int]:
        return [self.target_q1, self.target_q2, self.target_q3, self.target_q4]


class MeasureActual(Base):
    """What a commission delivered against one measure in one quarter of the measure's funding year.

    Unique: measure and quarter."""

    __tablename__ = "measure_actuals"
    __table_args__ = (
        UniqueConstraint("measure_id", "quarter", name="uq_measure_actuals_measure_quarter"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter_1_to_4"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The measure.
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id"), index=True)
    #: Financial quarter 1-4 of the measure's funding year.
    quarter: Mapped[int]
    #: The number delivered.
    value: Mapped[int]
    #: Who recorded it (typed in, or uploaded the provider's workbook).
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When it was recorded or last changed.
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The uploaded monitoring return it came from, if it was not typed in.
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"), index=True)

    measure: Mapped[Measure] = relationship(back_populates="actuals")
    recorded_by: Mapped["User | None"] = relationship()  # noqa: F821


class QuarterNarrative(Base):
    """The provider's short account of a quarter's delivery: what went well, what did not, and why.

    Unique: commission, funding year and quarter."""

    __tablename__ = "quarter_narratives"
    __table_args__ = (UniqueConstraint("commission_id", "funding_year_id", "quarter",
                                       name="uq_quarter_narratives_commission_year_quarter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The commission.
    commission_id: Mapped[int] = mapped_column(ForeignKey("commissions.id"), index=True)
    #: The funding year whose quarter it describes.
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: Financial quarter 1-4 of that year.
    quarter: Mapped[int]
    #: The narrative.
    text: Mapped[str] = mapped_column(Text, default="")
    #: Who recorded it.
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When it was recorded or last changed.
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The uploaded monitoring return it came from, if any.
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))

    recorded_by: Mapped["User | None"] = relationship()  # noqa: F821
    funding_year: Mapped["FundingYear"] = relationship()  # noqa: F821


class MonitoringReturn(Base):
    """A provider's monitoring workbook uploaded for one commission and quarter (the file's record is its
    import batch): the values read from it, and what they replaced so a withdrawal can put them back.

    Unique: its import batch (one return per upload; the batch's status moves previewed -> committed once)."""

    __tablename__ = "monitoring_returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The import batch (file, status, who and when, problems) this upload is.
    import_batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"), unique=True)
    #: The commission the workbook is for.
    commission_id: Mapped[int] = mapped_column(ForeignKey("commissions.id"), index=True)
    #: The funding year it reports on.
    funding_year_id: Mapped[int] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: The quarter 1-4 of that year it reports.
    quarter: Mapped[int]
    #: What was read: {"actuals": {measure id: value}, "narrative": text}.
    values: Mapped[dict] = mapped_column(JSON, default=dict)
    #: What the commit replaced: {"actuals": {measure id: value or None}, "narrative": text or None}.
    previous: Mapped[dict] = mapped_column(JSON, default=dict)

    import_batch: Mapped["ImportBatch"] = relationship()  # noqa: F821
    commission: Mapped["Commission"] = relationship()  # noqa: F821
    funding_year: Mapped["FundingYear"] = relationship()  # noqa: F821


class Document(Base):
    """A document kept against a commission, provider, milestone or funding year; its file is its latest version."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: grant agreement, contract, variation, evidence or other.
    kind: Mapped[str] = mapped_column(String(20))
    #: A short title, e.g. "Grant agreement 2025-26 (signed)".
    title: Mapped[str] = mapped_column(String(200))
    #: The commission it belongs to, if any.
    commission_id: Mapped[int | None] = mapped_column(ForeignKey("commissions.id"), index=True)
    #: The provider it belongs to, if any.
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    #: The milestone it is evidence for, if any.
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("milestones.id"), index=True)
    #: The funding year it belongs to, if any.
    funding_year_id: Mapped[int | None] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: Who added it.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When it was added.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list["DocumentVersion"]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="DocumentVersion.number.desc()"
    )
    created_by: Mapped["User | None"] = relationship()  # noqa: F821

    @property
    def latest(self) -> "DocumentVersion | None":
        return self.versions[0] if self.versions else None


class DocumentVersion(Base):
    """One uploaded file of a document; a new version keeps the earlier ones.

    Unique: document and version number; the stored name."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_document_versions_document_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The document.
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    #: 1 for the first upload, then 2, 3 ...
    number: Mapped[int] = mapped_column(default=1)
    #: The file's name as uploaded (used, made safe, when it is downloaded).
    original_name: Mapped[str] = mapped_column(String(255))
    #: The generated name it is kept under in the data folder (never the uploaded name).
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    #: Size in bytes.
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    #: The content type found by reading the file (not the one the browser claimed).
    content_type: Mapped[str] = mapped_column(String(120))
    #: SHA-256 of the file's bytes.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: Who uploaded it.
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When it was uploaded.
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    document: Mapped[Document] = relationship(back_populates="versions")
    uploaded_by: Mapped["User | None"] = relationship()  # noqa: F821
