"""Providers saved from a form opened before someone else's save are refused (409, both versions shown); the
commission and provider forms sent twice make one record."""
from __future__ import annotations

from sqlalchemy import func, select

from tests.commissions.conftest import form_data
from tests.pages import hidden
from tracker.extensions import db
from tracker.models import Commission, Provider


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def provider_data(version: str = "", **changes) -> dict:
    return {"name": "Safe Streets CIC", "charity_number": "", "company_number": "", "supplier_ids": "SUP1001",
            "notes": "", "version": version, **changes}


def test_a_stale_provider_form_is_refused_with_both_versions(client, auth, make):
    provider = make.provider("Safe Streets CIC")
    db.session.commit()
    auth.login("manager")
    url = f"/providers/{provider.id}/edit"
    version = hidden(client.get(url).text, "version")
    assert client.post(url, data=provider_data(version, individual="y")).status_code == 303
    stale = client.post(url, data=provider_data(version, notes="Youth work in the east of the county"))
    assert stale.status_code == 409
    assert "Youth work in the east of the county" in stale.text and "Someone else changed this provider" in stale.text
    db.session.expire_all()
    saved = db.session.get(Provider, provider.id)
    assert saved.individual and saved.notes == ""


def test_a_double_posted_provider_is_added_once(client, auth):
    auth.login("manager")
    token = hidden(client.get("/providers/new").text, "once")
    first = client.post("/providers/new", data=provider_data(once=token))
    second = client.post("/providers/new", data=provider_data(once=token))
    assert first.status_code == second.status_code == 303 and first.location == second.location
    assert count(Provider) == 1


def test_a_double_posted_commission_is_added_once(client, manager, setup):
    token = hidden(client.get("/commissions/new").text, "once")
    first = client.post("/commissions/new", data=form_data(setup, once=token))
    second = client.post("/commissions/new", data=form_data(setup, once=token))
    assert first.status_code == second.status_code == 303 and first.location == second.location
    assert count(Commission) == 1
