"""The role matrix over every route in app.url_map: anonymous users are sent to sign in, each role reaches
exactly the routes it should, and a viewer can POST to nothing but their own account."""
from __future__ import annotations

import pytest
from werkzeug.routing import BuildError, IntegerConverter

from tests.access import EVERYONE, collect
from tests.conftest import PASSWORD
from tracker.auth.roles import view_is_public, view_roles
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db

# The only POSTs a viewer (the PCC office, who change nothing) may make: their own session and password.
VIEWER_MAY_POST = {"auth.sign_out", "auth.change_password", "milestones.calendar_token"}
# Run last: it ends the session.
LAST = ("auth.sign_out",)


def _endpoints(app):
    seen = {}
    for rule in app.url_map.iter_rules():
        seen.setdefault(rule.endpoint, rule)
    return seen


def _url(app, rule, values):
    args = {}
    for name in rule.arguments:
        if name in values:
            args[name] = values[name](db.session)
        elif isinstance(rule._converters.get(name), IntegerConverter):
            args[name] = 1
        else:
            raise AssertionError(f"tests/access: no URL_VALUES entry for argument {name!r} of {rule.endpoint}")
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **args)


def test_every_route_is_in_the_matrix_and_declares_its_roles(app):
    expected, _ = collect()
    endpoints = _endpoints(app)
    missing = sorted(set(endpoints) - set(expected))
    assert not missing, f"routes with no entry in tests/access: {missing}"
    stale = sorted(set(expected) - set(endpoints))
    assert not stale, f"tests/access lists routes the app does not have: {stale}"
    for endpoint, access in expected.items():
        if endpoint == "static":
            continue
        view = app.view_functions[endpoint]
        if access.public:
            assert view_is_public(view), f"{endpoint} is expected public but is not marked @public"
            continue
        declared = view_roles(view)
        assert declared is not None, f"{endpoint} does not declare its roles"
        wanted = (access.get or frozenset()) | (access.post or frozenset())
        assert declared == wanted, f"{endpoint}: declared {sorted(declared)}, expected {sorted(wanted)}"
        methods = _endpoints(app)[endpoint].methods
        assert ("GET" in methods) == (access.get is not None), f"{endpoint}: GET served? {methods}"
        assert ("POST" in methods) == (access.post is not None), f"{endpoint}: POST served? {methods}"


@pytest.fixture
def seeded(app):
    seed_demo(DEMO_TODAY)
    return app


def _requests(app, expected):
    endpoints = _endpoints(app)
    order = sorted(expected, key=lambda e: (e in LAST, e))
    for endpoint in order:
        access = expected[endpoint]
        if access.public or endpoint not in endpoints:
            continue
        for method, roles in (("GET", access.get), ("POST", access.post)):
            if roles is not None:
                yield endpoint, endpoints[endpoint], method, roles


def test_anonymous_users_are_sent_to_sign_in(seeded, client):
    expected, values = collect()
    failures = []
    for endpoint, rule, method, _roles in _requests(seeded, expected):
        url = _url(seeded, rule, values)
        response = client.open(url, method=method)
        if response.status_code != 302 or "/sign-in" not in response.location:
            failures.append(f"{method} {url} ({endpoint}): {response.status_code}")
        htmx = client.open(url, method=method, headers={"HX-Request": "true"})
        if htmx.status_code != 401 or "/sign-in" not in htmx.headers.get("HX-Redirect", ""):
            failures.append(f"HTMX {method} {url} ({endpoint}): {htmx.status_code}")
    assert not failures, "\n".join(failures)


def _sign_in(client, user):
    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize("role", sorted(EVERYONE))
def test_each_role_reaches_exactly_its_routes(seeded, client, make, role):
    expected, values = collect()
    user = make.user(role=role)
    db.session.commit()
    _sign_in(client, user)
    failures = []
    for endpoint, rule, method, roles in _requests(seeded, expected):
        try:
            url = _url(seeded, rule, values)
        except BuildError as exc:  # pragma: no cover - a broken URL_VALUES entry
            failures.append(f"{endpoint}: cannot build URL: {exc}")
            continue
        response = client.open(url, method=method, data={})
        allowed = role in roles
        if allowed:
            bad = response.status_code in (401, 403) or response.status_code >= 500 or (
                response.status_code == 302 and "/sign-in" in (response.location or "") and endpoint not in LAST)
            if bad:
                failures.append(f"{role} should reach {method} {url} ({endpoint}) but got {response.status_code}")
        elif response.status_code != 403:
            failures.append(f"{role} should get 403 on {method} {url} ({endpoint}) but got {response.status_code}")
        if role == "viewer" and method == "POST" and endpoint not in VIEWER_MAY_POST and response.status_code != 403:
            failures.append(f"viewer POST {url} ({endpoint}) gave {response.status_code}, not 403")
        if endpoint in LAST or (response.status_code == 302 and "/sign-in" in (response.location or "")):
            _sign_in(client, user)
    assert not failures, "\n".join(failures)
