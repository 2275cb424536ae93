"""Deleting a document goes through a page that says what will go (issue 16): no browser confirm()."""
from __future__ import annotations

from tests.monitoring.test_documents import PDF, count, upload
from tracker.extensions import db
from tracker.models.monitoring import Document


def test_deleting_a_document_asks_first_and_lists_its_versions(client, auth, make):
    c = make.commission()
    db.session.commit()
    auth.login("admin")
    assert upload(client, c, PDF, "Signed contract.pdf").status_code == 303
    document = db.session.scalar(db.select(Document))
    page = client.get(f"/documents/commission/{c.id}").text
    assert f'href="/documents/{document.id}/delete"' in page and "data-confirm" not in page
    confirm = client.get(f"/documents/{document.id}/delete")
    assert confirm.status_code == 200 and "What will change" in confirm.text
    assert "version 1: Signed contract.pdf" in confirm.text and "Yes, delete" in confirm.text
    assert count(Document) == 1  # asking changed nothing
    assert client.post(f"/documents/{document.id}/delete").status_code == 303
    assert count(Document) == 0


def test_only_admins_see_the_confirmation(client, auth, make):
    c = make.commission()
    db.session.commit()
    auth.login("manager")
    assert upload(client, c, PDF, "a.pdf").status_code == 303
    document = db.session.scalar(db.select(Document))
    assert client.get(f"/documents/{document.id}/delete").status_code == 403
    assert client.get("/documents/999999/delete").status_code == 403  # who may comes before what exists


def test_removing_a_measure_asks_first_and_counts_its_actuals(client, auth, commission):
    from tests.monitoring.test_views import first_measure
    from tracker.models.monitoring import Measure, MeasureActual
    from tracker.monitoring import service

    auth.login("manager")
    m = first_measure(commission)
    service.set_actual(m, 1, 3)
    db.session.commit()
    outputs = client.get(f"/commissions/{commission.id}/outputs").text
    assert f'href="/measures/{m.id}/delete"' in outputs and "data-confirm" not in outputs
    confirm = client.get(f"/measures/{m.id}/delete")
    assert confirm.status_code == 200 and "its 1 recorded actual will be removed" in confirm.text
    assert count(MeasureActual) == 1 and count(Measure) == 2  # asking changed nothing
    assert client.post(f"/measures/{m.id}/delete").status_code == 303
    assert count(MeasureActual) == 0


def test_withdrawing_a_monitoring_return_asks_first(client, auth, commission):
    from tests.monitoring.test_workbook import fill, generate, measure_ids
    from tests.monitoring.test_workbook import upload as upload_return
    from tracker.models import ImportBatch

    auth.login("manager")
    ids = measure_ids(commission)
    assert upload_return(client, commission, fill(generate(client, commission), {ids[0]: 12})).status_code == 303
    batch = db.session.scalar(db.select(ImportBatch))
    assert client.post(f"/monitoring/returns/{batch.id}/commit").status_code == 303
    confirm = client.get(f"/monitoring/returns/{batch.id}/withdraw")
    assert confirm.status_code == 200 and "go back to what they were" in confirm.text and "Yes, withdraw" in confirm.text
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).status == "committed"
    assert client.post(f"/monitoring/returns/{batch.id}/withdraw").status_code == 303
    again = client.get(f"/monitoring/returns/{batch.id}/withdraw")
    assert again.status_code == 409 and "cannot be withdrawn" in again.text and "Yes, withdraw" not in again.text
