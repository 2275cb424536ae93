"""Keyboard-only use, and forms with JavaScript turned off (progressive enhancement)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, USERS
from tests.browser.support import check_accessibility, focused, sign_in  # noqa: F401  (axe needs JavaScript: never on nojs_page)


def test_sign_in_and_switch_year_by_keyboard_alone(page):
    page.goto("/sign-in")
    # The first Tab reaches the skip link, which is then visible and moves focus to the main content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    expect(page.get_by_role("link", name="Skip to main content")).to_be_visible()
    assert focused(page)["outline"] != "none", "the focused skip link shows no focus indicator"
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email address")).to_be_focused()
    page.keyboard.type(USERS["finance"])
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    assert focused(page)["outline"] != "none", "the focused button shows no focus indicator"
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(re.compile("/sign-in"))

    # Tab to the year switch; every stop on the way shows where focus is.
    for _ in range(30):
        page.keyboard.press("Tab")
        info = focused(page)
        if info["tag"] == "body":
            continue  # Tab past the last control leaves the page for the browser's own controls, then wraps
        assert info["visible"], f"focus went to something invisible: {info}"
        assert info["outline"] != "none" or info["shadow"] != "none", f"no focus indicator on {info}"
        if info["id"] == "year-select":
            break
    else:
        raise AssertionError("never reached the funding year switch by Tab")
    page.keyboard.press("ArrowUp")  # the newest year is listed first; a closed select changes value on arrow keys
    expect(page).to_have_url(re.compile(r"year=2026-27"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Funding year 2026-27")
    # After the swap, focus is still on the control the person was using, not lost to the top of the page.
    expect(page.get_by_label("Funding year")).to_be_focused()


def test_sign_in_year_switch_and_sign_out_work_without_javascript(nojs_page):
    page = nojs_page
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(USERS["manager"])
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_contain_text("Signed in as")
    # Without JavaScript the year switch shows a button that submits the form.
    page.get_by_label("Funding year").select_option("2026-27")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"year=2026-27"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Funding year 2026-27")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("/sign-in"))
