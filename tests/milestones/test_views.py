"""The deadline screens: grouping, filters (HTMX and plain), forms with bad input, completion, the badge, home."""
from datetime import date

import pytest
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import AuditEvent, Milestone


@pytest.fixture
def fixed_today(app):
    app.config["MILESTONES_TODAY"] = date(2025, 11, 10)
    yield date(2025, 11, 10)
    app.config.pop("MILESTONES_TODAY", None)


def test_list_groups_and_marks_bank_holidays(client, auth, make, fixed_today):
    auth.login("manager")
    make.milestone("Christmas return", due_date=date(2025, 12, 25), programme="VRU grant")
    make.milestone("Late panel", due_date=date(2025, 10, 31), programme="Young Futures")
    make.milestone("Done thing", due_date=date(2025, 7, 31), status="done", completed_date=date(2025, 7, 30))
    db.session.commit()
    page = client.get("/milestones/")
    assert page.status_code == 200
    text = page.text
    overdue, soon, later, closed = (text.index(h) for h in ("Your overdue tasks", "Your tasks in the next 30 days",
                                                            "Later", "Done, not done, missed or past"))
    assert overdue < text.index("Late panel") < soon < later < text.index("Christmas return") < closed < text.index("Done thing")
    assert "Christmas Day (bank holiday)" in text
    assert '<span class="badge">1</span>' in text  # one overdue task nobody owns, in a manager's navigation


