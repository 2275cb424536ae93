"""Hypothesis posts random data to every form of the role matrix, as an admin: no input may give a 500.

Field names come from the forms on each route's page (or the whole matrix's names when it has no GET),
values are random text, numbers, dates and money-like strings. A few examples per route keep it quick.
"""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.access import collect
from tests.conftest import PASSWORD
from tests.test_access import _endpoints, _url
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db

NAME = re.compile(r'\bname="([^"]+)"')
SKIP = {"auth.sign_out", "auth.sign_in"}  # ends the session / throttle-tested elsewhere

values = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-10**12, max_value=10**12).map(str),
    st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
    st.sampled_from(["", " ", "£1,234.56", "-£5", "1e999", "NaN", "0", "31/02/2025", "2025-26", "y", "on",
                     "admin", "live", "<script>", "' OR 1=1 --", "\x00", "9" * 40]),
)


def test_no_form_input_gives_a_server_error(app, client, make):
    seed_demo(DEMO_TODAY)
    admin = make.user(role="admin")
    db.session.commit()
    client.post("/sign-in", data={"email": admin.email, "password": PASSWORD})
    expected, url_values = collect()
    endpoints = _endpoints(app)
    failures = []
    for endpoint, access in sorted(expected.items()):
        if access.post is None or endpoint in SKIP or endpoint not in endpoints:
            continue
        url = _url(app, endpoints[endpoint], url_values)
        page = client.get(url) if access.get is not None else None
        names = sorted(set(NAME.findall(page.text)) - {"csrf_token"}) if page is not None and page.status_code == 200 else []
        names = names or ["name", "value", "amount", "status", "reference", "title", "date", "role", "active"]

        @settings(max_examples=6, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(data=st.dictionaries(st.sampled_from(names), values, max_size=len(names)))
        def post_random(data):
            response = client.post(url, data=data)
            if response.status_code >= 500:
                failures.append(f"POST {url} ({endpoint}) {data!r}: {response.status_code}")
            if response.status_code == 302 and "/sign-in" in (response.location or ""):
                client.post("/sign-in", data={"email": admin.email, "password": PASSWORD})

        post_random()
        # Keep the admin able to act for the next route (a random post may have demoted or disabled them).
        db.session.expire_all()
        me = db.session.get(type(admin), admin.id)
        if me.role != "admin" or not me.active:
            me.role, me.active = "admin", True
            db.session.commit()
            client.post("/sign-in", data={"email": admin.email, "password": PASSWORD})
    assert not failures, "\n".join(failures[:20])
