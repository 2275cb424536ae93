"""Beyond the role matrix: ids in forms and URLs are checked (no IDOR), and personal calendar tokens stay personal."""
from __future__ import annotations

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Commission
from tracker.models.commissions import PROCUREMENT_ROUTES


def test_a_commission_cannot_use_a_budget_line_of_another_year(client, auth, make):
    auth.login("manager")
    this_year = make.year("2025-26")
    next_year = make.year("2026-27", status="open")
    line = make.budget_line(year=this_year)
    other_line = make.budget_line(year=next_year)
    provider = make.provider()
    strand = make.strand()
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(Commission))
    base = {"reference": "VRU-SEC-1", "title": "Mentoring", "provider_id": provider.id,
            "funding_year_id": this_year.id, "strand_id": strand.id, "procurement_route": PROCUREMENT_ROUTES[0],
            "commission_type": "contract", "value_pence": "1000", "start_date": "01/04/2025",
            "end_date": "31/03/2026", "status": "pipeline", "version": "0"}
    for line_id in (other_line.id, 999999):
        share = {"shares-0-year_label": "2025-26", "shares-0-budget_line_id": line_id, "shares-0-amount": "1000"}
        response = client.post("/commissions/new", data={**base, **share})
        assert response.status_code == 422, (line_id, response.status_code)
        assert "budget line" in response.text.lower()
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Commission)) == before
    # The same form with this year's line is accepted: the refusal above was about the line.
    accepted = client.post("/commissions/new", data={**base, "shares-0-year_label": "2025-26",
                                                     "shares-0-budget_line_id": line.id, "shares-0-amount": "1000"})
    assert accepted.status_code == 303, accepted.text[:2000]


def test_unknown_ids_in_urls_are_404(client, auth):
    auth.login("admin")
    for url in ["/commissions/987654", "/providers/987654", "/admin/users/987654", "/admin/categories/987654"]:
        assert client.get(url).status_code == 404, url


def test_a_calendar_token_is_only_shown_to_its_owner(app, client, auth, make):
    me = auth.login("manager")
    other = make.user(role="finance", calendar_token="someone-elses-secret-token-0123456789")
    db.session.commit()
    if "milestones.calendar" not in app.view_functions:  # pragma: no cover - milestones not built yet
        return
    from flask import url_for

    with app.test_request_context():
        page_url = url_for("milestones.calendar")
    page = client.get(page_url)
    assert page.status_code == 200
    assert other.calendar_token not in page.text
    assert me.calendar_token is None or me.calendar_token != other.calendar_token
