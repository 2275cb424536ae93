"""`flask create-user` and `flask seed-demo`."""
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Commission, FundingYear, LedgerTransaction, Milestone, User


def test_create_user_from_environment_password(runner, monkeypatch):
    monkeypatch.setenv("TRACKER_PASSWORD", "a-long-enough-passphrase")
    result = runner.invoke(args=["create-user", "New.Person@Example.org", "--role", "finance", "--name", "New Person"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "new.person@example.org"))
    assert user.role == "finance" and user.name == "New Person"
    again = runner.invoke(args=["create-user", "new.person@example.org", "--role", "viewer"])
    assert again.exit_code == 0 and "Updated" in again.output
    db.session.expire_all()
    assert db.session.get(User, user.id).role == "viewer"


def test_create_user_refuses_weak_passwords_and_bad_roles(runner, monkeypatch):
    monkeypatch.setenv("TRACKER_PASSWORD", "short")
    result = runner.invoke(args=["create-user", "a@example.org", "--role", "admin"])
    assert result.exit_code != 0 and "at least 12" in result.output
    monkeypatch.setenv("TRACKER_PASSWORD", "a-long-enough-passphrase")
    assert runner.invoke(args=["create-user", "a@example.org", "--role", "king"]).exit_code != 0
    assert runner.invoke(args=["create-user", "not-an-email", "--role", "admin"]).exit_code != 0
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_seed_demo_is_realistic_and_idempotent(runner):
    first = runner.invoke(args=["seed-demo", "--today", "2026-03-31"])
    assert first.exit_code == 0, first.output
    assert first.output.count("@vru.example") == 4
    counts = lambda: (db.session.scalar(select(func.count(Commission.id))),
                      db.session.scalar(select(func.count(LedgerTransaction.id))),
                      db.session.scalar(select(func.count(Milestone.id))))
    before = counts()
    assert 20 <= before[0] <= 30 and before[1] >= 200 and before[2] >= 5
    statuses = set(db.session.scalars(select(Commission.status)))
    assert statuses == {"pipeline", "approved", "procuring", "awarded", "live", "ended", "terminated"}
    assert {y.label: y.status for y in db.session.scalars(select(FundingYear))} == {
        "2024-25": "closed", "2025-26": "open", "2026-27": "draft"}
    second = runner.invoke(args=["seed-demo", "--today", "2026-03-31"])
    assert second.exit_code == 0 and "already exist" in second.output
    assert counts() == before


def test_home_shows_real_figures_from_the_demo(runner, client, auth):
    runner.invoke(args=["seed-demo", "--today", "2026-03-31"])
    auth.login("viewer")
    page = client.get("/").text
    assert "Funding year 2025-26" in page
    assert "£1,880,000" in page  # the four allocations: 1,370,000 + 235,000 + 200,000 + 75,000
    assert "Home Office VRU core grant" in page and "Serious Youth Violence" in page
    total_actual = db.session.scalar(select(func.sum(LedgerTransaction.net_pence)).join(FundingYear)
                                     .where(FundingYear.label == "2025-26"))
    from tracker.money import format_pence

    assert format_pence(total_actual) in page
