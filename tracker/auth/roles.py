"""Who may use each view. Every view declares it with ``roles_required`` (or ``public``); nothing is open by default.

Admins may do everything. ``EVERYONE`` means any signed-in user, viewers included; viewers never change
anything, so write views leave them out.
"""
from __future__ import annotations

from functools import wraps

from flask import abort, request
from flask_login import current_user

from tracker.models.users import ADMIN, FINANCE, MANAGER, ROLES, VIEWER

EVERYONE = ROLES
STAFF = (ADMIN, MANAGER, FINANCE)  # everyone who prepares things, as opposed to the PCC office who read them

__all__ = ["ADMIN", "EVERYONE", "FINANCE", "MANAGER", "STAFF", "VIEWER", "public", "roles_required"]


def roles_required(*roles: str, write_roles: tuple[str, ...] | None = None):
    """Allow signed-in users with one of ``roles`` (admins always).

    ``write_roles`` narrows who may send a POST to a view that also serves GETs to a wider group
    (e.g. a page every role reads, whose form only managers may submit).
    """
    allowed = frozenset(roles) | {ADMIN}
    writers = frozenset(write_roles) | {ADMIN} if write_roles is not None else allowed

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                abort(401)
            permitted = writers if request.method not in ("GET", "HEAD", "OPTIONS") else allowed
            if current_user.role not in permitted:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = allowed
        wrapped.write_roles = writers
        return wrapped

    return decorator


def public(view):
    """Mark a view that anonymous users may reach (sign-in, the calendar feed with its own token)."""
    view.is_public = True
    return view


def view_is_public(view) -> bool:
    return bool(getattr(view, "is_public", False))


def view_roles(view) -> frozenset[str] | None:
    return getattr(view, "allowed_roles", None)
