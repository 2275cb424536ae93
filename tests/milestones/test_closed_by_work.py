"""A task closes when the record that does its work says so: a claim sent to the funder, a return issued, a
Procurement Act notice published. Each is done through the web, then read where people meet it: the deadlines
page, the navigation badge and the daily digest."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.returns.conftest import build_small
from tracker.extensions import db
from tracker.milestones import service
from tracker.models import Claim, Milestone, ProcurementNotice
from tracker.procurement.notices import seed_thresholds

TODAY = date(2025, 11, 10)


@pytest.fixture
def fixed_today(app):
    app.config["MILESTONES_TODAY"] = TODAY
    yield TODAY
    app.config.pop("MILESTONES_TODAY", None)


def _by_key(key: str) -> Milestone:
    db.session.expire_all()
    return db.session.scalar(select(Milestone).where(Milestone.source_key == key))


def _overdue_section(client) -> str:
    """The person's own overdue tasks on the deadlines page."""
    text = client.get("/milestones/").text
    return text[text.index('id="group-overdue"'):text.index('id="group-soon"')]


def _badge(client) -> str:
    text = client.get("/milestones/").text
    start = text.find('<span class="badge">')
    return text[start + len('<span class="badge">'):text.index("</span>", start)] if start >= 0 else "0"


def _digest(runner) -> str:
    result = runner.invoke(args=["deadlines-digest", "--today", TODAY.isoformat(), "--days", "14", "--print"])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_claim_submitted_approved_and_paid_closes_its_deadline(client, auth, make, runner, fixed_today):
    lead = auth.login("finance", name="Fin Lead")
    year = make.year("2025-26")
    stream = make.stream("PCC contribution", claim_due_days=20, finance_lead_id=lead.id)
    make.allocation(year=year, stream=stream, pence=1_200_000_00)
    line = make.budget_line(year=year, stream=stream, amount_pence=1_200_000_00)
    make.ledger_line(date(2025, 5, 1), 250_000_00, budget_line=line)
    db.session.commit()
    title = "PCC contribution: Q1 (Apr-Jun) 2025-26 claim due"
    key = f"claim:{year.id}:{stream.id}:1"
    assert _by_key(key).owner_id == lead.id and title in _overdue_section(client)
    badge_before, digest_before = int(_badge(client)), _digest(runner)
    assert title in digest_before

    client.post(f"/funding/years/{year.id}/claims/prepare", data={"stream_id": stream.id, "period": 1})
    claim = db.session.scalars(select(Claim)).one()
    client.post(f"/claims/{claim.id}", data={"claimed": "250,000", "signed_off_by": "A. Khan, CFO", "note": ""})
    assert client.post(f"/claims/{claim.id}/submit", data={"submitted_on": "14/07/2025"}).status_code == 303
    task = _by_key(key)
    assert (task.status, task.completed_date) == ("done", date(2025, 7, 14))
    assert "submitted to the funder on 14/07/2025" in task.evidence

    # The funder's decision and payment keep it closed (and say nothing is left to do).
    assert client.post(f"/claims/{claim.id}/decision", data={"decision": "approved", "note": "",
                                                             "decided_on": "01/08/2025"}).status_code == 303
    assert client.post(f"/claims/{claim.id}/payment", data={"paid_on": "08/08/2025", "received": "250,000.00",
                                                            "remittance_reference": "HO-1"}).status_code == 303
    assert _by_key(key).status == "done"
    assert title not in _overdue_section(client)
    assert int(_badge(client)) == badge_before - 1
    assert title not in _digest(runner)


def test_every_streams_final_claim_sent_closes_the_years_final_claim(make, app):
    year = make.year("2025-26")
    one, two = make.stream("Core grant", claim_frequency="annual"), make.stream("SVD", claim_frequency="annual")
    make.allocation(year=year, stream=one)
    make.allocation(year=year, stream=two)
    db.session.commit()
    for stream, day in ((one, 20), (two, 24)):
        db.session.add(Claim(funding_year_id=year.id, funding_stream_id=stream.id, period=1, frequency="annual",
                             status="submitted", submitted_on=date(2026, 4, day), version=1))
        db.session.commit()
        if stream is one:
            assert _by_key(f"year:{year.id}:final-claim").status == "not started"  # one stream still to send
    task = _by_key(f"year:{year.id}:final-claim")
    assert (task.status, task.completed_date) == ("done", date(2026, 4, 24))


