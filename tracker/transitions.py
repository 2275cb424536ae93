"""Moving a record with states on (a return issued, an import withdrawn, an allocation confirmed, a transparency
file issued): the one place for "a transition happens once, and the loser of a race is told so".

- ``move`` is a single UPDATE conditional on the state the record was read in (and, for a record that counts
  its changes, the version read): zero rows changed means someone else moved it first, so nothing of this
  request is written and ``Lost`` (a 409) is raised with the record as it is now. ``advance`` is the same
  UPDATE for a sweep or a job, which only needs to know whether it moved. On PostgreSQL the row stays
  locked to the end of the transaction, on SQLite the whole database does, so what follows reads what it wrote.
- ``inserted`` turns a unique constraint that refused a new version (two "issue" presses at once both made
  version 3) into the same ``Lost``, with the winner's record to link to.

``Lost`` is an HTTP 409 (tracker/errors.py renders it with its message and a link to the record as it is now),
so a route lets it propagate. A transition that keeps a file claims its state or version first and writes the
file after, so a lost race never leaves one behind.
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict

from tracker.extensions import db


class Lost(Conflict):
    """Someone else moved this record first: nothing of this request was written. ``record`` is the record as it
    is now (None when it has gone); ``link`` is (address, words) of the page that shows it."""

    def __init__(self, message: str, record=None, link: tuple[str, str] | None = None) -> None:
        super().__init__(description=message)
        self.custom_message = True  # errors.py shows the message itself, not the generic 409 sentence
        self.record = record
        self.link = link


def advance(record, from_states: tuple[str, ...] | str, *, state_attr: str = "status",
            version_attr: str | None = None, **values: Any) -> bool:
    """The conditional UPDATE of ``move`` without the refusal: True when ``record`` moved on (it is refreshed
    from the row), False when it was no longer in ``from_states`` (or at its version). Nothing is rolled back:
    for work that is not a person's request (a sweep, a job), where losing means only "leave it alone"."""
    if isinstance(from_states, str):
        from_states = (from_states,)
    model = type(record)
    statement = update(model).where(model.id == record.id, getattr(model, state_attr).in_(from_states))
    if version_attr is not None:
        column = getattr(model, version_attr)
        statement = statement.where(column == getattr(record, version_attr))
        values = {**values, version_attr: column + 1}
    changed = db.session.execute(statement.values(**values).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        return False
    db.session.refresh(record)
    return True


def move(record, from_states: tuple[str, ...] | str, *, message: str, state_attr: str = "status",
         version_attr: str | None = None, link: Callable[[Any], tuple[str, str]] | None = None,
         **values: Any) -> None:
    """Change ``record`` with one UPDATE, only while it is still in one of ``from_states`` (and, with
    ``version_attr``, still at the version this request read; the version then goes up by one).

    Raises ``Lost`` (after a rollback) when no row matched, carrying the record as it is now and, with ``link``
    (a function of that record), the address of its page. ``record`` is refreshed from the row afterwards."""
    if not advance(record, from_states, state_attr=state_attr, version_attr=version_attr, **values):
        raise lost(type(record), record.id, message, link)


def lost(model, record_id: int | None, message: str,
         link: Callable[[Any], tuple[str, str]] | None = None) -> Lost:
    """A ``Lost`` for ``model`` ``record_id`` after rolling this request back, with the record as it is now."""
    db.session.rollback()
    current = db.session.get(model, record_id) if record_id is not None else None
    return Lost(message, current, link(current) if link is not None and current is not None else None)


def inserted(flush: Callable[[], Any] | None = None, *, message: str,
             winner: Callable[[], Any] | None = None, link: Callable[[Any], tuple[str, str]] | None = None) -> Any:
    """Flush a new record that a unique constraint keeps to one (the next version of a file, a year's copy).
    When the constraint refuses it, someone else made it first: roll back and raise ``Lost``; ``winner`` finds
    their record (after the rollback) for the link. Returns what ``flush`` returned."""
    try:
        return (flush or db.session.flush)()
    except IntegrityError:
        db.session.rollback()
        current = winner() if winner is not None else None
        raise Lost(message, current, link(current) if link is not None and current is not None else None) from None
