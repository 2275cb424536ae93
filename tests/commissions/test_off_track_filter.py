"""The register's "delivery off track" filter: commissions with a measure red (or amber) against target in a
quarter, from tracker/monitoring/service.py; it stays in the URL, keeps the query count fixed, and the
commissions export applies it too."""
from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest

from tests.commissions.conftest import HX
from tracker import settings
from tracker.commissions.queries import RegisterFilters
from tracker.extensions import db


@pytest.fixture
def delivery(make):
    """Q2 2025-26 (targets of 100): red (50), amber (85), green (100), and one with nothing reported."""
    line = make.budget_line()
    metric = make.metric("CYP engaged")
    made = {}
    for ref, value in (("VRU-25-001", 50), ("VRU-25-002", 85), ("VRU-25-003", 100), ("VRU-25-004", None)):
        c = make.commission(reference=ref, budget_line=line)
        m = make.measure(c, metric, targets=(100, 100, 100, 100))
        if value is not None:
            make.measure_actual(m, quarter=2, value=value)
        made[ref] = c
    db.session.commit()
    return made


def _refs(text):
    return [r for r in ("VRU-25-001", "VRU-25-002", "VRU-25-003", "VRU-25-004") if f">{r}</a>" in text]


def test_thresholds_are_what_the_fixture_assumes(app):
    # 85 of 100 is amber and 50 of 100 red only with the default thresholds (amber from 10%, red from 25% short).
    assert (settings.get("kpi_amber_percent"), settings.get("kpi_red_percent")) == (10, 25)


@pytest.mark.parametrize("query, expected", [
    ("year=2025-26&quarter=2&off_track=amber", ["VRU-25-001", "VRU-25-002"]),
    ("year=2025-26&quarter=2&off_track=red", ["VRU-25-001"]),
    ("year=2025-26&quarter=1&off_track=amber", []),
    ("year=2025-26&quarter=2", ["VRU-25-001", "VRU-25-002", "VRU-25-003", "VRU-25-004"]),
])
def test_off_track_filter(client, manager, delivery, query, expected):
    for headers in ({}, HX):
        response = client.get(f"/commissions/?{query}", headers=headers)
        assert response.status_code == 200
        assert _refs(response.text) == expected, (query, headers)
    if "off_track" in query:
        assert "against target in Q" in response.text


def test_the_filter_is_in_the_form_and_the_links(client, manager, delivery):
    page = client.get("/commissions/?year=2025-26&quarter=2&off_track=red&per_page=10").text
    assert '<option value="red" selected>Red only</option>' in page
    assert '<option value="2" selected>Q2</option>' in page
    assert "Showing commissions with a measure red against target in Q2 2025-26." in page
    # Sorting and the download keep the filter.
    sort_links = re.findall(r'href="(/commissions/\?[^"]*sort=title[^"]*)"', page)
    assert sort_links and all("off_track=red" in link and "quarter=2" in link for link in sort_links)
    assert "/exports/commissions.csv?year=2025-26&amp;off_track=red&amp;quarter=2" in page


def test_this_quarter_by_default(app, delivery):
    from tracker.commissions.queries import register_page

    f = RegisterFilters.from_args({"off_track": "amber", "year": "2025-26"})
    page = register_page(f, today=date(2025, 10, 15))  # Q2 has ended: it is "this quarter"
    assert sorted(c.reference for c, _ in page.rows) == ["VRU-25-001", "VRU-25-002"]
    assert page.off_track_in == ("2025-26", 2)
    f = RegisterFilters.from_args({"off_track": "amber"})  # no year chosen: the current year
    assert sorted(c.reference for c, _ in register_page(f, today=date(2025, 10, 15)).rows) == ["VRU-25-001", "VRU-25-002"]
    f = RegisterFilters.from_args({"off_track": "amber"})
    assert register_page(f, today=date(2025, 8, 1)).rows == []  # Q1: nothing reported


def test_bad_values_are_ignored_and_said(client, manager, delivery):
    response = client.get("/commissions/?off_track=purple")
    assert response.status_code == 200
    assert "off track “purple”" in response.text
    assert len(_refs(response.text)) == 4
    # A bad quarter is refused as on every page that reads one (tracker/funding/rules.py, choose_quarter).
    response = client.get("/commissions/?off_track=amber&quarter=7")
    assert response.status_code == 400 and "“7” is not a quarter: choose 1, 2, 3 or 4." in response.text


def test_query_count_stays_fixed(client, manager, make, delivery, count_queries):
    url = "/commissions/?year=2025-26&quarter=2&off_track=amber"
    with count_queries() as q:
        assert client.get(url).status_code == 200
    small = q.count
    line = make.line_of(next(iter(delivery.values())))
    metric = make.metric("Sessions delivered")
    for n in range(30):
        c = make.commission(budget_line=line)
        make.measure_actual(make.measure(c, metric, targets=(10, 10, 10, 10)), quarter=2, value=n % 12)
    db.session.commit()
    with count_queries() as q:
        response = client.get(url)
    assert response.status_code == 200 and q.count == small, q.statements


def test_the_export_applies_the_filter(client, auth, delivery):
    auth.login("viewer")
    r = client.get("/exports/commissions.csv?year=2025-26&quarter=2&off_track=red")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["VRU-25-001"]
    r = client.get("/exports/commissions.csv?off_track=sideways")
    assert r.status_code == 400 and "off track" in r.text
