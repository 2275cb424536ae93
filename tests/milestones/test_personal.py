"""Deadlines per person: your tasks first, then your team's, then events; a viewer sees events and work done, no
overdue tasks and no badge; a closed year lets go of its undone tasks, and last year's statutory documents stop
being overdue once the next year's are due. Read on the deadlines page, the badge, home and the digest."""
from __future__ import annotations

from datetime import date

import pytest

from tracker.extensions import db
from tracker.milestones import digest, service

TODAY = date(2025, 11, 10)
PAST = date(2025, 10, 1)


@pytest.fixture
def fixed_today(app):
    app.config["MILESTONES_TODAY"] = TODAY
    yield TODAY
    app.config.pop("MILESTONES_TODAY", None)


def _sign_in(client, user) -> None:
    response = client.post("/sign-in", data={"email": user.email, "password": "correct-horse-battery-staple"})
    assert response.status_code == 302


def _section(text: str, start_id: str, end_id: str) -> str:
    return text[text.index(f'id="{start_id}"'):text.index(f'id="{end_id}"')]


def _people(make):
    manager = make.user("manager", name="Mo Manager")
    finance = make.user("finance", name="Fi Finance")
    make.milestone("Fi's claim", due_date=PAST, owner_id=finance.id, kind="grant claim")
    make.milestone("Mo's review", due_date=PAST, owner_id=manager.id, kind="contract review")
    make.milestone("Nobody's decision", due_date=PAST, kind="end decision")
    make.milestone("Fi's next return", due_date=date(2025, 11, 20), owner_id=finance.id, kind="quarterly return")
    make.milestone("A contract ends", due_date=date(2025, 11, 14), kind="contract end")
    make.milestone("Return issued", due_date=PAST, owner_id=finance.id, status="done", completed_date=PAST,
                   evidence="Sent")
    db.session.commit()
    return manager, finance


def test_finance_sees_their_own_tasks_first_and_not_a_managers_decision(client, auth, make, fixed_today):
    _manager, finance = _people(make)
    _sign_in(client, finance)
    text = client.get("/milestones/").text
    yours = _section(text, "group-overdue", "group-soon")
    assert "Fi&#39;s claim" in yours and "Nobody&#39;s decision" not in yours and "Mo&#39;s review" not in yours
    assert "Fi&#39;s next return" in _section(text, "group-soon", "group-team")
    team = _section(text, "group-team", "group-events")
    assert "Mo&#39;s review" in team and "Nobody&#39;s decision" in team
    assert "A contract ends" in _section(text, "group-events", "group-later")
    assert text.index("group-overdue") < text.index("group-team") < text.index("group-events")
    assert '<span class="badge">1</span>' in text


def test_a_manager_owns_the_unowned_decision(client, auth, make, fixed_today):
    manager, _finance = _people(make)
    _sign_in(client, manager)
    text = client.get("/milestones/").text
    yours = _section(text, "group-overdue", "group-soon")
    assert "Mo&#39;s review" in yours and "Nobody&#39;s decision" in yours and "Fi&#39;s claim" not in yours
    assert '<span class="badge">2</span>' in text


def test_home_lists_the_overdue_tasks_it_counts_and_only_the_persons_own(client, make, fixed_today):
    manager, finance = _people(make)
    _sign_in(client, finance)
    home = client.get("/").text
    panel = home[home.index('id="next-deadlines-heading"'):]
    assert "1 overdue task for you" in panel and "Fi&#39;s claim" in panel and "Fi&#39;s next return" in panel
    # Not a manager's decision, not someone else's review, not an event nobody acts on.
    assert "Nobody&#39;s decision" not in panel and "Mo&#39;s review" not in panel and "A contract ends" not in panel


def test_home_lists_more_overdue_tasks_than_it_shows_with_a_pointer(client, make, fixed_today):
    finance = make.user("finance", name="Fi Finance")
    for i in range(7):
        make.milestone(f"Late claim {i}", due_date=date(2025, 9, 1 + i), owner_id=finance.id, kind="grant claim")
    db.session.commit()
    _sign_in(client, finance)
    panel = client.get("/").text
    panel = panel[panel.index('id="next-deadlines-heading"'):]
    assert "7 overdue tasks for you" in panel and "the oldest 5 below" in panel
    assert all(f"Late claim {i}" in panel for i in range(5)) and "Late claim 6" not in panel


