"""A milestone saved (or marked done) from a form opened before someone else's save is refused with both
versions shown; the add form sent twice adds one milestone."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from tests.pages import hidden
from tracker.extensions import db
from tracker.models import Milestone


def edit_data(m, version: str, **changes) -> dict:
    data = {"title": m.title, "programme": m.programme, "due_date": "31/07/2025", "owner_id": "",
            "status": "not started", "completed_date": "", "evidence": "", "evidence_link": "",
            "funding_year_id": "", "commission_id": "", "version": version}
    return {**data, **changes}


def test_a_stale_milestone_form_is_refused_with_both_versions(client, auth, make):
    m = make.milestone("Panel terms agreed", due_date=date(2025, 7, 31))
    db.session.commit()
    auth.login("manager")
    url = f"/milestones/{m.id}/edit"
    version = hidden(client.get(url).text, "version")
    assert client.post(url, data=edit_data(m, version, status="in progress")).status_code == 303
    stale = client.post(url, data=edit_data(m, version, title="Panel terms signed"))
    assert stale.status_code == 409 and "Panel terms signed" in stale.text and "in progress" in stale.text
    db.session.expire_all()
    saved = db.session.get(Milestone, m.id)
    assert (saved.title, saved.status) == ("Panel terms agreed", "in progress")


def test_marking_done_from_a_stale_page_is_refused(client, auth, make):
    m = make.milestone("Panel terms agreed", due_date=date(2025, 7, 31))
    db.session.commit()
    auth.login("manager")
    version = hidden(client.get(f"/milestones/{m.id}/complete").text, "version")
    assert client.post(f"/milestones/{m.id}/edit", data=edit_data(m, version, title="Panel terms (final)")
                       ).status_code == 303
    stale = client.post(f"/milestones/{m.id}/complete", data={
        "completed_date": "30/07/2025", "evidence": "Minutes of 30 July", "evidence_link": "", "version": version})
    assert stale.status_code == 409
    db.session.expire_all()
    assert db.session.get(Milestone, m.id).status == "not started"


def test_a_double_posted_milestone_is_added_once(client, auth):
    auth.login("manager")
    token = hidden(client.get("/milestones/new").text, "once")
    data = {"title": "Panel terms agreed", "programme": "Other", "due_date": "31/07/2025", "owner_id": "",
            "status": "not started", "completed_date": "", "evidence": "", "evidence_link": "",
            "funding_year_id": "", "commission_id": "", "once": token}
    first, second = client.post("/milestones/new", data=data), client.post("/milestones/new", data=data)
    assert first.status_code == second.status_code == 303 and first.location == second.location
    assert db.session.scalar(select(func.count()).select_from(Milestone)) == 1
