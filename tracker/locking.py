"""Every write once, no change silently lost: the one place for optimistic locking, state transitions and one-time
create forms, so every area refuses a stale save and a double POST the same way.

- A record that people edit carries a version; its form carries the version it was shown at. ``check_version``
  refuses a form from an older version, and the UPDATE itself is conditional on the version (SQLAlchemy's
  ``version_id_col``, or ``transition``), so of two saves at once only one lands; the other gets ``Stale`` (409).
- A record with states (a claim) moves on with ``transition``: a single conditional UPDATE on the state and
  version it was read at. Zero rows changed means someone else got there first: ``Stale``, never a second move.
- A create form carries a one-time token (``new_token``); ``take_token`` claims it before the record is made and
  ``made`` records what it made, so a second POST of the same form is answered with the first one's record.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from tracker import transitions
from tracker.errors import abort_with
from tracker.extensions import db
from tracker.models import AuditEvent, User
from tracker.models.audit import FormUse


class Stale(Exception):
    """The record changed since this request read it (or since the form was shown): nothing of this request's
    change was written. ``record`` is the record as it is now (None when it has gone)."""

    def __init__(self, record, message: str = ""):
        super().__init__(message or "changed by someone else")
        self.record = record
        self.message = message


def version_of(text_or_number) -> int | None:
    """The version a form sent, or None when it sent none (a hand-made POST: the version read now is used) or
    something that is not a whole number."""
    if text_or_number is None or text_or_number == "":
        return None
    try:
        return int(text_or_number)
    except (TypeError, ValueError):
        return None


def check_version(record, submitted: int | None, version_attr: str = "version", message: str = "") -> None:
    """Refuse (``Stale``) a change made from a form shown at another version of ``record``."""
    if submitted is not None and int(submitted) != getattr(record, version_attr):
        raise Stale(record, message)


def flush(record, message: str = "") -> None:
    """Flush, turning an UPDATE that lost the race at the database (``version_id_col`` found another version)
    into ``Stale`` with the record as it is now; the session is rolled back first, so nothing half-written stays."""
    model, record_id = type(record), record.id  # read now: after a failed flush the record cannot load
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Stale(_still_there(model, record_id), message) from None


def _still_there(model, record_id: int):
    """The record as it is now; a 404 saying so when someone else deleted it meanwhile."""
    record = db.session.get(model, record_id)
    if record is None:
        abort_with(404, "Someone else deleted this record while you were working on it, so your change was not "
                        "saved.")
    return record


def transition(record, from_states: tuple[str, ...], *, version_attr: str = "version", state_attr: str = "status",
               message: str = "", **values: Any) -> None:
    """Change ``record`` with one conditional UPDATE: only if it is still at the version this request read and in
    one of ``from_states`` (``transitions.advance``, the one such UPDATE). The version goes up by one.

    Raises ``Stale`` (after a rollback, with the record as it is now) when no row matched: someone else moved it
    first, and the claim page shows the two side by side. ``record`` is refreshed from the row afterwards."""
    model, record_id = type(record), record.id
    if not transitions.advance(record, from_states, state_attr=state_attr, version_attr=version_attr, **values):
        db.session.rollback()
        raise Stale(_still_there(model, record_id), message)


def show_version(form, record, version_attr: str = "version") -> None:
    """Put ``record``'s version in ``form`` (after a 409: saving again then replaces what is saved, on purpose)."""
    form.version.data = str(getattr(record, version_attr))
    form.version.raw_data = [form.version.data]


def last_changed_by(record) -> str | None:
    """The name of whoever last changed ``record``, from the audit trail (for the 409 page)."""
    if record is None:
        return None
    return db.session.scalar(
        select(User.name).join(AuditEvent, AuditEvent.user_id == User.id)
        .where(AuditEvent.object_type == type(record).__name__, AuditEvent.object_id == record.id)
        .order_by(AuditEvent.id.desc()).limit(1))


@dataclass
class Conflict:
    """What a 409 page shows (``templates/_conflict.html``): what happened, who saved, and each field as saved now
    beside the value this person sent."""

    what: str
    message: str
    who: str | None = None
    rows: list[tuple[str, str, str]] = field(default_factory=list)


def conflict(what: str, record, message: str = "", fields: list[tuple[str, str, str]] | None = None) -> Conflict:
    """A ``Conflict`` about ``record`` (as it is now); ``fields`` are (label, value saved now, value sent)."""
    who = last_changed_by(record)
    message = message or (f"{who or 'Someone else'} saved this {what} after you opened the form, so your changes "
                          "were not saved. Its current values are shown beside yours; your changes are still in "
                          "the form. Check them and save again to replace the current values.")
    return Conflict(what, message, who, list(fields or []))


# --- One-time create forms --------------------------------------------------------------------------------------

def new_token() -> str:
    """A token for one showing of a create form."""
    return secrets.token_urlsafe(24)


def earlier_use(token: str | None, object_type: str) -> int | None:
    """The id of the record an earlier POST of this form made (None when there was none)."""
    if not token:
        return None
    use = db.session.get(FormUse, token)
    if use is None or use.object_type != object_type:
        return None
    return use.object_id


def take_token(token: str | None, object_type: str, user_id: int | None = None) -> int | None:
    """Claim the form's token before making the record (call it before any other write of the request). Returns
    None when this request may make it; otherwise the id of the record the earlier POST made (the caller
    redirects to it). A form without a token (a hand-made POST) is not protected and may make its record.

    The token row is written and flushed first, so of two POSTs at once the second waits for the first (its
    primary key) and then finds the token taken: only one record is ever made."""
    if not token:
        return None
    token = token[:64]
    earlier = db.session.get(FormUse, token)
    if earlier is None:
        from tracker.audit import acting_user_id

        # No savepoint: SQLite's driver would commit one on release. This is the request's first write, so when
        # another POST holds the token, rolling the whole transaction back loses nothing of this one.
        try:
            db.session.add(FormUse(token=token, object_type=object_type,
                                   user_id=user_id if user_id is not None else acting_user_id()))
            db.session.flush()
            return None
        except IntegrityError:
            db.session.rollback()
            earlier = db.session.get(FormUse, token)
    if earlier is None or earlier.object_type != object_type or earlier.object_id is None:
        abort_with(409, "This form has already been sent once. Go back, reload the page and check whether what "
                        "you sent was recorded before sending it again.")
    return earlier.object_id


def sent_before(form, object_type: str) -> int | None:
    """For a create form's view, before the form is checked: on a POST, take the form's token (``take_token``)
    and return the id of the record this same form made when it was first sent (None: go on and make it). Taken
    before the checks because the record the first POST made could fail them for the second (a unique name);
    a POST refused or failing later commits nothing, so its token stays free for the corrected form."""
    from flask import request

    if request.method != "POST":
        return None
    return take_token(form.once.data, object_type)


def made(token: str | None, record) -> None:
    """Record what the form made, so a second POST of it finds the record."""
    if not token:
        return
    if record.id is None:
        db.session.flush()
    use = db.session.get(FormUse, token[:64])
    if use is not None:
        use.object_id = record.id
