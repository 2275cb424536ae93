"""People who sign in, and their role."""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

ADMIN, MANAGER, FINANCE, VIEWER = "admin", "manager", "finance", "viewer"
ROLES = (ADMIN, MANAGER, FINANCE, VIEWER)
ROLE_LABELS = {
    ADMIN: "Administrator",
    MANAGER: "VRU manager",
    FINANCE: "Finance",
    VIEWER: "Viewer (PCC office)",
}


class User(UserMixin, Base):
    """Someone who signs in. Unique: e-mail address; calendar feed token."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The e-mail address they sign in with, stored in lower case.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: Their name as shown on screens and in returns ("prepared by").
    name: Mapped[str] = mapped_column(String(120))
    #: admin, manager, finance or viewer: what they may see and change.
    role: Mapped[str] = mapped_column(String(20))
    #: A salted hash of the password (never the password itself).
    password_hash: Mapped[str] = mapped_column(String(255))
    #: False when an admin has disabled the account; a disabled user cannot sign in.
    active: Mapped[bool] = mapped_column(default=True)
    #: Bumped when the password changes or the account is disabled, which ends every open session.
    session_version: Mapped[int] = mapped_column(default=1)
    #: Secret for the personal calendar feed; None when no feed has been made or it was revoked.
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: When the account was made.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When they last signed in successfully.
    last_sign_in_at: Mapped[datetime | None]

    # Flask-Login keeps this in the session; a changed version makes old sessions invalid.
    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def has_role(self, *roles: str) -> bool:
        return self.role == ADMIN or self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class UserSession(Base):
    """One signed-in session, checked on every request: signing out ends it on the server, so a copy of the
    cookie is worthless afterwards. The cookie carries a random id; only its SHA-256 is stored here.

    Unique: the id's hash."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Whose session it is.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 (hex) of the random session id kept in the signed cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: When they signed in (the absolute lifetime counts from here).
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the session was last used (the idle timeout counts from here; written at most once a minute).
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When it ended (signed out, idle, too old, password changed, account disabled); None while it is live.
    ended_at: Mapped[datetime | None]
    #: Why it ended, in words.
    ended_reason: Mapped[str] = mapped_column(String(40), default="")
