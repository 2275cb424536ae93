"""Finance prepares, submits and records payment of a Q1 claim, and sees a grant condition change after a
virement. axe checks every new page on the way."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import check_accessibility, require_screen, screenshot, sign_in

pytestmark = pytest.mark.browser


def _year_page(page):
    page.goto("/funding/years")
    page.get_by_role("link", name=re.compile("2025-26")).first.click()
    expect(page.get_by_role("heading", name="Claims")).to_be_visible()


def _choose(page, label: str, text: str) -> None:
    """Choose the first option of a select whose text contains ``text``."""
    select = page.get_by_label(label, exact=True)
    select.select_option(select.locator("option", has_text=text).first.get_attribute("value"))


def test_finance_claims_q1_and_sees_a_condition_change_after_a_virement(page, live_server):
    require_screen(live_server, "claims.claim", "claims.virement", "claims.new_condition")
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, "finance")
    _year_page(page)
    check_accessibility(page, "year page with claims")
    screenshot(page, "claims-year")

    # Prepare the Serious Violence Duty Q1 claim from the grid.
    page.get_by_role("button", name="Prepare the Serious Violence Duty Q1 (Apr-Jun) claim").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Serious Violence Duty claim, 2025-26 Q1 (Apr-Jun)")
    check_accessibility(page, "claim page, draft")
    page.get_by_label("Signed off by").fill("Chief finance officer, OPCC")
    page.get_by_role("button", name="Save the claim").click()
    expect(page.get_by_role("status")).to_contain_text("Claim saved")
    claimed = page.get_by_label("Amount claimed").input_value()

    # Submit it: the schedule is frozen as version 1.
    page.get_by_label("Date submitted to the funder").fill("18/07/2025")
    page.get_by_role("button", name="Submit the claim").click()
    expect(page.get_by_role("status")).to_contain_text("version 1")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("Download the claim schedule")).click()
    with open(info.value.path(), "rb") as fh:
        assert fh.read(2) == b"PK"

    # The funder pays.
    page.get_by_label("Date paid").fill("12/08/2025")
    page.get_by_label("Amount received").fill(claimed)
    page.get_by_label("Remittance reference").fill("HO-SVD-REM-0001")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_contain_text("Payment recorded")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Paid")
    check_accessibility(page, "claim page, paid")

    # A condition of its own: evaluation at least 5% of the core grant (£68,500.00; the budget is £45,000.00).
    _year_page(page)
    page.get_by_role("link", name="Add a grant condition").click()
    check_accessibility(page, "condition form")
    page.get_by_label("Funding stream").select_option(label="Home Office VRU core grant")
    page.get_by_label("Condition", exact=True).select_option("category_share")
    page.get_by_label("Category (for a category's share)").select_option(label="Evaluation")
    page.get_by_label("Minimum share (%)").fill("5")
    page.get_by_role("button", name="Add the condition").click()
    row = page.locator("tr", has_text="Evaluation: at least 5% of Home Office VRU core grant")
    expect(row).to_contain_text("Not met")

    # Move £30,000.00 into evaluation: on budget it is met now, the forecast is not yet: at risk.
    page.get_by_role("link", name="Move money between budget lines (virement)").click()
    check_accessibility(page, "virement form")
    _choose(page, "From budget line", "Home Office VRU core grant / Commissioned services / Serious Youth Violence")
    _choose(page, "To budget line", "Home Office VRU core grant / Evaluation")
    page.get_by_label("Amount", exact=True).fill("30,000")
    page.get_by_label("Why", exact=True).fill("Evaluation of the mentoring programme brought forward")
    page.get_by_role("button", name="Move the money").click()
    row = page.locator("tr", has_text="Evaluation: at least 5% of Home Office VRU core grant")
    expect(row).to_contain_text("At risk")
    check_accessibility(page, "year page after the virement")

    # Match funding form is reachable and accessible.
    page.get_by_role("link", name="Record a match contribution").click()
    check_accessibility(page, "match contribution form")