def test_filters_by_programme_owner_and_year_with_htmx_and_without(client, auth, make, fixed_today):
    user = auth.login("manager")
    year = make.year("2025-26")
    make.milestone("Panel", programme="Young Futures", owner_id=user.id, funding_year_id=year.id)
    make.milestone("Claim", programme="VRU grant", due_date=date(2027, 5, 1))
    db.session.commit()
    plain = client.get(f"/milestones/?programme=Young+Futures&owner={user.id}&year=2025-26")
    assert plain.status_code == 200 and "Panel" in plain.text and "Claim" not in plain.text and "<html" in plain.text
    fragment = client.get("/milestones/?programme=VRU+grant", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="milestone-results"' in fragment.text
    assert "Claim" in fragment.text and ">Panel<" not in fragment.text
    assert "Claim" in client.get("/milestones/?owner=none").text
    timeline = client.get("/milestones/timeline?year=2025-26")
    assert timeline.status_code == 200 and "July 2025" in timeline.text


@pytest.mark.parametrize("query", ["programme=Nope", "owner=abc", "owner=99999", "owner=" + "9" * 40])
def test_bad_filters_are_explained_not_500(client, auth, query):
    auth.login("viewer")
    for url in (f"/milestones/?{query}", f"/milestones/timeline?{query}", f"/milestones/deadlines.ics?{query}"):
        response = client.get(url)
        assert response.status_code == 400, url
    assert "There is a problem" in client.get(f"/milestones/?{query}").text


@pytest.mark.parametrize("query, status", [("year=2099-00", 404), ("year=" + "x" * 500, 400)])
def test_a_bad_year_gets_the_message_every_page_gives(client, auth, query, status):
    # The one reading of ?year= (tracker/funding/rules.py, choose_year), as on the budget, register and returns.
    auth.login("viewer")
    for url in (f"/milestones/?{query}", f"/milestones/timeline?{query}", f"/milestones/deadlines.ics?{query}"):
        response = client.get(url)
        assert response.status_code == status and "There is no funding year" in response.text, url


def _form(**overrides):
    data = {"title": "Panel terms agreed", "programme": "Young Futures", "due_date": "2025-07-31", "owner_id": "",
            "status": "not started", "completed_date": "", "evidence": "", "evidence_link": "",
            "funding_year_id": "", "commission_id": ""}
    data.update(overrides)
    return data


def test_manager_adds_a_milestone_and_it_is_audited(client, auth):
    auth.login("manager")
    response = client.post("/milestones/new", data=_form())
    assert response.status_code == 303
    m = db.session.scalar(select(Milestone).where(Milestone.title == "Panel terms agreed"))
    assert m.due_date == date(2025, 7, 31)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.object_type == "Milestone", AuditEvent.object_id == m.id)).kind == "create"
    htmx = client.post("/milestones/new", data=_form(title="Second"), headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"].startswith("/milestones/")


@pytest.mark.parametrize("overrides", [
    {"title": ""}, {"due_date": "31/02/2025"}, {"due_date": ""}, {"programme": "Nope"}, {"status": "finished"},
    {"owner_id": "abc"}, {"owner_id": "99999"}, {"evidence_link": "javascript:alert(1)"}, {"status": "done"},
    {"completed_date": "2025-07-01"}, {"title": "x" * 201}, {"commission_id": "12345"},
    {"status": "done", "completed_date": "2999-01-01", "evidence": "x"},
])
def test_bad_input_is_422_and_changes_nothing(client, auth, overrides):
    auth.login("manager")
    response = client.post("/milestones/new", data=_form(**overrides))
    assert response.status_code == 422
    assert "There is a problem" in response.text and "<title>Error: " in response.text
    assert db.session.scalar(select(func.count(Milestone.id))) == 0
    htmx = client.post("/milestones/new", data=_form(**overrides), headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and "<html" not in htmx.text and 'id="milestone-form"' in htmx.text


def test_complete_needs_evidence_then_records_it(client, auth, make):
    auth.login("manager")
    m = make.milestone("First operational panel", due_date=date(2025, 10, 31))
    db.session.commit()
    bad = client.post(f"/milestones/{m.id}/complete", data={"completed_date": "2025-10-29", "evidence": "", "evidence_link": ""})
    assert bad.status_code == 422
    db.session.expire_all()
    assert db.session.get(Milestone, m.id).status == "not started"
    good = client.post(f"/milestones/{m.id}/complete", data={
        "completed_date": "2025-10-29", "evidence": "First panel met", "evidence_link": "https://docs.example/minutes"})
    assert good.status_code == 303
    db.session.expire_all()
    done = db.session.get(Milestone, m.id)
    assert (done.status, done.completed_date, done.evidence_link) == ("done", date(2025, 10, 29), "https://docs.example/minutes")
    page = client.get(f"/milestones/{m.id}")
    assert "Completed milestone" in page.text and "https://docs.example/minutes" in page.text


def test_editing_a_generated_deadline_keeps_its_date(client, auth, make):
    auth.login("manager")
    c = make.commission(end_date=date(2026, 3, 31))
    db.session.commit()
    # The decision on the end: a generated task (the end itself is an event, with no status to edit).
    m = db.session.scalar(select(Milestone).where(Milestone.source_key == f"commission:{c.id}:decision"))
    response = client.post(f"/milestones/{m.id}/edit", data={"status": "in progress", "owner_id": "", "completed_date": "",
                                                              "evidence": "Talking to the provider", "evidence_link": "",
                                                              "due_date": "2030-01-01", "title": "Hacked"})
    assert response.status_code == 303
    db.session.expire_all()
    m = db.session.get(Milestone, m.id)
    assert (m.status, m.due_date) == ("in progress", date(2026, 3, 31)) and m.title != "Hacked"


def test_closed_year_milestones_cannot_change(client, auth, make):
    auth.login("manager")
    year = make.year("2024-25", status="closed")
    m = make.milestone("Old", funding_year_id=year.id)
    db.session.commit()
    assert client.post(f"/milestones/{m.id}/edit", data=_form(title="New")).status_code == 409
    assert client.post("/milestones/new", data=_form(funding_year_id=str(year.id))).status_code == 409
    assert db.session.scalar(select(func.count(Milestone.id))) == 1


def test_viewer_reads_but_cannot_change(client, auth, make):
    auth.login("viewer")
    m = make.milestone("Panel")
    db.session.commit()
    assert client.get(f"/milestones/{m.id}").status_code == 200
    assert client.get("/milestones/new").status_code == 403
    assert client.post(f"/milestones/{m.id}/complete", data={"completed_date": "2025-07-01", "evidence": "x"}).status_code == 403
    assert client.get("/milestones/999999").status_code == 404


def test_home_shows_the_next_deadlines(client, auth, make):
    auth.login("manager")
    make.milestone("Far future panel", due_date=date(2099, 1, 1))
    db.session.commit()
    page = client.get("/")
    assert page.status_code == 200 and "Your next deadlines" in page.text and "Far future panel" in page.text


def test_list_runs_a_fixed_number_of_queries(client, auth, make, count_queries):
    auth.login("viewer")
    for i in range(3):
        make.commission(review_date=date(2025, 9, 1))
    db.session.commit()
    with count_queries() as few:
        client.get("/milestones/")
    for i in range(6):
        make.commission(review_date=date(2025, 9, 1), owner=None) if False else make.commission(review_date=date(2025, 9, 1))
        make.milestone(owner_id=make.user().id)
    db.session.commit()
    with count_queries() as many:
        client.get("/milestones/")
    assert many.count == few.count


def test_the_milestone_form_takes_the_same_uk_date_as_every_other_form(client, auth):
    auth.login("manager")
    page = client.get("/milestones/new").text
    assert 'type="date"' not in page and "Day, month and year, for example 31/03/2026" in page
    assert client.post("/milestones/new", data=_form(title="Typed the UK way", due_date="31/7/2025")).status_code == 303
    assert db.session.scalar(select(Milestone.due_date).where(Milestone.title == "Typed the UK way")) == date(2025, 7, 31)
    before = db.session.scalar(select(func.count(Milestone.id)))
    wrong = client.post("/milestones/new", data=_form(title="American", due_date="07/31/2025"))
    assert wrong.status_code == 422 and wrong.text.count("The due date must be a real date, like 31/07/2025") == 2
    assert db.session.scalar(select(func.count(Milestone.id))) == before


def test_a_milestone_added_from_a_commission_page_starts_linked_to_it(client, auth, make):
    auth.login("manager")
    c = make.commission(reference="VRU-25-777")
    db.session.commit()
    show = client.get(f"/commissions/{c.id}").text
    assert f'href="/milestones/new?commission={c.id}"' in show
    decision = db.session.scalar(select(Milestone).where(Milestone.source_key == f"commission:{c.id}:decision"))
    assert f'href="/milestones/{decision.id}"' in show  # each milestone links to its page
    form = client.get(f"/milestones/new?commission={c.id}").text
    assert f'<option selected value="{c.id}">' in form and "For VRU-25-777" in form
    assert client.get("/milestones/new?commission=abc").status_code == 400
    assert client.get("/milestones/new?commission=999999").status_code == 404


def test_choosing_an_owner_stops_the_app_moving_it(client, auth, make):
    auth.login("manager")
    make.user("manager", name="Contract Person")
    other = make.user("manager", name="Other Person")
    c = make.commission(contract_manager="Contract Person")
    db.session.commit()
    task = db.session.scalar(select(Milestone).where(Milestone.source_key == f"commission:{c.id}:decision"))
    assert task.owner_is_default
    response = client.post(f"/milestones/{task.id}/edit", data={"owner_id": str(other.id), "status": "in progress",
                                                               "completed_date": "", "evidence": "", "evidence_link": ""})
    assert response.status_code == 303
    db.session.refresh(task)
    assert task.owner_id == other.id and not task.owner_is_default


def test_the_commission_form_has_the_young_futures_hint_and_the_common_date_hint(client, auth):
    auth.login("manager")
    page = client.get("/commissions/new").text
    assert "Young Futures is a funding stream and a programme, not a strand" in page
    assert page.count("Day, month and year, for example 31/03/2026") == 3  # start, end and review dates
