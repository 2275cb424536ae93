"""Events (a contract ends) apart from tasks (decide on the end, submit the return): only tasks are overdue,
generated tasks have a default owner, and the navigation badge counts each user's own work."""
from datetime import date

import pytest
from sqlalchemy import select

from tracker.extensions import db
from tracker.milestones import service
from tracker.models import Milestone


@pytest.fixture
def fixed_today(app):
    app.config["MILESTONES_TODAY"] = date(2025, 11, 10)
    yield date(2025, 11, 10)
    app.config.pop("MILESTONES_TODAY", None)


def _by_key(key: str) -> Milestone:
    return db.session.scalar(select(Milestone).where(Milestone.source_key == key))


def test_a_passed_end_date_is_an_event_and_the_decision_is_an_overdue_task(make, fixed_today):
    c = make.commission(end_date=date(2025, 10, 31))
    db.session.commit()
    end, decision = _by_key(f"commission:{c.id}:end"), _by_key(f"commission:{c.id}:decision")
    assert end.is_event and not service.is_overdue(end, fixed_today)
    assert not decision.is_event and service.is_overdue(decision, fixed_today)
    assert decision.title.endswith("decide: extend, re-procure or let end") and decision.due_date == c.end_date
    groups = service.grouped([end, decision], fixed_today)
    assert groups["overdue"] == [decision] and groups["closed"] == [end]


def test_recording_the_decision_closes_the_task_and_a_decided_commission_gets_none(make, fixed_today):
    c = make.commission(end_date=date(2025, 10, 31))
    decided = make.commission(end_date=date(2025, 10, 31), end_decision="let end")
    db.session.commit()
    assert _by_key(f"commission:{decided.id}:decision") is None
    c.end_decision = "re-procure"
    db.session.commit()
    task = _by_key(f"commission:{c.id}:decision")
    assert task.status == "done" and task.completed_date is not None and "re-procure" in task.evidence
    assert not service.is_overdue(task, fixed_today)


def test_generated_tasks_belong_to_the_contract_manager_or_the_managers_and_the_years_to_the_finance_lead(make):
    manager = make.user("manager", name="Sam Contract")
    lead = make.user("finance", name="Fin Lead")
    stream = make.stream("Serious Violence Duty", finance_lead_id=lead.id)
    year = make.year("2025-26")
    make.allocation(year=year, stream=stream)
    line = make.budget_line(year=year, stream=stream)
    mine = make.commission(budget_line=line, contract_manager="sam contract")
    nobody = make.commission(budget_line=line, contract_manager="Someone Without An Account")
    db.session.commit()
    assert _by_key(f"commission:{mine.id}:decision").owner_id == manager.id
    # Deciding on a contract is a manager's work: with no contract manager's account it waits for the managers,
    # never on the finance lead's list.
    assert _by_key(f"commission:{nobody.id}:decision").owner_id is None
    assert _by_key(f"year:{year.id}:q1-return").owner_id == lead.id
    assert all(m.owner_id for m in db.session.scalars(select(Milestone).where(Milestone.source_key.like("year:%"))))


def test_the_default_owner_follows_the_contract_manager_but_a_persons_choice_stays(make):
    first, second, chosen = make.user("manager", name="First"), make.user("manager", name="Second"), make.user()
    c = make.commission(contract_manager="First", review_date=date(2025, 9, 1))
    db.session.commit()
    review = _by_key(f"commission:{c.id}:review")
    review.owner_id, review.owner_is_default = chosen.id, False  # what the edit form does
    db.session.commit()
    c.contract_manager = "Second"
    db.session.commit()
    assert _by_key(f"commission:{c.id}:decision").owner_id == second.id
    assert _by_key(f"commission:{c.id}:review").owner_id == chosen.id
    assert first.id != second.id


def test_a_default_owner_alone_does_not_keep_a_deadline_whose_source_went(make):
    make.user("manager", name="First")
    c = make.commission(contract_manager="First", review_date=date(2025, 9, 1))
    db.session.commit()
    c.review_date = None
    db.session.commit()
    assert _by_key(f"commission:{c.id}:review") is None


def test_the_badge_counts_own_tasks_plus_unowned_for_managers_and_nothing_for_viewers(client, auth, make, fixed_today):
    manager = auth.login("manager")
    finance = make.user("finance")
    past = date(2025, 10, 1)
    make.milestone("Mine", due_date=past, owner_id=manager.id)
    make.milestone("Unowned", due_date=past)
    make.milestone("Finance's", due_date=past, owner_id=finance.id)
    make.milestone("An event", due_date=past, kind="contract end", owner_id=manager.id)
    make.milestone("Done", due_date=past, status="done", owner_id=manager.id)
    db.session.commit()
    assert service.overdue_count(manager, fixed_today) == 2
    assert service.overdue_count(finance, fixed_today) == 1
    viewer = make.user("viewer")
    db.session.commit()  # sign-out writes (it ends the session on the server): the test holds no write open
    assert service.overdue_count(viewer, fixed_today) == 0
    assert '<span class="badge">2</span>' in client.get("/").text
    auth.logout()
    auth.login("viewer")
    assert 'class="badge"' not in client.get("/milestones/").text


