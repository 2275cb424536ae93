"""The outputs grid (HTMX and without JavaScript), measures, narratives, copying, metrics, the monitoring page,
and bad input: 4xx with a message and the database unchanged."""
from __future__ import annotations

import pytest

from tracker.extensions import db
from tracker.models import AuditEvent
from tracker.models.monitoring import Measure, MeasureActual, Metric, QuarterNarrative
from tracker.monitoring import service

HX = {"HX-Request": "true"}


def first_measure(commission) -> Measure:
    return db.session.scalars(db.select(Measure).where(Measure.commission_id == commission.id)
                              .order_by(Measure.id)).first()


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_outputs_page_shows_targets_actuals_and_rag(client, auth, commission):
    m = first_measure(commission)
    service.set_actual(m, 1, 6)
    db.session.commit()
    auth.login("viewer")
    page = client.get(f"/commissions/{commission.id}/outputs")
    assert page.status_code == 200
    assert "CYP engaged" in page.text and "tag--r" in page.text
    assert f"/measures/{m.id}/actuals/1?edit=1" not in page.text  # viewers read only


def test_outputs_page_runs_a_fixed_number_of_queries(client, auth, commission, make, metrics, count_queries):
    auth.login("manager")
    client.get(f"/commissions/{commission.id}/outputs")
    with count_queries() as few:
        client.get(f"/commissions/{commission.id}/outputs")
    for code in ("referrals_received", "cyp_completed", "hours_delivered"):
        m = service.add_measure(commission, commission.funding_year, metrics[code], targets=(1, 1, 1, 1))
        service.set_actual(m, 1, 1)
    db.session.commit()
    client.get(f"/commissions/{commission.id}/outputs")
    with count_queries() as more:
        client.get(f"/commissions/{commission.id}/outputs")
    assert more.count == few.count


def test_inline_edit_with_htmx(client, auth, commission):
    auth.login("manager")
    m = first_measure(commission)
    url = f"/measures/{m.id}/actuals/2"
    editor = client.get(url + "?edit=1", headers=HX)
    assert editor.status_code == 200
    assert editor.text.strip().startswith("<td") and 'name="value"' in editor.text and "autofocus" in editor.text
    saved = client.post(url, data={"value": "21"}, headers=HX)
    assert saved.status_code == 200 and saved.text.strip().startswith("<td")
    assert "21" in saved.text and "tag--g" in saved.text
    db.session.expire_all()
    assert db.session.scalar(db.select(MeasureActual.value)) == 21


def test_inline_edit_bad_value_is_422_and_unchanged(client, auth, commission):
    auth.login("manager")
    m = first_measure(commission)
    response = client.post(f"/measures/{m.id}/actuals/1", data={"value": "lots"}, headers=HX)
    assert response.status_code == 422
    assert "Enter a whole number" in response.text and 'aria-invalid="true"' in response.text
    assert count(MeasureActual) == 0
    assert client.post(f"/measures/{m.id}/actuals/1", data={"value": "-3"}, headers=HX).status_code == 422
    assert client.post(f"/measures/{m.id}/actuals/1", data={"value": "99999999"}, headers=HX).status_code == 422
    assert count(MeasureActual) == 0


def test_edit_without_javascript(client, auth, commission):
    auth.login("manager")
    m = first_measure(commission)
    page = client.get(f"/measures/{m.id}/actuals/3?edit=1")
    assert page.status_code == 200 and "<html" in page.text and 'name="value"' in page.text
    response = client.post(f"/measures/{m.id}/actuals/3", data={"value": "30"})
    assert response.status_code == 303 and f"/commissions/{commission.id}/outputs" in response.location
    db.session.expire_all()
    assert db.session.scalar(db.select(MeasureActual.value)) == 30
    # Blank clears it.
    assert client.post(f"/measures/{m.id}/actuals/3", data={"value": ""}).status_code == 303
    assert count(MeasureActual) == 0


def test_viewer_cannot_open_the_editor(client, auth, commission):
    auth.login("viewer")
    m = first_measure(commission)
    assert client.get(f"/measures/{m.id}/actuals/1").status_code == 200
    assert client.get(f"/measures/{m.id}/actuals/1?edit=1").status_code == 403


def test_unknown_quarter_or_measure_is_404(client, auth, commission):
    auth.login("manager")
    m = first_measure(commission)
    assert client.get(f"/measures/{m.id}/actuals/5").status_code == 404
    assert client.get("/measures/999/actuals/1").status_code == 404
    assert client.get("/commissions/999/outputs").status_code == 404


def test_add_measure_and_bad_targets(client, auth, commission, metrics):
    auth.login("manager")
    before = count(Measure)
    metric = metrics["referrals_received"]
    bad = client.post(f"/commissions/{commission.id}/outputs/measures",
                      data={"new-metric_id": str(metric.id), "new-target_q1": "ten"})
    assert bad.status_code == 422 and "Error:" in bad.text and "Enter a whole number" in bad.text
    assert count(Measure) == before
    taken = client.post(f"/commissions/{commission.id}/outputs/measures",
                        data={"new-metric_id": str(metrics["cyp_engaged"].id)})
    assert taken.status_code == 422 and count(Measure) == before
    ok = client.post(f"/commissions/{commission.id}/outputs/measures",
                     data={"new-metric_id": str(metric.id), "new-unit": "referrals", "new-target_q1": "5",
                           "new-target_q2": "5", "new-target_q3": "5", "new-target_q4": "5"})
    assert ok.status_code == 303
    assert count(Measure) == before + 1
    added = db.session.scalar(db.select(Measure).where(Measure.metric_id == metric.id))
    assert added.target_year == 20


