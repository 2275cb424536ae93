"""The audit trail page: filters in the query string, HTMX fragment, paging, bad values, and no way to edit it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import event

from tests.access import collect
from tests.test_access import _endpoints, _url
from tracker.extensions import db


def _make_events(make, user):
    make.audit_event(realm="commissions", kind="change", object_type="Commission", object_id=7,
                     summary="Changed status of VRU-001 to live", before={"status": "awarded"},
                     after={"status": "live"}, user_id=user.id, created_at=datetime(2025, 6, 1, 10))
    make.audit_event(realm="funding", kind="create", object_type="BudgetLine", object_id=3,
                     summary="Created budget line 100% staff", after={"amount_pence": 100}, user_id=None,
                     created_at=datetime(2025, 9, 1, 10))
    db.session.commit()


def test_filters_narrow_the_trail(client, auth, make):
    admin = auth.login("admin")
    _make_events(make, admin)
    everything = client.get("/admin/audit")
    assert everything.status_code == 200
    assert "VRU-001" in everything.text and "Created budget line" in everything.text
    for query, shown, hidden in [
        ("realm=commissions", "VRU-001", "Created budget line"),
        ("kind=create", "Created budget line", "VRU-001"),
        ("object_type=Commission", "VRU-001", "Created budget line"),
        (f"user={admin.id}", "VRU-001", "Created budget line"),
        ("date_from=01/08/2025", "Created budget line", "VRU-001"),
        ("date_to=2025-07-01", "VRU-001", "Created budget line"),
        ("q=100%25", "Created budget line", "VRU-001"),
        ("q=status+of", "VRU-001", "Created budget line"),
    ]:
        page = client.get(f"/admin/audit?{query}")
        assert page.status_code == 200, query
        assert shown in page.text and hidden not in page.text, query
    assert "awarded" in client.get("/admin/audit?realm=commissions").text  # before/after shown


def test_htmx_gets_the_results_only(client, auth, make):
    admin = auth.login("admin")
    _make_events(make, admin)
    response = client.get("/admin/audit?realm=funding", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text
    assert 'id="audit-results"' in response.text and "Created budget line" in response.text


def test_bad_filter_values_give_messages_not_errors(client, auth):
    auth.login("admin")
    for query, message in [
        ("date_from=31/02/2025", "Enter a date like 31/03/2026"),
        ("date_to=yesterday", "Enter a date like 31/03/2026"),
        ("user=abc", "Choose a user from the list"),
        ("page=-3", "The page number must be a whole number from 1"),
        ("page=1e9999", "The page number must be a whole number from 1"),
        ("kind=explode", "Choose a kind of change from the list"),
        ("date_from=02/02/2025&date_to=01/01/2025", "The end date must be on or after the start date"),
        ("object_id=x", "The record number must be a whole number"),
    ]:
        response = client.get(f"/admin/audit?{query}")
        assert response.status_code == 422, query
        assert message in response.text, query


def test_quotes_in_the_search_are_words_to_find_not_a_problem(client, auth, make):
    admin = auth.login("admin")
    make.audit_event(summary='Renamed provider to "O\'Brien & Co"', user_id=admin.id)
    make.audit_event(summary="Changed status of VRU-001 to live", user_id=admin.id)
    db.session.commit()
    response = client.get("/admin/audit?q=%27Brien")
    assert response.status_code == 200
    assert "Brien" in response.text and "VRU-001" not in response.text


def test_pages_and_fixed_query_count(client, auth, make, count_queries):
    admin = auth.login("admin")
    for n in range(60):
        make.audit_event(summary=f"Event {n}", user_id=admin.id)
    db.session.commit()
    first = client.get("/admin/audit")
    assert "page 1 of 2" in first.text and "Event 59" in first.text
    second = client.get("/admin/audit?page=2")
    assert "Event 0" in second.text and "Event 59" not in second.text
    beyond = client.get("/admin/audit?page=50")
    assert beyond.status_code == 200 and "No events match" in beyond.text
    with count_queries() as few:
        client.get("/admin/audit")
    other = make.user(role="finance")
    for n in range(40):
        make.audit_event(summary=f"More {n}", user_id=other.id)
    db.session.commit()
    with count_queries() as many:
        client.get("/admin/audit")
    assert many.count == few.count


def test_only_admins_see_the_trail(client, auth):
    auth.login("manager")
    assert client.get("/admin/audit").status_code == 403


def test_no_route_edits_or_deletes_audit_events(app, client, make):
    """Walk every POST route as an admin and watch the SQL: audit_events is only ever inserted into."""
    from tests.factories import DEMO_TODAY
    from tracker.demo import seed_demo
    from tests.conftest import PASSWORD

    seed_demo(DEMO_TODAY)
    admin = make.user(role="admin")
    db.session.commit()
    make.audit_event(summary="An old event")
    db.session.commit()
    writes = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        text = " ".join(statement.split()).lower()
        if ("audit_events" in text and (text.startswith("update") or text.startswith("delete"))) or \
                text.startswith("drop") or text.startswith("truncate"):
            writes.append(statement)

    expected, values = collect()
    endpoints = _endpoints(app)
    client.post("/sign-in", data={"email": admin.email, "password": PASSWORD})
    event.listen(db.engine, "before_cursor_execute", watch)
    try:
        for endpoint, access in sorted(expected.items()):
            if access.post is None or endpoint not in endpoints or endpoint == "auth.sign_out":
                continue
            client.post(_url(app, endpoints[endpoint], values), data={})
    finally:
        event.remove(db.engine, "before_cursor_execute", watch)
    assert not writes, writes
    assert not [r for r in app.url_map.iter_rules() if "audit" in r.rule and r.methods & {"POST", "PUT", "DELETE"}]
