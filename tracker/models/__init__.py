"""The data model. Every table's module is imported here so that Alembic and the app see all of them."""
from .audit import AuditEvent
from .base import Base, utcnow
from .commissions import Commission, FundingShare, Provider, SupplierAlias, Variation
from .funding import Allocation, AllocationRevision, BudgetLine, FundingStream, FundingYear
from .ledger import ColumnMapping, ImportBatch, LedgerTransaction
from .milestones import Milestone
from .monitoring import Document, DocumentVersion, Measure, MeasureActual, Metric, MonitoringReturn, QuarterNarrative  # noqa: F401
from .reference import Category, Setting, Strand
from .returns import ForecastSnapshot, PccReturn
from .users import ADMIN, FINANCE, MANAGER, ROLES, VIEWER, User

__all__ = [
    "ADMIN", "FINANCE", "MANAGER", "ROLES", "VIEWER",
    "Allocation", "AllocationRevision", "AuditEvent", "Base", "BudgetLine", "Category", "ColumnMapping",
    "Commission", "FundingShare", "FundingStream", "FundingYear", "ImportBatch", "LedgerTransaction", "Milestone", "PccReturn", "ForecastSnapshot",
    "Provider", "Setting", "Strand", "SupplierAlias", "User", "Variation", "utcnow",
]