def test_issuing_a_return_closes_its_deadline(client, auth, make, runner, fixed_today):
    small = build_small(make)
    auth.login("manager")  # the return's task has no finance lead here, so it is the managers'
    key = f"year:{small.year.id}:q2-return"
    title = "Q2 2025-26 quarterly return due"
    assert title in _overdue_section(client) and title in _digest(runner)
    badge_before = int(_badge(client))
    response = client.post("/returns/2025-26/q2/issue", data={"version": "1", "narrative": "", "correction_reason": ""})
    assert response.status_code == 303
    task = _by_key(key)
    assert task.status == "done" and task.completed_date is not None and "Return issued" in task.evidence
    assert title not in _overdue_section(client)
    assert int(_badge(client)) == badge_before - 1
    assert title not in _digest(runner)


def test_publishing_a_notice_closes_its_deadline(client, auth, make, runner, fixed_today):
    seed_thresholds(db.session)
    db.session.commit()
    auth.login("manager")
    c = make.commission(reference="VRU-25-300", title="Detached youth work", value_pence=300_000_00,
                        procurement_started_on=date(2025, 3, 1), start_date=date(2025, 4, 1),
                        end_date=date(2026, 3, 31))
    db.session.commit()
    notice = db.session.scalars(select(ProcurementNotice).where(ProcurementNotice.kind == "contract-details")).one()
    title = "VRU-25-300 Detached youth work: contract details notice due"
    assert _by_key(notice.source_key).title == title
    assert title in _overdue_section(client) and title in _digest(runner)
    badge_before = int(_badge(client))
    response = client.post(f"/notices/{notice.id}/published", data={
        f"n{notice.id}-published_on": "28/04/2025", f"n{notice.id}-link": "https://www.find-tender.service.gov.uk/N/1"})
    assert response.status_code == 303
    assert _by_key(notice.source_key).status == "done"
    assert title not in _overdue_section(client)
    assert int(_badge(client)) == badge_before - 1
    assert title not in _digest(runner)


def test_a_task_done_earlier_by_a_person_is_left_as_they_recorded_it(make, app):
    # The record closes only what is still open: a person's own completion date and evidence stay.
    year = make.year("2025-26")
    stream = make.stream("Core grant")
    make.allocation(year=year, stream=stream)
    db.session.commit()
    task = _by_key(f"claim:{year.id}:{stream.id}:1")
    task.status, task.completed_date, task.evidence = "done", date(2025, 7, 10), "Sent by e-mail"
    db.session.add(Claim(funding_year_id=year.id, funding_stream_id=stream.id, period=1, status="submitted",
                         submitted_on=date(2025, 7, 14), version=1))
    db.session.commit()
    task = _by_key(f"claim:{year.id}:{stream.id}:1")
    assert (task.completed_date, task.evidence) == (date(2025, 7, 10), "Sent by e-mail")
    assert service.settle_deadlines(db.session) == 0


def test_issuing_a_transparency_file_closes_its_deadline(client, auth, make, runner, fixed_today):
    year = make.year("2025-26")
    db.session.commit()
    auth.login("manager")  # no finance lead here, so the year's tasks are the managers'
    key = "publication:spend-monthly:2025-05"
    title = "Spend over £500 (PCC, monthly): May 2025 due to publish"
    task = _by_key(key)
    assert (task.title, task.due_date, task.funding_year_id) == (title, date(2025, 6, 30), year.id)
    assert title in _overdue_section(client) and title in _digest(runner)
    badge_before = int(_badge(client))
    assert client.post("/publications/spend-monthly/issue", data={"period": "2025-05"}).status_code == 303
    task = _by_key(key)
    assert task.status == "done" and "File issued" in task.evidence
    assert title not in _overdue_section(client)
    assert int(_badge(client)) == badge_before - 1
    assert title not in _digest(runner)
    # Only that file of that period: June's is still to do.
    assert _by_key("publication:spend-monthly:2025-06").status == "not started"
