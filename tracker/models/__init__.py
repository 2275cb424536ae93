"""The data model. Every table's module is imported here so that Alembic and the app see all of them."""
from .audit import AuditEvent, FormUse  # noqa: F401
from .base import Base, utcnow
from .claims import Claim, ClaimSubmission, GrantCondition, MatchContribution, Virement  # noqa: F401
from .commissions import Commission, ContractEvent, FundingShare, Provider, SharePayment, SupplierAlias, Variation
from .funding import Allocation, AllocationRevision, BudgetLine, FundingStream, FundingYear
from .ledger import AccountRule, ColumnMapping, ImportBatch, LedgerTransaction
from .milestones import Milestone
from .monitoring import Document, DocumentVersion, Measure, MeasureActual, Metric, MonitoringReturn, QuarterNarrative  # noqa: F401
from .procurement import PersonalDataDecision, ProcurementNotice, ProcurementThreshold, Publication
from .reference import Category, Setting, Strand
from .returns import ForecastSnapshot, PccReturn
from .users import ADMIN, FINANCE, MANAGER, ROLES, VIEWER, User, UserSession

__all__ = [
    "ADMIN", "FINANCE", "MANAGER", "ROLES", "VIEWER",
    "AccountRule", "Allocation", "AllocationRevision", "AuditEvent", "Base", "BudgetLine", "Category",
    "ColumnMapping", "Commission", "ContractEvent", "ForecastSnapshot", "FundingShare", "FundingStream", "FundingYear", "ImportBatch", "LedgerTransaction",
    "Milestone", "PccReturn", "PersonalDataDecision", "ProcurementNotice", "ProcurementThreshold", "Provider",
    "Publication", "Setting",
    "SharePayment", "Strand", "SupplierAlias", "User", "UserSession", "Variation", "utcnow",
]
