""""Done only with evidence" (the ``milestone_done_needs_evidence`` setting; ``has_evidence`` and
``done_problem`` in tracker/milestones/service.py): the rule itself, the service functions that apply it without
a request, and the milestone forms: refused at the evidence field with 422 and nothing saved; a note, a link or
an attached document is enough; with the setting off, done needs nothing. The monitoring area's side (documents
it keeps count; deleting the only one warns) is in tests/monitoring/test_documents.py."""
from __future__ import annotations

from datetime import date

import pytest

from tracker import settings
from tracker.extensions import db
from tracker.milestones import service
from tracker.models import AuditEvent, Milestone
from tracker.models.monitoring import Document

HX = {"HX-Request": "true"}
MESSAGE = "Add evidence before marking this milestone done"


# --- The rule ------------------------------------------------------------------------------------------------

def test_a_note_a_link_or_an_attached_document_is_evidence(app, make):
    m = make.milestone()
    assert not service.has_evidence(m) and service.done_problem(m).startswith(MESSAGE)
    assert service.has_evidence(m, note="Minutes of 3 March") and service.has_evidence(m, link="https://x.example/m")
    assert not service.has_evidence(m, note="   ")  # blank is not evidence
    m.evidence_link = "https://docs.example/minutes"
    assert service.has_evidence(m) and service.done_problem(m) is None
    assert not service.has_evidence(m, link="")  # what is about to be saved counts, not what is there
    m.evidence_link = ""
    document = Document(kind="evidence", title="Minutes", milestone_id=m.id)
    db.session.add(document)
    db.session.flush()
    assert service.has_evidence(m)
    assert not service.has_evidence(m, besides_document_id=document.id)


def test_with_the_setting_off_the_rule_asks_for_nothing(app, make):
    m = make.milestone()
    settings.put("milestone_done_needs_evidence", "false")
    assert service.done_problem(m) is None


def test_a_person_s_evidence_keeps_a_generated_deadline_whose_source_goes(make):
    """Sync keeps a generated deadline a person put evidence on, an attached document included (the same rule)."""
    c = make.commission()
    db.session.commit()
    end = db.session.scalar(db.select(Milestone).where(Milestone.source_key == f"commission:{c.id}:end"))
    db.session.add(Document(kind="evidence", title="Exit plan", milestone_id=end.id))
    db.session.commit()
    db.session.delete(c)
    db.session.commit()
    kept = db.session.get(Milestone, end.id)
    assert kept is not None and kept.source_key is None and kept.commission_id is None


# --- The service functions, without a request -----------------------------------------------------------------

def _audits(m) -> list[str]:
    return list(db.session.scalars(db.select(AuditEvent.kind).where(
        AuditEvent.object_type == "Milestone", AuditEvent.object_id == m.id).order_by(AuditEvent.id)))


def test_add_milestone_refuses_done_without_evidence_and_adds_nothing(app):
    values = dict(title="Panel met", programme="Young Futures", due_date=date(2025, 7, 31), status="done",
                  completed_date=date(2025, 7, 30), evidence="", evidence_link="")
    with pytest.raises(service.NeedsEvidence, match=MESSAGE):
        service.add_milestone(values)
    assert db.session.scalar(db.select(db.func.count(Milestone.id))) == 0
    m = service.add_milestone({**values, "evidence": "Minutes"})
    db.session.commit()
    assert (m.status, m.evidence) == ("done", "Minutes") and _audits(m) == ["create"]


def test_add_milestone_drops_a_completed_date_unless_done(app):
    m = service.add_milestone(dict(title="Plan", due_date=date(2025, 7, 31), status="in progress",
                                   completed_date=date(2025, 7, 1)))
    assert m.completed_date is None


def test_change_milestone_checks_before_changing_anything(app, make):
    m = make.milestone("Q1 return sent", status="done", completed_date=date(2025, 7, 30), evidence="Sent by e-mail")
    db.session.commit()
    with pytest.raises(service.NeedsEvidence):
        service.change_milestone(m, {"title": "Q1 return", "evidence": ""})
    assert (m.title, m.evidence) == ("Q1 return sent", "Sent by e-mail")  # nothing half-changed
    assert service.change_milestone(m, {"title": "Q1 return"}) == ["title"]
    assert service.change_milestone(m, {"title": "Q1 return"}) == []
    db.session.commit()
    assert _audits(m) == ["change"]


def test_complete_milestone_records_the_date_and_evidence(app, make):
    m = make.milestone()
    db.session.commit()
    with pytest.raises(service.NeedsEvidence):
        service.complete_milestone(m, date(2025, 7, 30))
    assert m.status == "not started"
    service.complete_milestone(m, date(2025, 7, 30), evidence_link="https://docs.example/minutes")
    db.session.commit()
    assert (m.status, m.completed_date, m.evidence_link) == ("done", date(2025, 7, 30), "https://docs.example/minutes")
    assert _audits(m) == ["change"]


def test_an_event_is_never_completed(app, make):
    m = make.milestone("Contract ends", kind="contract end")
    with pytest.raises(ValueError, match="is an event"):
        service.complete_milestone(m, date(2025, 7, 30), evidence="Ended")
    assert m.status == "not started"


# --- The forms -----------------------------------------------------------------------------------------------


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
