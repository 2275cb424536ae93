"""The deadlines list shows provider monitoring returns that are due (a quarter ended with no actuals), from
tracker/monitoring/service.py ``monitoring_due``: not stored as milestones, gone once actuals are recorded."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Milestone

HX = {"HX-Request": "true"}


@pytest.fixture
def fixed_today(app):
    app.config["MILESTONES_TODAY"] = date(2025, 11, 10)  # Q1 and Q2 of 2025-26 have ended
    yield date(2025, 11, 10)
    app.config.pop("MILESTONES_TODAY", None)


@pytest.fixture
def due(make, fixed_today):
    reported = make.commission(reference="VRU-25-001", title="Mentoring")
    late = make.commission(reference="VRU-25-002", title="Boxing club", budget_line=make.line_of(reported))
    make.commission(reference="VRU-25-003", title="No measures", budget_line=make.line_of(reported))
    metric = make.metric("CYP engaged")
    m1 = make.measure(reported, metric)
    make.measure_actual(m1, quarter=1, value=9)
    make.measure_actual(m1, quarter=2, value=9)
    m2 = make.measure(late, metric)
    make.measure_actual(m2, quarter=1, value=12)
    db.session.commit()
    return {"late": late, "measure": m2}


def _section(text: str) -> str:
    start = text.index('id="group-monitoring"')
    return text[start:text.index("</section>", start)]


def test_due_monitoring_is_listed_with_the_deadlines(client, auth, due):
    auth.login("viewer")
    milestones_before = db.session.scalar(select(func.count(Milestone.id)))
    for headers in ({}, HX):
        page = client.get("/milestones/", headers=headers)
        assert page.status_code == 200
        section = _section(page.text)
        assert "Monitoring returns due <span class=\"count\">(1)</span>" in section
        assert "VRU-25-002</a> Boxing club" in section and "Q2 2025-26" in section and "30/09/2025" in section
        assert "VRU-25-001" not in section and "VRU-25-003" not in section
        assert f'href="/commissions/{due["late"].id}/outputs?year=2025-26"' in section
    assert db.session.scalar(select(func.count(Milestone.id))) == milestones_before  # not stored


def test_recording_the_actual_clears_it(client, auth, make, due):
    make.measure_actual(due["measure"], quarter=2, value=3)
    db.session.commit()
    auth.login("viewer")
    section = _section(client.get("/milestones/").text)
    assert "(0)" in section and "None: every commission with measures" in section


def test_filters(client, auth, make, due):
    make.year("2024-25")
    db.session.commit()
    auth.login("viewer")
    assert "VRU-25-002" in _section(client.get("/milestones/?year=2025-26").text)
    assert "(0)" in _section(client.get("/milestones/?year=2024-25").text)
    assert 'id="group-monitoring"' not in client.get("/milestones/?year=1999-00").text  # a problem is shown instead
    # Monitoring returns have no owner or programme: those filters leave them out.
    assert 'id="group-monitoring"' not in client.get("/milestones/?programme=Young+Futures").text
    assert 'id="group-monitoring"' not in client.get("/milestones/?owner=none").text


def test_query_count_is_fixed(client, auth, make, due, count_queries):
    auth.login("viewer")
    with count_queries() as q:
        client.get("/milestones/")
    small = q.count
    metric = make.metric("Sessions delivered")
    for n in range(10):
        make.measure(make.commission(budget_line=make.line_of(due["late"])), metric)
    db.session.commit()
    with count_queries() as q:
        page = client.get("/milestones/")
    assert "(21)" in _section(page.text)  # ten more commissions, each due for Q1 and Q2
    # The commissions made above also add generated deadlines (contract end/review) to the list itself,
    # which the milestones list loads in fixed queries too.
    assert q.count == small, q.statements
