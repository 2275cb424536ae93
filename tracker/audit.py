"""Recording the audit trail. Call ``record`` inside the same transaction as the change it describes."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable

from flask import has_request_context
from flask_login import current_user

from tracker.extensions import db
from tracker.models import AuditEvent


def _plain(value: Any) -> Any:
    """JSON-safe form of a column value (dates as ISO text, Decimals as text)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(obj, fields: Iterable[str]) -> dict[str, Any]:
    """The named attributes of a record, ready to store as before/after."""
    return {f: _plain(getattr(obj, f)) for f in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the fields that changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def acting_user_id() -> int | None:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id
    return None


def record(realm: str, kind: str, obj, summary: str, before: dict | None = None, after: dict | None = None,
           user_id: int | None = None) -> AuditEvent:
    """Add an audit event for ``obj`` (a model instance, flushed so it has an id) to the session."""
    if obj is not None and getattr(obj, "id", None) is None:
        db.session.flush()
    event = AuditEvent(
        realm=realm,
        kind=kind,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=getattr(obj, "id", None) if obj is not None else None,
        summary=summary,
        before=before,
        after=after,
        user_id=user_id if user_id is not None else acting_user_id(),
    )
    db.session.add(event)
    return event


def history(obj) -> list[AuditEvent]:
    """Every audit event about one record, newest first."""
    return list(
        db.session.scalars(
            db.select(AuditEvent)
            .where(AuditEvent.object_type == type(obj).__name__, AuditEvent.object_id == obj.id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        )
    )
