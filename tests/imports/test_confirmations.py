"""Issue 16 on the import pages: withdrawing goes through a confirmation page that says what will change
(no browser confirm(), works without JavaScript), and a preview with nothing to import says why instead of
offering "Import 0 rows"."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.imports.helpers import LEDGER, table_counts, upload
from tests.imports.test_views import _commit_through_pages, chosen
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.models import ImportBatch


@pytest.fixture
def finance(app, auth):
    seed_demo(DEMO_TODAY)
    db.session.commit()
    return auth.login("finance")


def test_withdrawing_asks_first_and_says_what_will_change(client, finance):
    _commit_through_pages(client, LEDGER)
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()))
    page = client.get(f"/imports/{batch.id}").text
    assert f'href="/imports/{batch.id}/withdraw"' in page and "hx-confirm" not in page
    before = table_counts()
    confirm = client.get(f"/imports/{batch.id}/withdraw")
    assert confirm.status_code == 200
    assert "What will change" in confirm.text and "420 ledger lines" in confirm.text and "will be removed" in confirm.text
    assert f'action="/imports/{batch.id}/withdraw"' in confirm.text and "No, keep it" in confirm.text
    db.session.expire_all()
    assert table_counts() == before and db.session.get(ImportBatch, batch.id).status == "committed"
    assert client.post(f"/imports/{batch.id}/withdraw").status_code == 303
    again = client.get(f"/imports/{batch.id}/withdraw")
    assert again.status_code == 409 and "Only a committed import can be withdrawn" in again.text
    assert "Yes, withdraw" not in again.text


def _preview_of(client, name: str, body: bytes):
    response = upload(client, name, data=body, kind="ledger")
    assert response.status_code == 303, response.text
    page = client.get(response.location)
    response = client.post(response.location, data=chosen(page.text))
    return client.get(response.location)


def test_a_file_with_nothing_to_import_says_why_and_offers_no_button(client, finance):
    body = b"Transaction reference,Posting date,Supplier name,Net\nT1,01/05/2025,Acme,abc\nT2,02/05/2025,Acme,1.2.3\n"
    page = _preview_of(client, "bad-amounts.csv", body)
    assert page.status_code == 200
    assert "Import 0 rows" not in page.text and "/commit" not in page.text
    assert "Nothing to import" in page.text and "Every row has a problem" in page.text