def test_the_viewer_sees_events_and_work_done_no_tasks_and_no_badge(client, auth, make, fixed_today):
    _people(make)
    auth.login("viewer")
    text = client.get("/milestones/").text
    assert 'id="group-overdue"' not in text and 'class="badge"' not in text and "Overdue" not in text
    assert "A contract ends" in text and "Return issued" in text
    assert "Fi&#39;s claim" not in text and "Nobody&#39;s decision" not in text
    home = client.get("/").text
    assert "overdue task" not in home and "Fi&#39;s next return" not in home and "A contract ends" in home
    assert "Fi&#39;s claim" not in client.get("/milestones/timeline").text


def test_a_closed_year_lets_go_of_its_undone_tasks(client, make, fixed_today):
    finance = make.user("finance", name="Fi Finance")
    last = make.year("2024-25", status="closed")
    make.milestone("Last year's Q4 claim", due_date=date(2025, 4, 20), owner_id=finance.id, kind="grant claim",
                   funding_year_id=last.id)
    make.milestone("This year's claim", due_date=PAST, owner_id=finance.id, kind="grant claim")
    db.session.commit()
    assert service.overdue_count(finance, TODAY) == 1
    _sign_in(client, finance)
    text = client.get("/milestones/").text
    assert "Last year&#39;s Q4 claim" not in _section(text, "group-overdue", "group-soon")
    closed = text[text.index('id="group-closed"'):]
    assert "Last year&#39;s Q4 claim" in closed and "Not done" in closed
    assert '<span class="badge">1</span>' in text
    # Shown under its year, as not done.
    assert "Not done" in client.get("/milestones/?year=2024-25").text
    assert not any(m.title == "Last year's Q4 claim" for d in digest.build_digests(TODAY, 14, db.session)
                   for m in d.overdue + d.coming)


def test_statutory_documents_of_a_year_that_ended_are_not_overdue_a_year_later(make):
    finance = make.user("finance")
    year = make.year("2024-25")  # ended, never closed
    plan = make.milestone("Delivery plan for 2024-25 due", due_date=date(2024, 3, 1), kind="statutory document",
                          owner_id=finance.id, funding_year_id=year.id)
    report = make.milestone("Annual report for 2024-25 due", due_date=date(2025, 6, 29), kind="annual report",
                            owner_id=finance.id, funding_year_id=year.id)
    db.session.commit()
    today = date(2025, 11, 10)
    # The delivery plan's next year's is due (more than a year on): superseded; the annual report is still owed.
    assert not service.is_overdue(plan, today) and service.lapsed(plan, today)
    assert service.is_overdue(report, today)
    assert service.overdue_count(finance, today) == 1
    a_year_later = date(2026, 7, 1)
    assert not service.is_overdue(report, a_year_later) and service.overdue_count(finance, a_year_later) == 0


def test_home_runs_the_same_queries_whatever_the_number_of_deadlines(client, make, fixed_today, count_queries):
    finance = make.user("finance", name="Fi Finance")
    years = [make.year(f"20{10 + i}-{11 + i}", status="closed" if i % 2 else "open") for i in range(15)]
    make.year("2025-26")
    make.milestone("Late claim", due_date=PAST, owner_id=finance.id, kind="grant claim")
    db.session.commit()
    _sign_in(client, finance)
    client.get("/")
    with count_queries() as few:
        client.get("/")
    for i, year in enumerate(years):
        make.milestone(f"Claim {i}", due_date=date(2025, 1 + i % 12, 1), owner_id=finance.id, kind="grant claim",
                       funding_year_id=year.id)
        make.milestone(f"Event {i}", due_date=date(2025, 12, 1 + i), kind="contract end")
    db.session.commit()
    with count_queries() as many:
        client.get("/")
    assert many.count == few.count
