"""A measure's targets saved from a form opened before someone else's save are refused with both versions shown;
the add-a-measure form sent twice adds one measure."""
from __future__ import annotations

from sqlalchemy import func, select

from tests.pages import hidden
from tracker.extensions import db
from tracker.models.monitoring import Measure


def test_stale_targets_are_refused_with_both_versions(client, auth, commission, metrics):
    measure = db.session.scalar(select(Measure).where(Measure.metric_id == metrics["cyp_engaged"].id))
    auth.login("manager")
    url = f"/measures/{measure.id}/edit"
    version = hidden(client.get(url).text, "version")
    data = {"unit": "people", "target_q1": "10", "target_q2": "20", "target_q3": "30", "target_q4": "40",
            "target_year": "", "version": version}
    assert client.post(url, data={**data, "target_q4": "45"}).status_code == 303
    stale = client.post(url, data={**data, "unit": "young people"})
    assert stale.status_code == 409 and "young people" in stale.text and "45" in stale.text
    db.session.expire_all()
    saved = db.session.get(Measure, measure.id)
    assert (saved.unit, saved.target_q4) == ("people", 45)


def test_a_double_posted_measure_is_added_once(client, auth, commission, metrics):
    auth.login("manager")
    token = hidden(client.get(f"/commissions/{commission.id}/outputs").text, "new-once")
    data = {"new-metric_id": str(metrics["referrals_received"].id), "new-unit": "referrals", "new-target_q1": "5",
            "new-target_q2": "5", "new-target_q3": "5", "new-target_q4": "5", "new-once": token}
    url = f"/commissions/{commission.id}/outputs/measures"
    first, second = client.post(url, data=data), client.post(url, data=data)
    assert first.status_code == second.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Measure).where(
        Measure.metric_id == metrics["referrals_received"].id)) == 1
