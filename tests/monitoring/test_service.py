"""Measures, targets, actuals and RAG; copy and roll-over; off-track, due list and totals; milestone evidence."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tracker import settings
from tracker.extensions import db
from tracker.models import AuditEvent
from tracker.models.monitoring import Measure
from tracker.monitoring import service

T = (Decimal("10"), Decimal("25"))


@pytest.mark.parametrize("target, actual, expected", [
    (100, None, None), (0, 5, None), (100, 100, "G"), (100, 140, "G"), (100, 91, "G"), (100, 90, "A"),
    (100, 76, "A"), (100, 75, "R"), (100, 0, "R"),
])
def test_rag_against_target(target, actual, expected):
    assert service.rag(target, actual, T) == expected


def test_thresholds_are_settings(app, commission):
    measure = commission_measure(commission, "cyp_engaged")
    service.set_actual(measure, 1, 8)  # 20% short of 10
    db.session.commit()
    assert service.outputs_grid(commission, commission.funding_year).rows[0].cells[0].rag == "A"
    settings.put("kpi_amber_percent", "30")
    settings.put("kpi_red_percent", "50")
    db.session.commit()
    assert service.outputs_grid(commission, commission.funding_year).rows[0].cells[0].rag == "G"


def commission_measure(commission, code) -> Measure:
    return next(m for m in db.session.scalars(db.select(Measure).where(Measure.commission_id == commission.id))
                if m.metric.code == code)


def test_actuals_record_who_and_when_and_every_change_is_audited(app, make, commission):
    user = make.user(role="manager")
    measure = commission_measure(commission, "cyp_engaged")
    service.set_actual(measure, 2, 12, user_id=user.id)
    db.session.commit()
    service.set_actual(measure, 2, 15, user_id=user.id)
    service.set_actual(measure, 2, None, user_id=user.id)
    db.session.commit()
    summaries = [e.summary for e in db.session.scalars(db.select(AuditEvent).where(AuditEvent.realm == "monitoring")
                                                       .order_by(AuditEvent.id))]
    assert any("actual 12 recorded" in s for s in summaries)
    assert any("12 → 15" in s for s in summaries)
    assert any("cleared" in s for s in summaries)
    service.set_actual(measure, 3, 4, user_id=user.id)
    db.session.commit()
    actual = measure.actuals[0]
    assert actual.recorded_by_id == user.id and actual.recorded_at is not None


def test_grid_totals_to_date_over_reported_quarters(app, commission):
    measure = commission_measure(commission, "cyp_engaged")
    service.set_actual(measure, 1, 10)
    service.set_actual(measure, 2, 5)
    db.session.commit()
    row = next(r for r in service.outputs_grid(commission, commission.funding_year).rows if r.measure.id == measure.id)
    assert (row.to_date_target, row.to_date_actual) == (30, 15)
    assert row.to_date_rag == "R"
    assert [c.rag for c in row.cells] == ["G", "R", None, None]


def test_values_out_of_range_are_refused(app, commission):
    measure = commission_measure(commission, "cyp_engaged")
    with pytest.raises(service.MonitoringError):
        service.set_actual(measure, 1, -1)
    with pytest.raises(service.MonitoringError):
        service.set_actual(measure, 5, 1)


def test_duplicate_measure_refused(app, commission, metrics):
    with pytest.raises(service.MonitoringError):
        service.add_measure(commission, commission.funding_year, metrics["cyp_engaged"])


def test_year_target_defaults_to_sum_of_quarters(app, commission):
    assert commission_measure(commission, "cyp_engaged").target_year == 100
    assert commission_measure(commission, "sessions_delivered").target_year == 20


def test_copy_from_commission_and_template(app, make, commission, metrics):
    other = make.commission()
    assert service.copy_measures((commission, commission.funding_year), other, other.funding_year) == 2
    copied = commission_measure(other, "cyp_engaged")
    assert copied.targets == [10, 20, 30, 40]
    assert service.copy_measures((commission, commission.funding_year), other, other.funding_year) == 0  # already there
    assert service.copy_measures(None, other, other.funding_year) == len(service.STANDARD_METRICS) - 2
    with pytest.raises(service.MonitoringError):
        service.copy_measures((other, other.funding_year), other, other.funding_year)


def test_closed_year_refuses_changes(app, make, metrics):
    from werkzeug.exceptions import Conflict

    c = make.commission(year=make.year("2024-25", status="closed"))
    with pytest.raises(Conflict):
        service.add_measure(c, c.funding_year, metrics["cyp_engaged"])


def test_off_track_this_quarter(app, make, commission, metrics):
    fine = make.commission(year=commission.funding_year)
    m = service.add_measure(fine, fine.funding_year, metrics["cyp_engaged"], targets=(10, 10, 10, 10))
    service.set_actual(m, 1, 10)
    service.set_actual(commission_measure(commission, "cyp_engaged"), 1, 7)  # 30% short: red
    db.session.commit()
    assert service.commission_ids_off_track(commission.funding_year, 1) == {commission.id}
    assert service.commission_ids_off_track(commission.funding_year, 2) == set()


def test_monitoring_due_lists_ended_quarters_without_actuals(app, commission, count_queries):
    service.set_actual(commission_measure(commission, "cyp_engaged"), 1, 10)
    db.session.commit()
    with count_queries() as q:
        due = service.monitoring_due(today=date(2025, 11, 1))
    assert [(d.commission.id, d.quarter) for d in due] == [(commission.id, 2)]
    assert q.count <= 3
    assert service.monitoring_due(today=date(2025, 6, 30)) == []


def test_year_totals_and_cyp_chart(app, make, commission, metrics):
    service.set_actual(commission_measure(commission, "cyp_engaged"), 1, 12)
    db.session.commit()
    totals = {mt.metric.code: mt for mt in service.year_totals(commission.funding_year)}
    cyp = totals["cyp_engaged"]
    assert (cyp.total.target, cyp.total.actual) == (100, 12)
    assert [(t.name, t.actual) for t in cyp.by_strand] == [(commission.strand.name, 12)]
    assert len(cyp.by_stream) == 1
    bars = service.cyp_by_strand(commission.funding_year)
    assert bars[0].actual == 12 and bars[0].target_x == 100.0