def test_edit_targets_is_audited(client, auth, commission):
    auth.login("manager")
    m = first_measure(commission)
    response = client.post(f"/measures/{m.id}/edit", data={"unit": "people", "target_q1": "11", "target_q2": "20",
                                                           "target_q3": "30", "target_q4": "40", "target_year": "90"})
    assert response.status_code == 303
    db.session.expire_all()
    m = db.session.get(Measure, m.id)
    assert (m.target_q1, m.target_year) == (11, 90)
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.object_type == "Measure",
                                                          AuditEvent.kind == "change"))
    assert event.before == {"target_q1": 10, "target_year": 100}
    bad = client.post(f"/measures/{m.id}/edit", data={"target_q1": "1.5"})
    assert bad.status_code == 422
    db.session.expire_all()
    assert db.session.get(Measure, m.id).target_q1 == 11


def test_delete_measure(client, auth, commission):
    auth.login("manager")
    m = first_measure(commission)
    service.set_actual(m, 1, 3)
    db.session.commit()
    assert client.post(f"/measures/{m.id}/delete").status_code == 303
    assert count(Measure) == 1 and count(MeasureActual) == 0


def test_narrative(client, auth, commission):
    auth.login("manager")
    url = f"/commissions/{commission.id}/outputs/narrative/2"
    assert client.post(url, data={"text": "x" * 5000}).status_code == 422
    assert count(QuarterNarrative) == 0
    assert client.post(url, data={"text": "Two new schools joined."}).status_code == 303
    page = client.get(f"/commissions/{commission.id}/outputs")
    assert "Two new schools joined." in page.text


def test_copy_measures_view(client, auth, make, commission):
    auth.login("manager")
    other = make.commission(year=commission.funding_year)
    db.session.commit()
    assert client.post(f"/commissions/{other.id}/outputs/copy", data={"copy-source": "nonsense"}).status_code == 422
    assert client.post(f"/commissions/{other.id}/outputs/copy",
                       data={"copy-source": f"{commission.id}-{commission.funding_year_id}"}).status_code == 303
    assert len(db.session.scalars(db.select(Measure).where(Measure.commission_id == other.id)).all()) == 2
    assert client.post(f"/commissions/{other.id}/outputs/copy", data={"copy-source": "template"}).status_code == 303
    assert len(db.session.scalars(db.select(Measure).where(Measure.commission_id == other.id)).all()) == 5


def test_closed_year_is_read_only(client, auth, make, metrics):
    c = make.commission(year=make.year("2024-25", status="closed"))
    db.session.commit()
    auth.login("manager")
    response = client.post(f"/commissions/{c.id}/outputs/measures", data={"new-metric_id": str(metrics["cyp_engaged"].id)})
    assert response.status_code == 409 and "closed" in response.text
    assert count(Measure) == 0


def test_monitoring_page_lists_due_and_totals(client, auth, commission):
    commission.funding_year.status = "open"
    service.set_actual(first_measure(commission), 1, 8)
    db.session.commit()
    auth.login("viewer")
    page = client.get("/monitoring/")
    assert page.status_code == 200
    assert "Monitoring due" in page.text and "CYP engaged" in page.text


def test_metrics_admin(client, auth, metrics):
    auth.login("admin")
    assert client.get("/monitoring/metrics").status_code == 200
    assert client.post("/monitoring/metrics", data={"name": ""}).status_code == 422
    assert client.post("/monitoring/metrics", data={"name": "cyp engaged"}).status_code == 422
    before = count(Metric)
    assert client.post("/monitoring/metrics", data={"name": "Parents supported", "unit": "people"}).status_code == 303
    assert count(Metric) == before + 1
    metric = db.session.scalar(db.select(Metric).where(Metric.name == "Parents supported"))
    assert client.post(f"/monitoring/metrics/{metric.id}", data={"name": "Parents and carers supported"}).status_code == 303
    db.session.expire_all()
    metric = db.session.get(Metric, metric.id)
    assert metric.name == "Parents and carers supported" and metric.active is False  # unticked box


@pytest.mark.parametrize("role", ["finance", "viewer"])
def test_only_managers_change_outputs(client, auth, commission, role):
    auth.login(role)
    m = first_measure(commission)
    assert client.post(f"/measures/{m.id}/actuals/1", data={"value": "4"}).status_code == 403
    assert count(MeasureActual) == 0


def test_home_page_shows_cyp_reached_by_strand(client, auth, commission):
    service.set_actual(first_measure(commission), 1, 9)
    db.session.commit()
    auth.login("viewer")
    page = client.get("/?year=2025-26")
    assert page.status_code == 200
    assert "Children and young people reached by strand" in page.text
    assert f"{commission.strand.name}: 9 reached against a target of 100" in page.text
