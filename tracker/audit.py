"""Recording the audit trail. Call ``record`` inside the same transaction as the change it describes."""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from decimal import Decimal
from typing import Any, Iterable

from flask import has_request_context
from flask_login import current_user

from tracker.extensions import db
from tracker.models import AuditEvent
from tracker.models.audit import AuditKind, AuditRealm


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


def update(realm: str, obj, fields: Iterable[str], summary: str, **values) -> dict:
    """Set ``values`` on ``obj`` and, if any of ``fields`` changed, record one "change" event with only the
    changed fields before and after. Returns the changed fields' new values (empty when nothing changed)."""
    before = snapshot(obj, fields)
    for key, value in values.items():
        setattr(obj, key, value)
    old, new = diff(before, snapshot(obj, fields))
    if new:
        record(realm, "change", obj, summary, old, new)
    return new


def acting_user_id() -> int | None:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id
    return None


def record(realm: str, kind: str, obj, summary: str, before: dict | None = None, after: dict | None = None,
           user_id: int | None = None) -> AuditEvent:
    """Add an audit event for ``obj`` (a model instance, flushed so it has an id) to the session.

    ``realm`` and ``kind`` must be members (or values) of ``AuditRealm`` and ``AuditKind``: a misspelt one
    would file the event where no filter finds it, so it raises ValueError instead."""
    realm, kind = AuditRealm(realm).value, AuditKind(kind).value
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
    """Every audit event about one record, newest first, with who made each and its changes made readable.

    A fixed number of queries whatever the length: one for the events, and one per kind of record they name.
    """
    if obj is None or getattr(obj, "id", None) is None:
        return []
    from sqlalchemy.orm import joinedload

    events = list(
        db.session.scalars(
            db.select(AuditEvent)
            .options(joinedload(AuditEvent.user))
            .where(AuditEvent.object_type == type(obj).__name__, AuditEvent.object_id == obj.id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        )
    )
    describe(events)
    return events


# --- Showing changes in the users' words -------------------------------------------------------------------
# Events store raw column values (pence, ISO dates, ids). People read money, UK dates and names.

def _reference_names() -> dict[str, tuple]:
    """For a ``*_id`` field: the model it points at and the attribute that names a record of it."""
    from tracker import models as m

    return {
        "provider_id": (m.Provider, "name"), "strand_id": (m.Strand, "name"), "category_id": (m.Category, "name"),
        "funding_year_id": (m.FundingYear, "label"), "funding_stream_id": (m.FundingStream, "name"),
        "commission_id": (m.Commission, "reference"), "owner_id": (m.User, "name"), "user_id": (m.User, "name"),
        "budget_line_id": (m.BudgetLine, "description"),
    }


# Columns no form edits, named as the screens name them.
_LABELS = {"vat_pence": "VAT", "net_pence": "Net", "gross_pence": "Gross", "source_key": "Made from",
           "owner_is_default": "Owner chosen by the app", "original_pence": "Original allocation",
           "revised_pence": "Revised allocation", "amount_pence": "Amount", "original_amount_pence": "Original amount",
           "calendar_token": "Calendar feed", "session_version": "Sessions"}
# Words people write in capitals.
_ACRONYMS = {"pcc": "PCC", "po": "PO", "vat": "VAT", "rag": "RAG", "kpi": "KPI", "cyp": "CYP", "sme": "SME",
             "vcse": "VCSE", "id": "ID", "url": "URL", "q1": "Q1", "q2": "Q2", "q3": "Q3", "q4": "Q4",
             "sha256": "SHA-256", "ref": "reference", "vru": "VRU"}
_FORM_MODULES = ("tracker.commissions.forms", "tracker.milestones.forms", "tracker.funding.forms",
                 "tracker.monitoring.forms", "tracker.admin.forms", "tracker.returns.forms")


@lru_cache(maxsize=1)
def _form_labels() -> dict[str, str]:
    """Each field name's label on the forms people edit, so the history speaks as the forms do
    ("PCC decision reference", not "Pcc decision ref"). The first form to name a field wins."""
    import importlib

    from wtforms.fields.core import UnboundField

    labels: dict[str, str] = {}
    for module_name in _FORM_MODULES:
        for form in vars(importlib.import_module(module_name)).values():
            if not isinstance(form, type):
                continue
            for name, unbound in vars(form).items():
                if isinstance(unbound, UnboundField):
                    label = unbound.kwargs.get("label") or (unbound.args[0] if unbound.args else None)
                    if isinstance(label, str) and label:
                        labels.setdefault(name, label)
    return labels


def field_label(key: str) -> str:
    """A field's name as people read it: the form's label when a form edits it (``pcc_decision_ref`` ->
    "PCC decision reference"), else the column name with its acronyms (``vat_pence`` -> "VAT",
    ``funding_year_id`` -> "Funding year")."""
    if key in _LABELS:
        return _LABELS[key]
    if key in _form_labels():
        return _form_labels()[key]
    base = key
    for suffix in ("_pence", "_id"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    if base in _form_labels():
        return _form_labels()[base]
    words = [_ACRONYMS.get(w, w) for w in base.split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _readable(key: str, value, names: dict) -> str | None:
    from tracker.money import format_pence

    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        # A list (a contract's funding shares, a set of flags) as a sentence, never Python's ['a', 'b'].
        parts = [part for part in (_readable(key, v, names) for v in value) if part]
        return "; ".join(parts) if parts else "none"
    if isinstance(value, dict):
        return ", ".join(f"{field_label(k)}: {_readable(k, v, names) or 'none'}" for k, v in value.items())
    if key.endswith("_pence") and isinstance(value, int) and not isinstance(value, bool):
        return format_pence(value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if key.endswith("_id") and key in names:
        return names[key].get(value, f"#{value}")
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    return str(value)


def describe(events: list[AuditEvent]) -> None:
    """Give each event ``readable_changes``: (label, before, after) rows with money, dates and names shown as
    people read them. Ids are looked up in one query per kind of record, for all the events together."""
    refs = _reference_names()
    wanted: dict[str, set] = {}
    for event in events:
        for values in (event.before or {}, event.after or {}):
            for key, value in values.items():
                if key in refs and isinstance(value, int):
                    wanted.setdefault(key, set()).add(value)
    names: dict[str, dict] = {}
    for key, ids in wanted.items():
        model, attribute = refs[key]
        rows = db.session.execute(db.select(model.id, getattr(model, attribute)).where(model.id.in_(ids)))
        names[key] = {i: label or f"#{i}" for i, label in rows}
    for event in events:
        before, after = event.before or {}, event.after or {}
        # Keys starting with "_" are kept for the machine (e.g. a contract's shares as rows), not shown.
        keys = [k for k in dict.fromkeys([*before.keys(), *after.keys()]) if not k.startswith("_")]
        event.readable_changes = [
            (field_label(k), _readable(k, before.get(k), names), _readable(k, after.get(k), names)) for k in keys
        ]
