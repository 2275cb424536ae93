"""A VRU manager adds a commission, meets a validation error and fixes it, finds it in the register with live
search and the filters, changes its status in the register, and sees the change in its history.

The register's filtered view lives in its URL: the back button and a bookmarked address give the same view.
"""
from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.support import check_accessibility, htmx_settled, require_screen, screenshot, sign_in

pytestmark = pytest.mark.browser


def test_manager_adds_finds_and_changes_a_commission(page, new_page, live_server):
    require_screen(live_server, "commissions.index", "commissions.create", "commissions.change_status")
    reference = f"VRU-BT-{secrets.token_hex(2).upper()}"
    title = "Browser test detached youth outreach"
    sign_in(page, "manager")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Commissions").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Commissions")
    check_accessibility(page, "commissions register")
    screenshot(page, "commissions-register")

    # Add it, with the end date before the start date.
    page.get_by_role("link", name="Add a commission").click()
    expect(page).to_have_title(re.compile("^Add a commission"))
    check_accessibility(page, "add a commission")
    page.get_by_label("Reference", exact=True).fill(reference)
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Provider", exact=True).select_option(label="Swale Boxing Academy")
    page.get_by_label("Funding year").select_option(label="2025-26")
    page.get_by_label("Strand").select_option(label="Serious Youth Violence")
    page.get_by_label("Value", exact=True).fill("12,500.00")
    page.get_by_label("Start date", exact=True).fill("01/04/2025")
    page.get_by_label("End date", exact=True).fill("31/03/2025")
    page.get_by_role("button", name="Add commission").click()

    # The error: announced at the top (focused), linked to the field, shown at the field; nothing saved.
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("The end date must be after the start date")
    expect(page).to_have_title(re.compile("^Error: "))
    end_date = page.get_by_label("End date", exact=True)
    expect(end_date).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Reference", exact=True)).to_have_value(reference)  # what was typed is kept
    check_accessibility(page, "add a commission with an error")
    screenshot(page, "commission-form-error")
    summary.get_by_role("link", name="The end date must be after the start date").click()
    expect(end_date).to_be_focused()
    end_date.fill("31/03/2026")
    page.get_by_role("button", name="Add commission").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(page.get_by_role("status")).to_contain_text(f"Commission {reference} added")
    check_accessibility(page, "a commission's page")
    screenshot(page, "commission")

    # Find it with live search: typing filters the register without pressing anything.
    page.goto("/commissions/")
    page.get_by_label("Search").fill(reference.lower())
    expect(page).to_have_url(re.compile(r"q=vru-bt-"))
    register = page.locator("#register")
    expect(register.get_by_role("row")).to_have_count(2)  # the heading row and ours
    expect(register.get_by_role("link", name=reference)).to_be_visible()
    check_accessibility(page, "register filtered by search")

    # Then narrow by a filter too (they fold into a "Filter" disclosure); the URL keeps both.
    filters = page.locator("summary", has_text="Filter")
    expect(filters).to_contain_text("(none active)")
    filters.click()
    check_accessibility(page, "register with the filters unfolded")
    page.get_by_label("Strand").select_option(label="Serious Youth Violence")
    expect(filters).to_contain_text("(1 active)")
    expect(page).to_have_url(re.compile(r"strand=\d+"))
    htmx_settled(page)
    expect(register.get_by_role("link", name=reference)).to_be_visible()
    page.get_by_label("Status", exact=True).select_option("ended")
    expect(page).to_have_url(re.compile(r"status=ended"))
    expect(register).to_contain_text("No commissions match")
    check_accessibility(page, "register with no matches")

    # Back restores the previous view; a bookmark of it, opened fresh, gives the same view.
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"status=ended"))
    expect(page.get_by_label("Status", exact=True)).to_have_value("")
    expect(register.get_by_role("link", name=reference)).to_be_visible()
    expect(filters).to_contain_text("(1 active)")  # counted by the server on a fresh page too
    bookmark = page.url
    other = new_page()
    sign_in(other, "manager", next_path=bookmark.split(live_server.base_url, 1)[1])
    expect(other).to_have_url(bookmark)
    expect(other.get_by_label("Search")).to_have_value(reference.lower())
    expect(other.get_by_label("Strand")).to_have_value(re.compile(r"\d+"))
    expect(other.locator("#register").get_by_role("row")).to_have_count(2)

    # Change its status in the register, without leaving the page.
    status = page.get_by_label(f"Status of {reference}")
    status.select_option("live")
    page.get_by_role("button", name=f"Set status of {reference}").click()
    row = page.locator("tr", has=page.get_by_role("link", name=reference))
    expect(row.get_by_role("status")).to_have_text("Saved.")
    expect(row).to_contain_text("Live")
    # Focus stays in the row the person was working in, not thrown back to the top of the page.
    assert page.evaluate("() => !!document.activeElement.closest('tr')"), "focus was lost after the inline change"
    check_accessibility(page, "register after an inline status change")

    # The change is in its history.
    row.get_by_role("link", name=reference).click()
    history = page.locator("h2", has_text="History").locator("xpath=following-sibling::*[1]")
    expect(history).to_contain_text("live")
    expect(history).to_contain_text("Morgan Manager")


def test_manager_splits_a_contract_across_years_and_picks_its_line_by_year_and_stream(page, live_server):
    """The value splits across the years by days; choosing a share's year and stream narrows its budget lines."""
    require_screen(live_server, "commissions.create", "commissions.share_lines")
    reference = f"VRU-BS-{secrets.token_hex(2).upper()}"
    sign_in(page, "manager")
    page.goto("/commissions/new")
    page.get_by_label("Reference", exact=True).fill(reference)
    page.get_by_label("Title", exact=True).fill("Browser test mentoring across two years")
    page.get_by_label("Provider", exact=True).select_option(label="Swale Boxing Academy")
    page.get_by_label("Funding year").select_option(label="2025-26")
    page.get_by_label("Strand").select_option(label="Serious Youth Violence")
    page.get_by_label("Value", exact=True).fill("30,000.00")
    page.get_by_label("Start date", exact=True).fill("01/01/2026")
    page.get_by_label("End date", exact=True).fill("31/12/2026")
    page.get_by_role("button", name="Work out the split by year").click()
    expect(page.get_by_label("Amount of share 1")).to_have_value("7,397.26")
    expect(page.get_by_label("Amount of share 2")).to_have_value("22,602.74")
    check_accessibility(page, "commission form with its funding shares")

    # Year and stream first: the line list then holds only that year's and stream's lines.
    page.get_by_label("Year of share 1").select_option("2025-26")
    page.get_by_label("Stream of share 1").select_option(label="Young Futures")
    htmx_settled(page)
    lines = page.get_by_label("Line of share 1")
    expect(lines.locator("optgroup")).to_have_count(0)  # the lines of other years and streams are gone
    expect(lines.locator("option").first).to_have_text("Not on a budget line yet")
    assert lines.locator("option").count() >= 2
    lines.select_option(index=1)
    page.get_by_role("button", name="Add commission").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    funding = page.get_by_role("table", name=f"Funding shares of {reference}")
    expect(funding).to_contain_text("£7,397.26")
    expect(funding).to_contain_text("£22,602.74")
    expect(funding).to_contain_text("Young Futures")
    check_accessibility(page, "a commission's funding by year")
