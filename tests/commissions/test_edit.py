"""Adding and editing commissions: every rule refused with 422 at its field and nothing saved; optimistic locking."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.commissions.conftest import HX, form_data
from tracker.extensions import db
from tracker.models import AuditEvent, Commission, Provider


def _count():
    db.session.expire_all()
    return db.session.scalar(select(func.count(Commission.id)))


def test_create_without_javascript_redirects_and_audits(client, manager, setup):
    response = client.post("/commissions/new", data=form_data(setup))
    assert response.status_code == 303
    c = db.session.scalar(select(Commission).where(Commission.reference == "VRU-25-100"))
    assert response.location.endswith(f"/commissions/{c.id}")
    assert c.value_pence == 1234567 and c.start_date == date(2025, 4, 1) and c.provider_id == setup["provider"].id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.object_type == "Commission"))
    assert event.kind == "create" and event.user_id == manager.id
    assert event.after["value_pence"] == 1234567 and event.before is None


def test_create_with_htmx_sends_the_browser_to_the_new_page(client, manager, setup):
    response = client.post("/commissions/new", data=form_data(setup), headers=HX)
    assert response.status_code == 204
    assert "/commissions/" in response.headers["HX-Redirect"]


@pytest.mark.parametrize("overrides, field, message", [
    ({"reference": ""}, "reference", "Enter a reference"),
    ({"title": ""}, "title", "Enter the service"),
    ({"value_pence": "0"}, "value_pence", "more than £0.00"),
    ({"value_pence": "-5"}, "value_pence", "zero or more"),
    ({"value_pence": "lots"}, "value_pence", "Enter an amount"),
    ({"end_date": "01/04/2025"}, "end_date", "after the start date"),
    ({"end_date": "31/02/2026"}, "end_date", "real date"),
    ({"start_date": ""}, "start_date", "Enter the start date"),
    ({"provider_id": "", "new_provider_name": ""}, "provider_id", "Choose a provider"),
    ({"strand_id": ""}, "strand_id", "Choose a strand"),
    ({"funding_year_id": ""}, "funding_year_id", "Choose a funding year"),
    ({"provider_id": "99999"}, "provider_id", "Choose a provider from the list"),
    ({"shares-0-amount": "lots"}, "shares-0-amount", "Enter an amount"),
])
def test_each_rule_gives_422_at_its_field_and_saves_nothing(client, manager, setup, overrides, field, message):
    for headers in ({}, HX):
        response = client.post("/commissions/new", data=form_data(setup, **overrides), headers=headers)
        assert response.status_code == 422
        assert message in response.text
        assert f'id="{field}-error"' in response.text
        assert _count() == 0
    full = client.post("/commissions/new", data=form_data(setup, **overrides))
    assert "<title>Error: " in full.text and "There is a problem" in full.text


def test_reference_must_be_unique(client, manager, setup, make):
    make.commission(reference="VRU-25-100")
    db.session.commit()
    response = client.post("/commissions/new", data=form_data(setup, reference="vru-25-100"))
    assert response.status_code == 422 and "already used" in response.text
    assert _count() == 1


def test_budget_line_must_be_in_the_same_year(client, manager, setup, make):
    other_year = make.year("2026-27")
    db.session.commit()
    response = client.post("/commissions/new", data=form_data(setup, funding_year_id=str(other_year.id),
                                                                start_date="01/04/2026", end_date="31/03/2027",
                                                                **{"shares-0-year_label": "2026-27"}))
    assert response.status_code == 422 and "is not in 2026-27: choose a line of the share" in response.text
    assert _count() == 0


def test_a_closed_year_is_refused(client, manager, setup, make):
    setup["year"].status = "closed"
    db.session.commit()
    response = client.post("/commissions/new", data=form_data(setup))
    assert response.status_code == 422 and "is closed" in response.text
    assert _count() == 0
    c = make.commission(year=setup["year"], budget_line=setup["line"])
    db.session.commit()
    assert client.get(f"/commissions/{c.id}/edit").status_code == 409
    response = client.post(f"/commissions/{c.id}/status", data={"version": c.version, "status": "ended"})
    assert response.status_code == 409 and "closed" in response.text


def test_a_new_provider_is_added_inline(client, manager, setup):
    response = client.post("/commissions/new", data=form_data(setup, provider_id="", new_provider_name="Swale Boxing Academy"))
    assert response.status_code == 303
    provider = db.session.scalar(select(Provider).where(Provider.name == "Swale Boxing Academy"))
    assert provider is not None
    assert db.session.scalar(select(Commission.provider_id)) == provider.id
    # Naming an existing provider (any case) uses it rather than making a twin.
    client.post("/commissions/new", data=form_data(setup, reference="VRU-25-101", provider_id="",
                                                   new_provider_name="swale boxing academy"))
    assert db.session.scalar(select(func.count(Provider.id)).where(func.lower(Provider.name) == "swale boxing academy")) == 1


def test_edit_saves_and_records_before_and_after(client, manager, setup, make):
    c = make.commission(reference="VRU-25-100", budget_line=setup["line"], provider=setup["provider"], value_pence=1000_00)
    db.session.commit()
    page = client.get(f"/commissions/{c.id}/edit")
    assert page.status_code == 200 and 'name="version"' in page.text and 'value="1,000.00"' in page.text
    response = client.post(f"/commissions/{c.id}/edit", data=form_data(setup, version=str(c.version), value_pence="1,500.25",
                                                                         status="live"))
    assert response.status_code == 303
    db.session.expire_all()
    c = db.session.get(Commission, c.id)
    assert c.value_pence == 150025 and c.version == 2
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "change", AuditEvent.summary.like("Changed commission%"))).one()
    assert event.before["value_pence"] == 1000_00 and event.after["value_pence"] == 150025
    assert "status" not in event.after  # only what changed is recorded (it was live already)


def test_the_second_of_two_edits_is_refused_with_the_current_values(client, manager, setup, make):
    c = make.commission(reference="VRU-25-100", budget_line=setup["line"], provider=setup["provider"], value_pence=1000_00)
    db.session.commit()
    version = c.version
    first = client.post(f"/commissions/{c.id}/edit", data=form_data(setup, version=str(version), value_pence="2000"))
    assert first.status_code == 303
    for headers in ({}, HX):
        second = client.post(f"/commissions/{c.id}/edit", data=form_data(setup, version=str(version), value_pence="3000"),
                             headers=headers)
        assert second.status_code == 409
        assert "Someone else changed this commission" in second.text
        assert "£2,000.00" in second.text  # the current value is shown
        assert 'value="3000"' in second.text  # what they typed is kept
        assert f'name="version" type="hidden" value="{version + 1}"' in second.text
    db.session.expire_all()
    assert db.session.get(Commission, c.id).value_pence == 2000_00


def test_edit_with_errors_is_422(client, manager, setup, make):
    c = make.commission(reference="VRU-25-100", budget_line=setup["line"], provider=setup["provider"])
    db.session.commit()
    response = client.post(f"/commissions/{c.id}/edit", data=form_data(setup, version=str(c.version), title=""), headers=HX)
    assert response.status_code == 422 and "<html" not in response.text and 'id="commission-form"' in response.text


def test_finance_and_viewers_cannot_change_commissions(client, auth, setup):
    auth.login("finance")
    assert client.get("/commissions/").status_code == 200
    assert client.get("/commissions/new").status_code == 403
    assert client.post("/commissions/new", data=form_data(setup)).status_code == 403
    assert _count() == 0


def test_recording_the_decision_on_the_end_clears_the_ending_soon_flag(client, auth, make):
    auth.login("manager")
    commission = make.commission(reference="VRU-25-050")
    db.session.commit()
    page = client.get(f"/commissions/{commission.id}/edit")
    assert "Decision on the end" in page.text and "Not decided yet" in page.text
    data = {
        "reference": "VRU-25-050", "title": commission.title, "provider_id": commission.provider_id,
        "funding_year_id": commission.funding_year_id, "strand_id": commission.strand_id,
        "shares-0-year_label": "2025-26", "shares-0-budget_line_id": make.line_of(commission).id,
        "shares-0-amount": "10,000.00", "procurement_route": "Direct award", "commission_type": "contract",
        "value_pence": "10,000.00", "start_date": "01/04/2025", "end_date": "31/03/2026", "status": "live",
        "end_decision": "re-procure", "version": commission.version,
    }
    response = client.post(f"/commissions/{commission.id}/edit", data=data)
    assert response.status_code == 303, response.text
    db.session.expire_all()
    assert db.session.get(Commission, commission.id).end_decision == "re-procure"
    data.update(end_decision="", version=db.session.get(Commission, commission.id).version)
    assert client.post(f"/commissions/{commission.id}/edit", data=data).status_code == 303
    db.session.expire_all()
    assert db.session.get(Commission, commission.id).end_decision is None
    data.update(end_decision="abolish", version=db.session.get(Commission, commission.id).version)
    assert client.post(f"/commissions/{commission.id}/edit", data=data).status_code == 422
