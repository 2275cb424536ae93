"""The daily deadline reminder: each owner's overdue deadlines and those coming up, printed or e-mailed.

``flask deadlines-digest`` is meant for a daily cron job. With ``MAIL_SERVER`` set (in the environment or the
app config) it e-mails each owner; otherwise it prints every digest to standard output. Deadlines with no owner
go to the active managers, who assign owners. ``today`` and the SMTP class are parameters so tests can fix
the clock and catch the mail.
"""
from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from tracker.models import MANAGER, Milestone, User
from tracker.milestones.service import CLOSED_STATUSES, is_overdue, lapsed, non_working_day
from tracker.models.milestones import EVENT_KINDS
from tracker.text import is_yes


@dataclass
class Digest:
    """What one person is told: ``owner`` is None for the list of deadlines nobody owns."""

    owner: User | None
    overdue: list[Milestone] = field(default_factory=list)
    coming: list[Milestone] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return f"{self.owner.name} <{self.owner.email}>" if self.owner else "Deadlines with no owner"


def build_digests(today: date, days: int, session) -> list[Digest]:
    """One digest per owner with something overdue or due within ``days``, and one for unowned deadlines."""
    horizon = today + timedelta(days=days)
    rows = session.scalars(
        select(Milestone).options(joinedload(Milestone.owner), joinedload(Milestone.funding_year))
        .where(Milestone.status.not_in(CLOSED_STATUSES), Milestone.due_date <= horizon,
               # An event that has happened needs nothing from anyone; a coming one is worth a reminder.
               or_(Milestone.kind.not_in(EVENT_KINDS), Milestone.due_date >= today))
        .order_by(Milestone.due_date, Milestone.id)).all()
    by_owner: dict[int | None, Digest] = {}
    for m in rows:
        if lapsed(m, today):
            continue  # its year is closed or the next year's is due: nobody can still do it
        if m.owner is not None and not m.owner.active:
            key = None  # a disabled account reads no mail: treat as unowned
        else:
            key = m.owner_id
        digest = by_owner.setdefault(key, Digest(m.owner if key is not None else None))
        (digest.overdue if is_overdue(m, today) else digest.coming).append(m)
    owned = sorted((d for k, d in by_owner.items() if k is not None), key=lambda d: d.owner.name.lower())
    return owned + ([by_owner[None]] if None in by_owner else [])


def _line(m: Milestone, today: date) -> str:
    note = non_working_day(m.due_date)
    when = m.due_date.strftime("%d/%m/%Y")
    if is_overdue(m, today):
        ago = (today - m.due_date).days
        when += f", {ago} day{'s' if ago != 1 else ''} overdue"
    elif m.due_date == today:
        when += ", due today"
    state = "event" if m.kind in EVENT_KINDS else m.status
    return f"  - {when}: {m.title} [{m.programme}; {state}]" + (f" (falls on {note})" if note else "")


def format_digest(d: Digest, today: date, days: int, base_url: str = "") -> str:
    out = [d.heading, ""]
    if d.overdue:
        out.append(f"Overdue ({len(d.overdue)}):")
        out += [_line(m, today) for m in d.overdue]
        out.append("")
    if d.coming:
        out.append(f"Due in the next {days} days ({len(d.coming)}):")
        out += [_line(m, today) for m in d.coming]
        out.append("")
    if base_url:
        out.append(f"See every deadline: {base_url.rstrip('/')}/milestones/")
    return "\n".join(out).rstrip() + "\n"


def mail_settings(config) -> dict | None:
    """SMTP settings from the app config or the environment, or None when no MAIL_SERVER is given."""
    def get(name, default=None):
        return config.get(name) or os.environ.get(name) or default

    server = get("MAIL_SERVER")
    if not server:
        return None
    return {
        "server": server,
        "port": int(get("MAIL_PORT", 587)),
        "use_tls": is_yes(get("MAIL_USE_TLS", "true")),
        "use_ssl": is_yes(get("MAIL_USE_SSL", "false")),
        "username": get("MAIL_USERNAME"),
        "password": get("MAIL_PASSWORD"),
        "sender": get("MAIL_FROM") or get("MAIL_DEFAULT_SENDER") or f"vru-tracker@{server}",
    }


def recipients(d: Digest, session) -> list[str]:
    if d.owner is not None:
        return [d.owner.email]
    return [u.email for u in session.scalars(
        select(User).where(User.role == MANAGER, User.active.is_(True)).order_by(User.email))]


def send_digests(digests: list[Digest], today: date, days: int, mail: dict, session, base_url: str = "",
                 smtp_class=None) -> int:
    """E-mail each digest over one SMTP connection; returns how many messages were sent."""
    if not digests:
        return 0
    smtp_class = smtp_class or (smtplib.SMTP_SSL if mail["use_ssl"] else smtplib.SMTP)
    sent = 0
    with smtp_class(mail["server"], mail["port"], timeout=30) as smtp:
        if mail["use_tls"] and not mail["use_ssl"]:
            smtp.starttls()
        if mail["username"]:
            smtp.login(mail["username"], mail["password"] or "")
        for d in digests:
            to = recipients(d, session)
            if not to:
                continue
            msg = EmailMessage()
            msg["From"] = mail["sender"]
            msg["To"] = ", ".join(to)
            count = len(d.overdue)
            msg["Subject"] = (f"VRU deadlines: {count} overdue, {len(d.coming)} coming up" if count
                              else f"VRU deadlines: {len(d.coming)} coming up")
            msg.set_content(format_digest(d, today, days, base_url))
            smtp.send_message(msg)
            sent += 1
    return sent
