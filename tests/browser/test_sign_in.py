"""Signing in and out, a wrong password, changing one's password, and the home page, in a real browser."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, USERS
from tests.browser.support import check_accessibility, screenshot, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_with_a_wrong_password_then_the_right_one_then_sign_out(page):
    page.goto("/")
    # Anonymous visitors land on the sign-in page.
    expect(page).to_have_url(re.compile(r"/sign-in"))
    expect(page).to_have_title(re.compile(r"^Sign in"))
    check_accessibility(page, "sign-in page")
    screenshot(page, "sign-in")

    page.get_by_label("Email address").fill(USERS["manager"])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    # The error state: title prefixed, a summary at the top that has focus and links to the field.
    expect(page).to_have_title(re.compile(r"^Error: Sign in"))
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    check_accessibility(page, "sign-in page with an error")
    screenshot(page, "sign-in-error")
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Password")).to_be_focused()

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/sign-in"))
    expect(page.get_by_role("status")).to_contain_text("Signed in as")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    check_accessibility(page, "home page")
    screenshot(page, "home")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in"))
    # Signed out means signed out: the home page sends us back to sign in.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))


def test_a_bookmarked_page_survives_signing_in(page):
    page.goto("/?year=2026-27")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    page.get_by_label("Email address").fill(USERS["viewer"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/\?year=2026-27$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Funding year 2026-27")


def test_home_year_switch_updates_the_page_and_the_back_button_restores_it(page):
    sign_in(page, "finance")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Funding year 2025-26"))
    page.get_by_label("Funding year").select_option("2026-27")
    expect(page).to_have_url(re.compile(r"year=2026-27"))
    expect(page.locator("#home-content")).to_contain_text("1 April 2026")
    expect(page.get_by_role("heading", level=1)).to_have_text("Funding year 2026-27")
    check_accessibility(page, "home page after switching year")
    page.go_back()
    expect(page.locator("#home-content")).to_contain_text("1 April 2025")
    expect(page.get_by_role("heading", level=1)).to_have_text("Funding year 2025-26")
    expect(page.get_by_label("Funding year")).to_have_value("2025-26")
    page.go_forward()
    expect(page.locator("#home-content")).to_contain_text("1 April 2026")


def test_change_password_form_errors_are_announced(page):
    sign_in(page, "viewer")
    page.get_by_role("link", name="Password").click()
    check_accessibility(page, "change password page")
    page.get_by_role("button", name=re.compile("Change password|Save", re.I)).click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    check_accessibility(page, "change password page with errors")
    screenshot(page, "change-password-error")
