""""Done only with evidence" (the ``milestone_done_needs_evidence`` setting, monitoring's rule) on the
milestone forms: refused at the evidence field with 422 and nothing saved; a note, a link or an attached
document is enough; with the setting off, done needs nothing."""
from __future__ import annotations

from datetime import date

import pytest

from tracker import settings
from tracker.extensions import db
from tracker.models import Milestone
from tracker.models.monitoring import Document

HX = {"HX-Request": "true"}
MESSAGE = "Add evidence before marking this milestone done"


def _edit_form(m, **overrides):
    data = {"title": m.title, "programme": m.programme or "", "due_date": m.due_date.isoformat(), "owner_id": "",
            "status": "done", "completed_date": "2025-07-30", "evidence": "", "evidence_link": "",
            "funding_year_id": "", "commission_id": ""}
    data.update(overrides)
    return data


def _status(m) -> str:
    db.session.expire_all()
    return db.session.get(Milestone, m.id).status


@pytest.fixture
def milestone(make, auth):
    auth.login("manager")
    m = make.milestone("Panel terms agreed", due_date=date(2025, 7, 31))
    db.session.commit()
    return m


@pytest.mark.parametrize("headers", [{}, HX])
def test_complete_without_evidence_is_refused_at_the_field(client, milestone, headers):
    r = client.post(f"/milestones/{milestone.id}/complete", headers=headers,
                    data={"completed_date": "2025-07-30", "evidence": "  ", "evidence_link": ""})
    assert r.status_code == 422 and MESSAGE in r.text
    at_field = r.text.split('id="evidence-error"', 1)
    assert len(at_field) == 2 and MESSAGE in at_field[1][:200]  # at the field, not only in the summary
    assert _status(milestone) == "not started"


@pytest.mark.parametrize("headers", [{}, HX])
def test_edit_to_done_without_evidence_is_refused(client, milestone, headers):
    r = client.post(f"/milestones/{milestone.id}/edit", data=_edit_form(milestone), headers=headers)
    assert r.status_code == 422 and MESSAGE in r.text.split('id="evidence-error"', 1)[1][:200]
    db.session.expire_all()
    m = db.session.get(Milestone, milestone.id)
    assert (m.status, m.completed_date) == ("not started", None)


def test_taking_the_evidence_away_from_a_done_milestone_is_refused(client, make, auth):
    auth.login("manager")
    m = make.milestone("Q1 return sent", status="done", completed_date=date(2025, 7, 30), evidence="Sent by e-mail")
    db.session.commit()
    r = client.post(f"/milestones/{m.id}/edit", data=_edit_form(m, evidence=""))
    assert r.status_code == 422 and MESSAGE in r.text
    db.session.expire_all()
    assert db.session.get(Milestone, m.id).evidence == "Sent by e-mail"


def test_an_old_done_milestone_without_evidence_can_still_be_edited(client, make, auth):
    auth.login("manager")
    m = make.milestone("Before the rule", status="done", completed_date=date(2025, 7, 30))
    db.session.commit()
    assert client.post(f"/milestones/{m.id}/edit", data=_edit_form(m, title="Before the rule (renamed)")).status_code == 303


def test_an_attached_document_is_evidence(client, milestone):
    db.session.add(Document(kind="evidence", title="Minutes", milestone_id=milestone.id))
    db.session.commit()
    r = client.post(f"/milestones/{milestone.id}/complete", data={"completed_date": "2025-07-30", "evidence": "",
                                                                  "evidence_link": ""})
    assert r.status_code == 303 and _status(milestone) == "done"


def test_a_link_is_evidence_on_the_edit_form(client, milestone):
    r = client.post(f"/milestones/{milestone.id}/edit",
                    data=_edit_form(milestone, evidence_link="https://docs.example/minutes"))
    assert r.status_code == 303 and _status(milestone) == "done"


def test_with_the_setting_off_done_needs_no_evidence(client, milestone):
    settings.put("milestone_done_needs_evidence", "false")
    db.session.commit()
    r = client.post(f"/milestones/{milestone.id}/complete", data={"completed_date": "2025-07-30", "evidence": "",
                                                                  "evidence_link": ""})
    assert r.status_code == 303 and _status(milestone) == "done"
