"""The daily reminder: a fixed clock and a fake SMTP server."""
from datetime import date

from tracker.extensions import db
from tracker.milestones import digest


def _data(make):
    alice = make.user("manager", name="Alice", email="alice@example.org")
    bob = make.user("finance", name="Bob", email="bob@example.org")
    make.milestone("Overdue panel", due_date=date(2025, 11, 3), owner_id=alice.id)
    make.milestone("Return on Christmas Day", due_date=date(2025, 12, 25), owner_id=alice.id)
    make.milestone("Far away", due_date=date(2026, 6, 1), owner_id=alice.id)
    make.milestone("Done already", due_date=date(2025, 11, 1), owner_id=bob.id, status="done")
    make.milestone("Unowned claim", due_date=date(2025, 11, 20))
    db.session.commit()
    return alice, bob


def test_digest_prints_each_owners_overdue_and_coming(app, make, runner):
    _data(make)
    result = runner.invoke(args=["deadlines-digest", "--today", "2025-11-10", "--days", "50", "--print"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Alice <alice@example.org>" in out and "Overdue (1):" in out and "7 days overdue" in out
    assert "25/12/2025: Return on Christmas Day" in out and "Christmas Day (bank holiday)" in out
    assert "Far away" not in out and "Done already" not in out and "Bob" not in out
    assert "Deadlines with no owner" in out and "Unowned claim" in out


def test_digest_with_a_fixed_clock_changes_with_the_day(app, make, runner):
    _data(make)
    later = runner.invoke(args=["deadlines-digest", "--today", "2026-05-20", "--days", "14", "--print"]).output
    assert "Far away" in later and "Return on Christmas Day" in later  # now overdue
    bad = runner.invoke(args=["deadlines-digest", "--today", "20/05/2026"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


class FakeSMTP:
    sent: list = []
    instances: list = []

    def __init__(self, host, port, timeout=None):
        self.host, self.port, self.tls, self.login_args = host, port, False, None
        FakeSMTP.instances.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        self.tls = True

    def login(self, user, password):
        self.login_args = (user, password)

    def send_message(self, msg):
        FakeSMTP.sent.append(msg)


def test_digest_emails_each_owner_when_smtp_is_configured(app, make, runner, monkeypatch):
    _data(make)
    manager = make.user("manager", email="lead@example.org")
    db.session.commit()
    FakeSMTP.sent, FakeSMTP.instances = [], []
    monkeypatch.setattr(digest.smtplib, "SMTP", FakeSMTP)
    app.config.update(MAIL_SERVER="smtp.example.org", MAIL_PORT=587, MAIL_USERNAME="bot", MAIL_PASSWORD="pw",
                      MAIL_FROM="vru@example.org")
    try:
        result = runner.invoke(args=["deadlines-digest", "--today", "2025-11-10", "--days", "50"])
    finally:
        for key in ("MAIL_SERVER", "MAIL_PORT", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_FROM"):
            app.config.pop(key, None)
    assert result.exit_code == 0, result.output
    assert "Sent 2 deadline reminders" in result.output
    smtp = FakeSMTP.instances[0]
    assert (smtp.host, smtp.port, smtp.tls, smtp.login_args) == ("smtp.example.org", 587, True, ("bot", "pw"))
    by_to = {m["To"]: m for m in FakeSMTP.sent}
    assert "1 overdue" in by_to["alice@example.org"]["Subject"]
    assert "Overdue panel" in by_to["alice@example.org"].get_content()
    # Deadlines nobody owns go to the managers, who assign owners.
    unowned = [m for to, m in by_to.items() if "lead@example.org" in to][0]
    assert "Unowned claim" in unowned.get_content() and "alice@example.org" in unowned["To"]
