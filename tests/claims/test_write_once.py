"""Create forms sent twice (a double click, a resend) make one record, and a match contribution saved from a form
opened before someone else's save is refused with both versions shown."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.pages import hidden
from tracker.extensions import db
from tracker.models import AuditEvent, BudgetLine, GrantCondition, MatchContribution, Virement


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def year(make):
    year = make.year("2025-26")
    stream = make.stream()
    make.allocation(year=year, stream=stream, pence=300_000_00)
    make.budget_line(year=year, stream=stream, amount_pence=200_000_00, description="Staff")
    make.budget_line(year=year, stream=stream, category=make.category("Activities"), amount_pence=100_000_00,
                     description="Activities")
    db.session.commit()
    return year


def post_twice(client, url: str, data: dict):
    """Open the form once, then send it twice with the token it was shown with."""
    token = hidden(client.get(url).text, "once")
    first = client.post(url, data={**data, "once": token})
    second = client.post(url, data={**data, "once": token})
    return first, second


def test_a_double_clicked_virement_records_one_virement_and_moves_the_money_once(client, auth, year):
    staff, activities = db.session.scalars(select(BudgetLine).order_by(BudgetLine.id)).all()
    auth.login("finance")
    first, second = post_twice(client, f"/funding/years/{year.id}/virement", {
        "from_line_id": staff.id, "to_line_id": activities.id, "amount": "10,000", "reason": "More activities"})
    assert first.status_code == second.status_code == 303 and first.location == second.location
    db.session.expire_all()
    assert count(Virement) == 1
    assert (db.session.get(BudgetLine, staff.id).amount_pence,
            db.session.get(BudgetLine, activities.id).amount_pence) == (190_000_00, 110_000_00)


def test_a_refused_virement_leaves_its_form_usable(client, auth, year):
    """The token is taken only with the record: a form refused (422) and corrected still makes its virement."""
    staff, activities = db.session.scalars(select(BudgetLine).order_by(BudgetLine.id)).all()
    auth.login("finance")
    url = f"/funding/years/{year.id}/virement"
    token = hidden(client.get(url).text, "once")
    data = {"from_line_id": staff.id, "to_line_id": activities.id, "reason": "More activities", "once": token}
    assert client.post(url, data={**data, "amount": "900,000"}).status_code == 422
    assert client.post(url, data={**data, "amount": "1,000"}).status_code == 303
    assert count(Virement) == 1


def test_a_double_posted_match_contribution_is_recorded_once(client, auth, year):
    auth.login("finance")
    first, second = post_twice(client, f"/funding/years/{year.id}/match/new", {
        "funding_stream_id": year.allocations[0].funding_stream_id, "partner": "County council", "kind": "cash",
        "pledged": "50,000", "evidenced": "", "document_id": 0, "note": ""})
    assert first.status_code == second.status_code == 303
    assert count(MatchContribution) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.object_type == "MatchContribution")) == 1


def test_two_forms_opened_separately_make_two_contributions(client, auth, year):
    """Only the same form sent again is one record: a second contribution entered on purpose is kept."""
    auth.login("finance")
    url = f"/funding/years/{year.id}/match/new"
    data = {"funding_stream_id": year.allocations[0].funding_stream_id, "partner": "County council", "kind": "cash",
            "pledged": "50,000", "evidenced": "", "document_id": 0, "note": ""}
    for _ in range(2):
        assert client.post(url, data={**data, "once": hidden(client.get(url).text, "once")}).status_code == 303
    assert count(MatchContribution) == 2


def test_a_double_posted_grant_condition_is_added_once(client, auth, year):
    auth.login("finance")
    first, second = post_twice(client, f"/funding/years/{year.id}/conditions/new", {
        "funding_stream_id": year.allocations[0].funding_stream_id, "kind": "match_share", "category_id": 0,
        "strand_id": 0, "minimum": "10", "labour": "", "note": ""})
    assert first.status_code == second.status_code == 303
    assert count(GrantCondition) == 1


def test_a_stale_match_contribution_form_is_refused_with_both_versions(client, auth, make, year):
    contribution = make.contribution(year=year, stream=year.allocations[0].funding_stream, partner="County council",
                                     pledged_pence=50_000_00)
    db.session.commit()
    auth.login("finance")
    url = f"/match/{contribution.id}/edit"
    version = hidden(client.get(url).text, "version")
    base = {"funding_stream_id": contribution.funding_stream_id, "partner": "County council", "kind": "cash",
            "evidenced": "", "document_id": 0, "version": version}
    assert client.post(url, data={**base, "pledged": "60,000", "note": ""}).status_code == 303
    stale = client.post(url, data={**base, "pledged": "50,000", "note": "Called the council"})
    assert stale.status_code == 409
    assert "£60,000.00" in stale.text and "Called the council" in stale.text
    db.session.expire_all()
    saved = db.session.get(MatchContribution, contribution.id)
    assert (saved.pledged_pence, saved.note) == (60_000_00, "")
    # Saving again from the 409 page (it carries the version now saved) replaces the values, on purpose.
    again = client.post(url, data={**base, "version": hidden(stale.text, "version"), "pledged": "50,000",
                                   "note": "Called the council"})
    assert again.status_code == 303
