"""A manager records a variation that needs a Procurement Act change notice, sees its deadline appear on the
Deadlines page, and marks the notice published with its link. Axe checks the new pages on the way."""
from __future__ import annotations

import re
import secrets
from datetime import date

import pytest
from playwright.sync_api import expect

from tests.browser.support import check_accessibility, htmx_settled, require_screen, screenshot, sign_in

pytestmark = pytest.mark.browser


def _public_contract(live_server, reference: str) -> int:
    from tests.factories import Factories
    from tracker.extensions import db

    with live_server.app.app_context():
        make = Factories(db.session)
        line = make.budget_line(amount_pence=1_000_000_00)
        c = make.commission(reference=reference, title="Browser test detached youth work", budget_line=line,
                            value_pence=300_000_00, procurement_started_on=date(2025, 3, 1),
                            start_date=date(2025, 4, 1), end_date=date(2026, 3, 31), status="live")
        db.session.commit()
        commission_id = c.id
        db.session.remove()
    return commission_id


def test_a_variation_over_10_percent_brings_a_change_notice_to_publish(page, live_server):
    require_screen(live_server, "procurement.publish", "procurement.index", "milestones.index")
    reference = f"VRU-PA-{secrets.token_hex(2).upper()}"
    commission_id = _public_contract(live_server, reference)
    sign_in(page, "manager")
    page.goto(live_server.url(f"/commissions/{commission_id}"))
    notices = page.locator("table").filter(has_text="Contract termination notice")
    expect(notices).to_contain_text("Contract details notice")
    expect(page.get_by_text("A public contract: £300,000.00")).to_be_visible()

    # The variation: +£35,000 on £300,000 is 11.67%, so a change notice is due before it takes effect.
    form = page.locator("#variation-form")
    form.get_by_label("Date agreed").fill("01/10/2025")
    form.get_by_label("Change in value").fill("35,000.00")
    form.get_by_label("Reason").fill("More young people referred by schools")
    form.get_by_role("button", name="Record variation").click()
    htmx_settled(page)
    page.locator("#variation-form").get_by_role("button", name="Confirm the variation").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status").filter(has_text="contract change notice is due by 01/10/2025")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Contract change notice")
    expect(row).to_contain_text("01/10/2025")
    check_accessibility(page, "a commission with its notices")
    screenshot(page, "commission-notices")

    # The deadline is on the Deadlines page, in the Procurement Act programme.
    page.goto(live_server.url("/milestones/?programme=Procurement+Act"))
    deadline = page.get_by_role("link", name=re.compile(f"{reference} .*contract change notice due"))
    expect(deadline).to_be_visible()
    check_accessibility(page, "the Procurement Act deadlines")

    # Marked published with its link: the notice shows it, and the deadline is done.
    page.goto(live_server.url(f"/commissions/{commission_id}#notices"))
    row = page.get_by_role("row").filter(has_text="Contract change notice")
    row.locator("summary").click()
    row.get_by_label("Published on").fill("30/09/2025")
    row.get_by_label("Link to the notice").fill("https://www.find-tender.service.gov.uk/Notice/000123-2025")
    row.get_by_role("button", name=re.compile("^Mark published")).click()
    page.wait_for_load_state()
    expect(page.get_by_role("status").filter(has_text="Contract change notice recorded as published on 30/09/2025")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Contract change notice")
    expect(row.get_by_role("link", name=re.compile("^notice"))).to_have_attribute(
        "href", "https://www.find-tender.service.gov.uk/Notice/000123-2025")
    page.goto(live_server.url("/milestones/?programme=Procurement+Act"))
    # Done, missed or past deadlines are folded away: open them.
    done = page.locator("details.deadline-group--closed")
    done.locator("summary").click()
    expect(done.get_by_role("link", name=re.compile(f"{reference} .*contract change notice due"))).to_be_visible()
    page.goto(live_server.url("/notices/"))
    check_accessibility(page, "the notices list")
