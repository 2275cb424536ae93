"""The commissions register import asks the commission form's over-budget question: the lines the file takes over
their budgets are listed at the preview, nothing is imported until they are confirmed, and the confirmation is
kept in the audit trail."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.imports.helpers import upload
from tests.imports.test_views import chosen
from tests.pages import hidden
from tracker.extensions import db
from tracker.models import AuditEvent, Commission, ImportBatch

REGISTER = ("Contract Ref,Service,Provider,Strand,Funding stream,Contract Value (£),Start Date,End Date,Status\n"
            "VRU-25-900,Mentoring,Safe Streets CIC,Serious Youth Violence,Home Office VRU core grant,{value},"
            "01/04/2025,31/03/2026,live\n")


@pytest.fixture
def finance(auth, make):
    year = make.year("2025-26")
    make.budget_line(year=year, stream=make.stream("Home Office VRU core grant"),
                     strand=make.strand("Serious Youth Violence"), amount_pence=75_000_00, description="Mentoring")
    db.session.commit()
    return auth.login("finance")


def preview_of(client, value: str):
    response = upload(client, "register.csv", data=REGISTER.format(value=value).encode(), kind="commissions")
    assert response.status_code == 303, response.text
    page = client.get(response.location)
    response = client.post(response.location, data=chosen(page.text))
    return response.location, client.get(response.location)


def test_a_register_taking_a_line_over_budget_is_listed_and_needs_confirming(client, finance):
    url, page = preview_of(client, "900000.00")
    assert "takes budget lines over their budgets" in page.text
    assert "This takes Mentoring (2025-26) over its budget by £825,000.00" in page.text
    seen = hidden(page.text, "over_budget_seen")
    refused = client.post(url + "/commit", data={"over_budget_seen": seen})
    assert refused.status_code == 422 and "confirm it" in refused.text
    assert db.session.scalar(select(func.count()).select_from(Commission)) == 0
    done = client.post(url + "/commit", data={"over_budget_seen": seen, "confirm_over_budget": "y"})
    assert done.status_code == 303
    batch = db.session.scalars(select(ImportBatch)).one()
    assert batch.status == "committed"
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "ImportBatch", AuditEvent.summary.like("%taken over budget, confirmed%"))).one()
    assert event.after["over_budget_confirmed"] == ["This takes Mentoring (2025-26) over its budget by £825,000.00"]


def test_a_confirmation_of_another_list_is_asked_again(client, finance):
    """The person confirmed what the preview showed; the commit finds another list (the budget changed since):
    it asks again instead of importing."""
    url, page = preview_of(client, "900000.00")
    refused = client.post(url + "/commit", data={"over_budget_seen": "something else", "confirm_over_budget": "y"})
    assert refused.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Commission)) == 0


def test_a_register_within_budget_asks_nothing(client, finance):
    url, page = preview_of(client, "50000.00")
    assert "over their budgets" not in page.text
    assert client.post(url + "/commit", data={}).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Commission)) == 1


def test_the_command_line_asks_too(app, runner, make, tmp_path, finance):
    path = tmp_path / "register.csv"
    path.write_text(REGISTER.format(value="900000.00"))
    refused = runner.invoke(args=["import", str(path), "--kind", "commissions", "--commit"])
    assert refused.exit_code == 1 and "Over budget: This takes Mentoring (2025-26)" in refused.output
    assert "--confirm-over-budget" in refused.output
    assert db.session.scalar(select(func.count()).select_from(Commission)) == 0
    done = runner.invoke(args=["import", str(path), "--kind", "commissions", "--commit", "--confirm-over-budget"])
    assert done.exit_code == 0, done.output
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.summary.like("%taken over budget, confirmed%"))) == 1
