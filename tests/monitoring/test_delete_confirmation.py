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
    assert client.get("/documents/999999/delete").status_code in (403, 404)
