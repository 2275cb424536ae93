"""The audit trail: who changed what, when, and the values before and after. Written, never edited."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow


class AuditRealm(StrEnum):
    """The area of the app an event belongs to (Indico's log realms). ``audit.record`` refuses any other."""

    ADMIN = "admin"
    AUTH = "auth"
    CLAIMS = "claims"
    COMMISSIONS = "commissions"
    FUNDING = "funding"
    IMPORTS = "imports"
    MILESTONES = "milestones"
    MONITORING = "monitoring"
    PROCUREMENT = "procurement"
    RETURNS = "returns"


class AuditKind(StrEnum):
    """What kind of event it is (Indico's log kinds). ``audit.record`` refuses any other."""

    CREATE = "create"
    CHANGE = "change"
    DELETE = "delete"
    POSITIVE = "positive"  # a good thing that changes no record, e.g. an account enabled
    NEGATIVE = "negative"  # a refusal or a bad thing, e.g. an account disabled


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: When it happened (UTC).
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: Who did it (None for the system or the command line).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: The area: one of ``AuditRealm`` (funding, commissions, milestones, monitoring, procurement, imports, returns, admin, auth).
    realm: Mapped[str] = mapped_column(String(20))
    #: One of ``AuditKind``: create, change, delete, or positive/negative for events such as a refused action.
    kind: Mapped[str] = mapped_column(String(10))
    #: The kind of record, e.g. ``Commission``.
    object_type: Mapped[str] = mapped_column(String(40), index=True)
    #: The record's id.
    object_id: Mapped[int | None] = mapped_column(index=True)
    #: One line saying what happened.
    summary: Mapped[str] = mapped_column(Text)
    #: Changed fields before the change.
    before: Mapped[dict | None] = mapped_column(JSON)
    #: Changed fields after the change.
    after: Mapped[dict | None] = mapped_column(JSON)

    user: Mapped["User | None"] = relationship()  # noqa: F821


class FormUse(Base):
    """A create form's one-time token, kept once the form has made its record: a second POST of the same form (a
    double click, a resend) is answered with the record the first made instead of making another."""

    __tablename__ = "form_uses"

    #: The token the form carried (random, made when the form was shown).
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The kind of record the form made, e.g. ``Virement``.
    object_type: Mapped[str] = mapped_column(String(40))
    #: The record's id (None for the moment between taking the token and making the record).
    object_id: Mapped[int | None]
    #: Who sent the form.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: When it was used (UTC).
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
