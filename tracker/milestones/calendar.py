"""Deadlines as iCalendar (RFC 5545): the personal feed calendars subscribe to, and the ``.ics`` download.

Each deadline is an all-day event (``DTSTART;VALUE=DATE``) whose UID is made from the milestone's id, which
never changes (generated deadlines are updated in place by ``sync_deadlines``), so a calendar that fetches
the feed again replaces the event rather than adding a second one.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta, timezone

from icalendar import Calendar, Event
from sqlalchemy import select

from tracker.models import Milestone, User

UID_DOMAIN = "vru-tracker"
# How often a subscribed calendar should fetch the feed again (Outlook and Apple honour one or the other).
REFRESH = timedelta(hours=6)


def uid_for(m: Milestone) -> str:
    return f"milestone-{m.id}@{UID_DOMAIN}"


def new_token() -> str:
    """A secret for a feed URL: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


FEED_ACTIONS = ("create", "regenerate", "revoke")


def change_feed(user: User, action: str) -> bool:
    """Make, replace (``create``, ``regenerate``) or ``revoke`` the user's own feed token, audited; the caller
    commits. Returns whether the user had a feed before."""
    from tracker import audit

    if action not in FEED_ACTIONS:
        raise ValueError(f"unknown calendar feed action {action!r}")
    had = user.calendar_token is not None
    user.calendar_token = None if action == "revoke" else new_token()
    # The token itself is a secret: the audit trail says what happened, not the value.
    audit.record("auth", "change", user, f"{user.email}: calendar feed {'revoked' if action == 'revoke' else action + 'd'}",
                 {"feed": had}, {"feed": user.calendar_token is not None})
    return had


def user_for_token(token: str, session) -> User | None:
    """The active user whose feed token this is, or None (wrong, revoked, or the account is disabled)."""
    if not token or len(token) > 64:
        return None
    user = session.scalar(select(User).where(User.calendar_token == token))
    if user is None or not user.active or not secrets.compare_digest(user.calendar_token or "", token):
        return None
    return user


def _event(m: Milestone, stamp: datetime, url_for_milestone, day_note) -> Event:
    e = Event()
    e.add("uid", uid_for(m))
    e.add("dtstamp", stamp)
    e.add("dtstart", m.due_date)  # a date, so VALUE=DATE: an all-day event
    e.add("dtend", m.due_date + timedelta(days=1))
    summary = m.title if m.status not in ("done", "missed") else f"[{m.status.capitalize()}] {m.title}"
    e.add("summary", summary)
    lines = [f"Programme: {m.programme}", f"Status: {m.status}", f"Owner: {m.owner.name if m.owner else 'not set'}"]
    note = day_note(m.due_date)
    if note:
        lines.append(f"Falls on a non-working day: {note}")
    if m.evidence:
        lines.append(f"Evidence: {m.evidence}")
    url = url_for_milestone(m) if url_for_milestone else None
    if url:
        lines.append(url)
        e.add("url", url)
    e.add("description", "\n".join(lines))
    e.add("categories", [m.programme])
    e.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy all day
    e.add("status", "CONFIRMED")
    if m.updated_at:
        e.add("last-modified", m.updated_at.replace(tzinfo=timezone.utc))
    return e


def build_calendar(milestones: list[Milestone], name: str, url_for_milestone=None, now: datetime | None = None) -> bytes:
    """An iCalendar file of the deadlines given."""
    from tracker.milestones.service import non_working_day

    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    cal = Calendar()
    cal.add("prodid", "-//VRU Tracker//Deadlines//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/London")
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", REFRESH)
    for m in milestones:
        cal.add_component(_event(m, stamp, url_for_milestone, non_working_day))
    return cal.to_ical()


def feed_milestones(user: User, scope: str, session) -> list[Milestone]:
    """A personal feed: the user's own deadlines and those nobody owns yet (``scope="mine"``), or every
    deadline (``scope="all"``). Deadlines more than a year past are left out to keep the feed small."""
    from sqlalchemy.orm import joinedload

    from sqlalchemy import or_

    q = (select(Milestone).options(joinedload(Milestone.owner))
         .where(Milestone.due_date >= date.today() - timedelta(days=366))
         .order_by(Milestone.due_date, Milestone.id))
    if scope != "all":
        q = q.where(or_(Milestone.owner_id == user.id, Milestone.owner_id.is_(None)))
    return list(session.scalars(q))
