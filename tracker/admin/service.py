"""Administration rules without a request in sight: users and their roles, reference data, settings, and
reading the audit trail. Every change is audited in the same transaction; callers commit."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from tracker import audit, settings
from tracker.auth import sessions
from tracker.auth.passwords import hash_password, password_problem
from tracker.errors import get_or_404
from tracker.extensions import db
from tracker.models import ADMIN, ROLES, AuditEvent, Category, Setting, Strand, User
from tracker.text import NO_WORDS, YES_WORDS, is_yes

USER_FIELDS = ("email", "name", "role", "active")
STRAND_FIELDS = ("name", "description", "sort_order", "active")
CATEGORY_FIELDS = ("name", "labour", "sort_order", "active")


class AdminRuleError(Exception):
    """A change the rules refuse, with the reason in words for the admin."""


# --- Users -------------------------------------------------------------------------------------------------

def get_user_or_404(user_id: int) -> User:
    return get_or_404(User, user_id, "There is no user with that number.")


def email_taken(email: str, except_id: int | None = None) -> bool:
    query = select(User.id).where(func.lower(User.email) == email.strip().lower())
    if except_id is not None:
        query = query.where(User.id != except_id)
    return db.session.scalar(query) is not None


def create_user(name: str, email: str, role: str, password: str) -> User:
    email = email.strip().lower()
    if role not in ROLES:
        raise AdminRuleError("Choose a role from the list")
    if email_taken(email):
        raise AdminRuleError(f"There is already a user with the e-mail address {email}")
    problem = password_problem(password, email, name)
    if problem:
        raise AdminRuleError(problem)
    user = User(name=name.strip(), email=email, role=role, password_hash=hash_password(password), active=True)
    db.session.add(user)
    db.session.flush()
    audit.record("admin", "create", user, f"Created user {user.email} ({user.role_label})",
                 None, audit.snapshot(user, USER_FIELDS))
    return user


def _other_active_admins(user: User) -> int:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.role == ADMIN, User.active.is_(True), User.id != user.id)
    ) or 0


def _guard_last_admin(user: User, action: str) -> None:
    """Someone must always be able to administer the tracker."""
    if user.role == ADMIN and user.active and _other_active_admins(user) == 0:
        raise AdminRuleError(f"{user.name} is the only active administrator, so cannot be {action}. "
                             "Make someone else an administrator first.")


def change_role(user: User, role: str) -> bool:
    """Give ``user`` a new role; False when it is already theirs."""
    if role not in ROLES:
        raise AdminRuleError("Choose a role from the list")
    if role == user.role:
        return False
    if role != ADMIN:
        _guard_last_admin(user, "given another role")
    before = audit.snapshot(user, ("role",))
    old_label = user.role_label
    user.role = role
    audit.record("admin", "change", user, f"Changed the role of {user.email} from {old_label} to {user.role_label}",
                 before, audit.snapshot(user, ("role",)))
    return True


def set_active(user: User, active: bool) -> bool:
    """Disable (ending every session at once) or enable an account; False when nothing changes."""
    if bool(user.active) == active:
        return False
    if not active:
        _guard_last_admin(user, "disabled")
    before = audit.snapshot(user, ("active",))
    user.active = active
    if not active:
        user.session_version += 1
        sessions.end_all(user.id, "account disabled")
    elif user.calendar_token is not None:
        # The old feed address may have leaked while the account was off: a re-enabled user gets a new one.
        from tracker.milestones.calendar import new_token

        user.calendar_token = new_token()
    audit.record("admin", "positive" if active else "negative", user,
                 f"{'Enabled' if active else 'Disabled'} the account of {user.email}", before,
                 audit.snapshot(user, ("active",)))
    return True


def reset_password(user: User, password: str, keep=None) -> None:
    """Set a new password chosen by an admin; every session of the user ends (but ``keep``, the admin's own
    when they reset their own password). The password is never audited."""
    problem = password_problem(password, user.email, user.name)
    if problem:
        raise AdminRuleError(problem)
    user.password_hash = hash_password(password)
    user.session_version += 1
    sessions.end_all(user.id, "password reset", keep=keep)
    audit.record("admin", "change", user, f"Reset the password of {user.email}; their sessions were ended",
                 None, {"password": "reset"})


def users_list() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.active.desc(), User.name)))


# --- Reference data: strands and categories ----------------------------------------------------------------

REFERENCE = {
    "strands": (Strand, STRAND_FIELDS, "strand"),
    "categories": (Category, CATEGORY_FIELDS, "category"),
}


def get_reference_or_404(model, item_id: int):
    """A strand or a category (the reference lists share their screens, so they share this)."""
    return get_or_404(model, item_id, f"There is no {model.__name__.lower()} with that number.")


def name_taken(model, name: str, except_id: int | None = None) -> bool:
    query = select(model.id).where(func.lower(model.name) == name.strip().lower())
    if except_id is not None:
        query = query.where(model.id != except_id)
    return db.session.scalar(query) is not None


def save_reference(model, item, values: dict):
    """Create (``item`` None) or change a strand or category; names are unique whatever their case."""
    fields = STRAND_FIELDS if model is Strand else CATEGORY_FIELDS
    values = {k: v for k, v in values.items() if k in fields}
    values["name"] = (values.get("name") or "").strip()
    if not values["name"]:
        raise AdminRuleError("Enter a name")
    if name_taken(model, values["name"], item.id if item is not None else None):
        raise AdminRuleError(f"There is already a {model.__name__.lower()} called {values['name']}")
    label = model.__name__.lower()
    if item is None:
        item = model(**values)
        db.session.add(item)
        db.session.flush()
        audit.record("admin", "create", item, f"Created the {label} {item.name}", None, audit.snapshot(item, fields))
        return item
    before = audit.snapshot(item, fields)
    for key, value in values.items():
        setattr(item, key, value)
    old, new = audit.diff(before, audit.snapshot(item, fields))
    if new:
        what = "Deactivated" if new.get("active") is False else "Reactivated" if new.get("active") is True else "Changed"
        audit.record("admin", "change", item, f"{what} the {label} {item.name}", old, new)
    return item


def reference_list(model) -> list:
    return list(db.session.scalars(select(model).order_by(model.active.desc(), model.sort_order, model.name)))


# --- Settings ----------------------------------------------------------------------------------------------

def parse_setting(key: str, text: str):
    """The typed value of ``text`` for setting ``key``; AdminRuleError with a message when it does not fit."""
    spec = settings.SPECS[key]
    text = (text or "").strip()
    if spec.kind is str:
        if not text:
            raise AdminRuleError(f"Enter the {spec.label.lower()}")
        if len(text) > 200:
            raise AdminRuleError("Use 200 characters or fewer")
        return text
    if spec.kind is bool:
        if text.lower() not in YES_WORDS + NO_WORDS:
            raise AdminRuleError("Choose yes or no")
        return is_yes(text)
    if spec.kind is int:
        try:
            value = int(text)
        except ValueError:
            raise AdminRuleError("Enter a whole number, like 30") from None
        if not 0 <= value <= 3650:
            raise AdminRuleError("Enter a number from 0 to 3650")
        return value
    if spec.kind is Decimal:
        try:
            value = Decimal(text.rstrip("%").strip())
        except InvalidOperation:
            raise AdminRuleError("Enter a number, like 2.5") from None
        if not value.is_finite() or not Decimal(0) <= value <= Decimal(1000):
            raise AdminRuleError("Enter a number from 0 to 1000")
        return value
    raise AdminRuleError("This setting cannot be changed here")  # pragma: no cover - a new kind of setting


def update_setting(key: str, text: str) -> bool:
    """Store a new value for a setting, audited; False when unchanged."""
    value = parse_setting(key, text)
    before = settings.get(key)
    if value == before and db.session.get(Setting, key) is not None:
        return False
    if key == "adjustment_period" and not 1 <= value <= 12:
        raise AdminRuleError("Enter a period from 1 to 12 (12 is March)")
    if key == "rag_amber_percent" and value > settings.get("rag_red_percent"):
        raise AdminRuleError("Amber must start at or below the red threshold")
    if key == "rag_red_percent" and value < settings.get("rag_amber_percent"):
        raise AdminRuleError("Red must be at or above the amber threshold")
    settings.put(key, value if not isinstance(value, bool) else ("true" if value else "false"))
    row = db.session.get(Setting, key)
    audit.record("admin", "change", row, f"Changed the setting '{settings.SPECS[key].label}'",
                 {"key": key, "value": _plain(before)}, {"key": key, "value": _plain(value)})
    return True


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value


def settings_list() -> list[tuple]:
    """(spec, current value, stored?) for every setting, in one query."""
    stored = {r.key for r in db.session.scalars(select(Setting))}
    values = settings.get_many(*settings.SPECS)
    return [(spec, values[key], key in stored) for key, spec in settings.SPECS.items()]


# --- The audit trail ---------------------------------------------------------------------------------------

@dataclass
class AuditFilters:
    realm: str = ""
    kind: str = ""
    object_type: str = ""
    object_id: int | None = None
    user_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    text: str = ""
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)


def _parse_date(text: str) -> date:
    from tracker.periods import parse_uk_date

    return parse_uk_date(text)


def _parse_int(text: str, low: int = 1, high: int = 10**9) -> int:
    from tracker.web import whole_number

    value = whole_number(text, low, high)
    if value is None:
        raise ValueError
    return value


def parse_audit_filters(args) -> AuditFilters:
    """Filters from the query string; a bad value is dropped with a message rather than failing."""
    f = AuditFilters()
    f.realm = (args.get("realm") or "").strip()[:20]
    f.kind = (args.get("kind") or "").strip()[:10]
    f.object_type = (args.get("object_type") or "").strip()[:40]
    f.text = (args.get("q") or "").strip()[:200]
    for name, attr, message in (("user", "user_id", "Choose a user from the list"),
                                ("object_id", "object_id", "The record number must be a whole number"),
                                ("page", "page", "The page number must be a whole number from 1")):
        raw = (args.get(name) or "").strip()
        if raw:
            try:
                setattr(f, attr, _parse_int(raw))
            except ValueError:
                f.errors[name] = message
    for name in ("date_from", "date_to"):
        raw = (args.get(name) or "").strip()
        if raw:
            try:
                setattr(f, name, _parse_date(raw))
            except ValueError:
                f.errors[name] = "Enter a date like 31/03/2026"
    if f.date_from and f.date_to and f.date_to < f.date_from:
        f.errors["date_to"] = "The end date must be on or after the start date"
        f.date_to = None
    if f.kind and f.kind not in audit_kinds():
        f.errors["kind"] = "Choose a kind of change from the list"
        f.kind = ""
    return f


def audit_kinds() -> tuple[str, ...]:
    from tracker.models.audit import AuditKind

    return tuple(k.value for k in AuditKind)


def audit_query(f: AuditFilters):
    query = select(AuditEvent).options(joinedload(AuditEvent.user))
    if f.realm:
        query = query.where(AuditEvent.realm == f.realm)
    if f.kind:
        query = query.where(AuditEvent.kind == f.kind)
    if f.object_type:
        query = query.where(AuditEvent.object_type == f.object_type)
    if f.object_id is not None:
        query = query.where(AuditEvent.object_id == f.object_id)
    if f.user_id is not None:
        query = query.where(AuditEvent.user_id == f.user_id)
    if f.date_from:
        query = query.where(AuditEvent.created_at >= datetime.combine(f.date_from, time.min))
    if f.date_to:
        query = query.where(AuditEvent.created_at < datetime.combine(f.date_to + timedelta(days=1), time.min))
    if f.text:
        escaped = f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(AuditEvent.summary.ilike(f"%{escaped}%", escape="\\"))
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def audit_choices() -> dict[str, list]:
    """The values the filters offer: realms and object types in the trail, and every user."""
    realms = list(db.session.scalars(select(AuditEvent.realm).distinct().order_by(AuditEvent.realm)))
    types = list(db.session.scalars(select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)))
    users = list(db.session.execute(select(User.id, User.name).order_by(User.name)))
    return {"realms": realms, "object_types": [t for t in types if t], "users": users, "kinds": list(audit_kinds())}


