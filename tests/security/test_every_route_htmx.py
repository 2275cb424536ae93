"""Every GET route, and every form POST with invalid data, answers without a 500, as a full page and as an
HTMX fragment (issue 12, finding 6: render_block did not see macros imported at the top of a template)."""
from __future__ import annotations

import pytest

from tests.access import collect
from tests.test_access import _endpoints, _url
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.web import template_imports

# Ends the session, so it goes last.
LAST = ("auth.sign_out",)
DESTRUCTIVE = ("delete", "withdraw", "cancel", "commit", "set_active", "change_role", "reset_password", "close_year",
               "open_year", "reopen_year", "rollover")
# What "invalid" is for a form: nothing it asks for, and a value that is no field's.
INVALID = {"unknown-field": "x", "amount": "not money", "value": "£1,2,3", "quarter": "9", "start_date": "31/02/2026"}


@pytest.fixture
def admin_client(app, client, auth):
    from tracker.models import Commission, Document

    seed_demo(DEMO_TODAY)
    db.session.add(Document(kind="other", title="A document", commission_id=db.session.get(Commission, 1).id))
    db.session.commit()
    auth.login("admin")
    return client


def _routes(app):
    expected, values = collect()
    endpoints = _endpoints(app)
    # Destructive routes last, so the records the others need are still there.
    for endpoint in sorted(expected, key=lambda e: (e in LAST, any(w in e for w in DESTRUCTIVE), e)):
        if endpoint == "static" or endpoint not in endpoints or expected[endpoint].public:
            continue
        yield endpoint, endpoints[endpoint], expected[endpoint], values


def test_every_get_route_serves_the_page_and_the_fragment(app, admin_client):
    failures = []
    for endpoint, rule, access, values in _routes(app):
        if access.get is None:
            continue
        url = _url(app, rule, values)
        for headers in ({}, {"HX-Request": "true"}):
            response = admin_client.get(url, headers=headers)
            if response.status_code >= 500:
                failures.append(f"GET {url} {headers}: {response.status_code}")
    assert not failures, failures


def test_every_form_post_with_invalid_data_answers_without_a_500(app, admin_client):
    failures = []
    for endpoint, rule, access, values in _routes(app):
        if access.post is None:
            continue
        url = _url(app, rule, values)
        for headers in ({}, {"HX-Request": "true"}):
            response = admin_client.post(url, data=INVALID, headers=headers)
            if response.status_code >= 500:
                failures.append(f"POST {url} {headers}: {response.status_code}")
    assert not failures, failures


def test_fragments_see_the_macros_their_template_imports(app):
    with app.test_request_context():
        names = template_imports("monitoring/documents.html")
    assert names and all(callable(m) or hasattr(m, "__dict__") for m in names.values())
