"""Server-side session records: what makes signing out real.

The signed cookie carries a random session id; ``UserSession`` keeps its SHA-256 with when it started and was
last used. Every request's user is loaded only while that record is live, so once someone signs out (or goes
idle for SESSION_IDLE_MINUTES, or reaches SESSION_MAX_HOURS since signing in, or their password changes, or an
admin disables them) a copy of the cookie is worth nothing. The cookie itself expires SESSION_MAX_HOURS after
sign-in too.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from flask import current_app, g, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import delete, update

from tracker.extensions import db
from tracker.models import UserSession, utcnow

KEY = "sid"
STARTED = "started_at"
KEEP_ENDED = timedelta(days=30)  # session records older than this go at the user's next sign-in
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often (not a write per request)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user) -> UserSession:
    """A new session record for ``user`` and its id in the (fresh) cookie; the caller commits."""
    # Records of this user's sessions that ended (or went quiet) long ago are kept no longer than needed.
    old = utcnow() - KEEP_ENDED
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.last_seen_at < old)
                       .execution_options(synchronize_session=False))
    token = secrets.token_urlsafe(32)
    record = UserSession(user_id=user.id, token_hash=_hash(token))
    db.session.add(record)
    session[KEY] = token
    session[STARTED] = datetime.now(timezone.utc).timestamp()
    session.permanent = True  # the cookie gets an expiry: SESSION_MAX_HOURS from sign-in
    g.user_session = record
    return record


def current() -> UserSession | None:
    """The live record this request's cookie names, or None (no id, unknown, or ended)."""
    if "user_session" in g:
        return g.user_session
    token = session.get(KEY)
    record = None
    if isinstance(token, str) and 20 <= len(token) <= 100:
        record = db.session.scalar(db.select(UserSession).where(UserSession.token_hash == _hash(token)))
        if record is not None and record.ended_at is not None:
            record = None
    g.user_session = record
    return record


def load(user_id: int):
    """(user, live session record) for this request's cookie, in one query; None when either is missing."""
    from tracker.models import User

    token = session.get(KEY)
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    row = db.session.execute(
        db.select(User, UserSession).join(UserSession, UserSession.user_id == User.id)
        .where(User.id == user_id, UserSession.token_hash == _hash(token), UserSession.ended_at.is_(None))).first()
    if row is None:
        return None
    g.user_session = row[1]
    return row[0], row[1]


def end(record: UserSession | None, reason: str) -> None:
    if record is not None and record.ended_at is None:
        record.ended_at = utcnow()
        record.ended_reason = reason[:40]


def end_all(user_id: int, reason: str, keep: UserSession | None = None) -> None:
    """End every live session of a user (new password, disabled), except ``keep``; the caller commits."""
    query = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if keep is not None and keep.id is not None:
        query = query.where(UserSession.id != keep.id)
    db.session.execute(query.values(ended_at=utcnow(), ended_reason=reason[:40]).execution_options(
        synchronize_session=False))


def expired(record: UserSession, now: datetime | None = None) -> str | None:
    """"idle" or "too old" when the session must end now, else None."""
    now = now or utcnow()
    config = current_app.config
    if now - record.last_seen_at > timedelta(minutes=config["SESSION_IDLE_MINUTES"]):
        return "idle"
    if now - record.created_at > timedelta(hours=config["SESSION_MAX_HOURS"]):
        return "too old"
    return None


def touch(record: UserSession, now: datetime | None = None) -> None:
    now = now or utcnow()
    if now - record.last_seen_at >= TOUCH_EVERY:
        record.last_seen_at = now
        db.session.commit()


class AbsoluteExpiryCookie(SecureCookieSessionInterface):
    """The session cookie expires SESSION_MAX_HOURS after sign-in, however often it is re-sent."""

    def get_expiration_time(self, app, session_):
        started = session_.get(STARTED) if session_.permanent else None
        if isinstance(started, (int, float)):
            return datetime.fromtimestamp(started, timezone.utc) + timedelta(hours=app.config["SESSION_MAX_HOURS"])
        return super().get_expiration_time(app, session_)
