"""Shared set-up for the monitoring tests: a commission with two measures and the standard metrics."""
from __future__ import annotations

import pytest

from tracker.extensions import db
from tracker.monitoring import service


@pytest.fixture
def metrics(app):
    service.seed_standard_metrics()
    db.session.commit()
    return {m.code: m for m in service.all_metrics() if m.code}


@pytest.fixture
def commission(make, metrics):
    c = make.commission(reference="VRU-25-001", title="Mentoring")
    service.add_measure(c, c.funding_year, metrics["cyp_engaged"], targets=(10, 20, 30, 40))
    service.add_measure(c, c.funding_year, metrics["sessions_delivered"], targets=(5, 5, 5, 5), target_year=20)
    db.session.commit()
    return c
