"""Keyboard-only use, and forms with JavaScript turned off (progressive enhancement)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, USERS
from tests.browser.support import focused, require_screen, sign_in  # (axe needs JavaScript: never on nojs_page)

pytestmark = pytest.mark.browser


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
    # Tab only once the new page has loaded, or the key presses land in the page being replaced.
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Funding year"))

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


def tab_to(page, predicate_js: str, limit: int = 80) -> dict:
    """Press Tab until the focused element matches ``predicate_js`` (a JS expression on ``e``), checking that
    every stop on the way is visible and shows a focus indicator."""
    page.wait_for_load_state("load")
    for _ in range(limit):
        page.keyboard.press("Tab")
        info = focused(page)
        if info["tag"] == "body":
            continue
        assert info["visible"], f"focus went to something invisible: {info}"
        assert info["outline"] != "none" or info["shadow"] != "none", f"no focus indicator on {info}"
        if page.evaluate(f"() => {{ const e = document.activeElement; return !!({predicate_js}); }}"):
            return info
    raise AssertionError(f"never reached {predicate_js} by Tab")


def test_register_and_commission_form_by_keyboard_alone(page, live_server):
    require_screen(live_server, "commissions.index", "commissions.edit", "commissions.change_status")
    sign_in(page, "manager")
    page.goto("/commissions/")
    # Live search from the keyboard.
    tab_to(page, "e.id === 'q'")
    page.keyboard.type("VRU-25-010")
    expect(page).to_have_url(re.compile(r"q=VRU-25-010"))
    register = page.locator("#register")
    expect(register.get_by_role("row")).to_have_count(2)
    # Into the register: change the status with the arrow keys and press Enter on Set.
    tab_to(page, "e.id && e.id.startsWith('status-') && e.tagName === 'SELECT'")
    before = page.evaluate("() => document.activeElement.value")
    page.keyboard.press("ArrowDown")
    after = page.evaluate("() => document.activeElement.value")
    assert after != before
    tab_to(page, "e.id && e.id.startsWith('status-set-')")
    page.keyboard.press("Enter")
    expect(register.get_by_role("status")).to_have_text("Saved.")
    expect(register).to_contain_text(after.capitalize())
    # Focus is back on the same button after the row was replaced.
    assert page.evaluate("() => document.activeElement.id.startsWith('status-set-')")

    # Follow the reference link with Enter, then edit the commission: Space ticks a checkbox, Enter saves.
    tab_to(page, "e.tagName === 'A' && e.textContent.trim() === 'VRU-25-010'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("VRU-25-010")
    tab_to(page, "e.tagName === 'A' && e.textContent.trim() === 'Edit'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit VRU-25-010")
    checkbox = page.get_by_label("The award was competed")
    was = checkbox.is_checked()
    tab_to(page, "e.id === 'competed'")
    page.keyboard.press("Space")
    expect(checkbox).to_be_checked(checked=not was)
    tab_to(page, "e.tagName === 'BUTTON' && e.textContent.trim() === 'Save changes'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("VRU-25-010")
    expect(page.get_by_role("heading", level=1)).to_contain_text("VRU-25-010")


def test_register_quick_change_and_commission_form_work_without_javascript(nojs_page, live_server):
    require_screen(live_server, "commissions.index", "commissions.edit", "commissions.change_status")
    page = nojs_page
    sign_in(page, "manager", next_path="/commissions/?q=VRU-25-012")
    page.get_by_label("Status of VRU-25-012").select_option("awarded")
    page.get_by_role("button", name="Set status of VRU-25-012").click()
    # A plain POST, then back to the same filtered register.
    expect(page).to_have_url(re.compile(r"/commissions/\?q=VRU-25-012"))
    expect(page.get_by_role("status").first).to_contain_text("VRU-25-012 saved")
    expect(page.locator("#register")).to_contain_text("Awarded")

    # The full form: an error comes back as a page with the summary; fixing it saves.
    page.get_by_role("link", name="VRU-25-012").click()
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Title", exact=True).fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.get_by_role("alert")).to_contain_text("Enter the service's title")
    page.get_by_label("Title", exact=True).fill("Healthy relationships education (partners)")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Healthy relationships education (partners)")
