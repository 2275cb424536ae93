"""A monitoring return is recorded once: a second commit (a double click, another tab, the same file uploaded
again) is refused, and Withdraw puts back what was there before the first commit (issue 12, finding 1)."""
from __future__ import annotations

import pytest

from tests.monitoring.test_workbook import fill, generate, measure_ids, upload
from tracker.extensions import db
from tracker.models import ImportBatch
from tracker.models.monitoring import MeasureActual
from tracker.monitoring import service, workbook


def _staged_with_earlier_value(client, commission):
    ids = measure_ids(commission)
    service.set_actual(db.session.get(service.Measure, ids[0]), 1, 3)
    db.session.commit()
    data = fill(generate(client, commission), {ids[0]: 12})
    assert upload(client, commission, data).status_code == 303
    return db.session.scalar(db.select(ImportBatch.id).order_by(ImportBatch.id.desc())), data


def test_a_commit_racing_another_is_refused_and_withdraw_restores_the_first_value(client, auth, commission):
    auth.login("manager")
    batch_id, _ = _staged_with_earlier_value(client, commission)
    # This request read the return while it was still "previewed" ...
    staged = workbook.get_monitoring_return_or_404(batch_id)
    assert staged.import_batch.status == "previewed"
    # ... and another request commits it first.
    assert client.post(f"/monitoring/returns/{batch_id}/commit").status_code == 303
    with pytest.raises(workbook.NotAllowed, match="Someone else has just committed"):
        workbook.commit_return(staged)
    db.session.rollback()
    assert client.post(f"/monitoring/returns/{batch_id}/withdraw").status_code == 303
    db.session.expire_all()
    assert db.session.scalar(db.select(MeasureActual.value)) == 3, "the value before the first commit"
    assert db.session.get(ImportBatch, batch_id).status == "withdrawn"


def test_the_same_workbook_uploaded_twice_is_recorded_once(client, auth, commission):
    auth.login("manager")
    first_id, data = _staged_with_earlier_value(client, commission)
    assert upload(client, commission, data).status_code == 303
    second_id = db.session.scalar(db.select(ImportBatch.id).order_by(ImportBatch.id.desc()))
    assert second_id != first_id
    assert client.post(f"/monitoring/returns/{first_id}/commit").status_code == 303
    refused = client.post(f"/monitoring/returns/{second_id}/commit")
    assert refused.status_code == 409 and "already been recorded" in refused.text
    db.session.expire_all()
    assert db.session.get(ImportBatch, second_id).status == "previewed"
    client.post(f"/monitoring/returns/{first_id}/withdraw")
    db.session.expire_all()
    assert db.session.scalar(db.select(MeasureActual.value)) == 3