def test_the_page_shows_weeks_and_folds_what_is_after_30_days(client, auth, make, fixed_today):
    auth.login("manager")
    make.milestone("This week's thing", due_date=date(2025, 11, 12))
    make.milestone("Next week's thing", due_date=date(2025, 11, 17))
    make.milestone("Far away", due_date=date(2026, 2, 2))
    db.session.commit()
    text = client.get("/milestones/").text
    assert text.index("This week (from Monday 10 November)") < text.index("This week&#39;s thing") \
        < text.index("Next week (from Monday 17 November)") < text.index("Next week&#39;s thing")
    later = text.index('<details class="deadline-group deadline-group--later"')
    assert later < text.index("Week from Monday 2 February 2026") < text.index("Far away")
    assert "Not set" not in text


def test_weeks_start_on_monday():
    today = date(2025, 11, 10)
    items = [Milestone(title="a", due_date=date(2025, 11, 16)), Milestone(title="b", due_date=date(2025, 11, 17))]
    weeks = service.by_week(items, today)
    assert [w.monday for w in weeks] == [date(2025, 11, 10), date(2025, 11, 17)]
    assert [len(w.items) for w in weeks] == [1, 1]


def test_the_return_lists_a_contract_end_as_an_event_not_a_task(make):
    from tracker.returns.builder import milestones_table

    year = make.year("2025-26")
    c = make.commission(end_date=date(2025, 6, 30), year=year)
    db.session.commit()
    rows = {row[1]: row[4] for row in milestones_table(year, 1, date(2025, 6, 30)).rows}
    assert rows[f"{c.reference} {c.title}: ends"] == "Event"
    assert rows[f"{c.reference} {c.title}: decide: extend, re-procure or let end"] == "Not started"


@pytest.mark.parametrize("bad", ["abc", "999999", "manager"])
def test_a_stream_gets_a_finance_lead_from_the_list_only(client, auth, make, bad):
    from tracker.models import FundingStream

    lead = make.user("finance", name="Fin Lead")
    manager = make.user("manager", name="Not Finance")
    stream = make.stream("Hotspot Action Fund")
    db.session.commit()
    auth.login("finance")
    listing = client.get("/funding/streams").text
    assert "Nobody yet" in listing and f'/funding/streams/{stream.id}/edit' in listing
    good = {"name": stream.name, "funder": "Home Office", "claim_frequency": "quarterly", "claim_due_days": "30",
            "claim_basis": "defrayed", "claim_timing": "arrears", "final_claim_due_days": "45", "active": "y"}
    value = str(manager.id) if bad == "manager" else bad  # a manager is not offered: finance staff and admins are
    refused = client.post(f"/funding/streams/{stream.id}/edit", data={**good, "finance_lead_id": value})
    assert refused.status_code == 422
    db.session.expire_all()
    assert db.session.get(FundingStream, stream.id).finance_lead_id is None
    assert client.post(f"/funding/streams/{stream.id}/edit",
                       data={**good, "finance_lead_id": str(lead.id)}).status_code == 303
    db.session.expire_all()
    assert db.session.get(FundingStream, stream.id).finance_lead_id == lead.id
    assert "Fin Lead" in client.get("/funding/streams").text


def test_a_viewer_or_a_disabled_account_never_owns_a_task(make):
    make.user("viewer", name="Pat Viewer")
    make.user("manager", name="Gone Manager", active=False)
    a = make.commission(contract_manager="Pat Viewer")
    b = make.commission(contract_manager="Gone Manager")
    db.session.commit()
    assert _by_key(f"commission:{a.id}:decision").owner_id is None  # no finance lead either: nobody yet
    assert _by_key(f"commission:{b.id}:decision").owner_id is None


def test_an_event_is_not_marked_done_and_its_form_has_no_status(client, auth, make):
    auth.login("manager")
    c = make.commission()
    db.session.commit()
    end = _by_key(f"commission:{c.id}:end")
    page = client.get(f"/milestones/{end.id}")
    assert page.status_code == 200 and "Mark done" not in page.text and "An event" in page.text
    assert client.get(f"/milestones/{end.id}/complete").status_code == 409
    assert client.post(f"/milestones/{end.id}/complete", data={"completed_date": "01/05/2025"}).status_code == 409
    form = client.get(f"/milestones/{end.id}/edit").text
    assert 'name="status"' not in form and 'name="owner_id"' in form
    db.session.refresh(end)
    assert end.status == "not started" and end.completed_date is None


def test_the_digest_reminds_of_tasks_and_coming_events_but_never_calls_an_event_overdue(make):
    from tracker.milestones import digest

    owner = make.user("manager", name="Digest Person")
    today = date(2025, 11, 10)
    make.milestone("Past end", due_date=date(2025, 11, 1), kind="contract end", owner_id=owner.id)
    make.milestone("Coming end", due_date=date(2025, 11, 14), kind="contract end", owner_id=owner.id)
    make.milestone("Late task", due_date=date(2025, 11, 1), owner_id=owner.id)
    db.session.commit()
    (mine,) = [d for d in digest.build_digests(today, 14, db.session) if d.owner and d.owner.id == owner.id]
    assert [m.title for m in mine.overdue] == ["Late task"]
    assert [m.title for m in mine.coming] == ["Coming end"]
    text = digest.format_digest(mine, today, 14)
    assert "Coming end [Other; event]" in text and "Past end" not in text


def test_each_quarter_end_is_an_event_before_its_return_task(make, fixed_today):
    year = make.year("2025-26")
    db.session.commit()
    end, task = _by_key(f"year:{year.id}:q2-end"), _by_key(f"year:{year.id}:q2-return")
    assert end.is_event and end.due_date == date(2025, 9, 30) and "return period closes" in end.title
    assert not task.is_event and task.due_date > end.due_date
    assert not service.is_overdue(end, fixed_today) and service.is_overdue(task, fixed_today)
