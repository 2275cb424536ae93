"""The deadline commands: ``flask deadlines-sync`` and ``flask deadlines-digest`` (registered by tracker/cli.py)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import click
from flask import current_app

from tracker import settings as app_settings
from tracker.extensions import db
from tracker.milestones import service


@click.command("deadlines-sync")
def sync_command():
    """Bring generated deadlines into line with funding years and commissions (safe to run again)."""
    result = service.sync_deadlines()
    db.session.commit()
    click.echo(f"Deadlines: {result.created} added, {result.updated} moved or renamed, {result.removed} removed, "
               f"{result.kept} kept after their source went.")


def _parse_day(ctx, param, value):
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("give the date as YYYY-MM-DD, e.g. 2025-10-31")


@click.command("deadlines-digest")
@click.option("--today", "today_", callback=_parse_day, help="Pretend today is this date (YYYY-MM-DD).")
@click.option("--days", type=click.IntRange(0, 366), default=None, help="Look this many days ahead (default: the setting).")
@click.option("--print", "print_only", is_flag=True, help="Print even when MAIL_SERVER is set.")
@click.option("--base-url", default=None, help="The app's address, for the link in each message (or APP_BASE_URL).")
def digest_command(today_, days, print_only, base_url):
    """Each owner's overdue and coming deadlines: e-mailed when MAIL_SERVER is set, otherwise printed. Run daily."""
    import os

    from tracker.milestones import digest

    service.sync_deadlines()
    db.session.commit()
    day = today_ or date.today()
    days = days if days is not None else app_settings.get("digest_days")
    base_url = base_url or current_app.config.get("APP_BASE_URL") or os.environ.get("APP_BASE_URL", "")
    digests = digest.build_digests(day, days, db.session)
    mail = None if print_only else digest.mail_settings(current_app.config)
    if mail is None:
        if not digests:
            click.echo(f"No deadlines overdue or due in the next {days} days.")
        for d in digests:
            click.echo(digest.format_digest(d, day, days, base_url))
        return
    sent = digest.send_digests(digests, day, days, mail, db.session, base_url)
    click.echo(f"Sent {sent} deadline reminder{'s' if sent != 1 else ''} ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC).")

