"""Returns in a real browser: finance types notes and issues without saving them first (the notes are in version 1);
a correction needs a reason; the PCC office's viewer lands on the archive, reads version 1 on screen and downloads
the very bytes finance downloaded. The same issue works with JavaScript off. axe checks each new page."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import check_accessibility, require_screen, screenshot, sign_in

pytestmark = pytest.mark.browser

NOTES = "Underspend on SVD: recruitment delayed to the autumn term. Browser journey note 7f3a."


def _download(page, link) -> bytes:
    with page.expect_download() as info:
        link.click()
    with open(info.value.path(), "rb") as fh:
        return fh.read()


def test_finance_issues_with_unsaved_notes_then_a_corrected_version_and_the_viewer_gets_the_same_file(
        page, new_page, live_server):
    require_screen(live_server, "returns.index", "returns.prepare", "returns.issue", "returns.view", "returns.download")

    # Finance goes from the archive to preparing 2025-26 Q3 and types notes: no Save pressed.
    sign_in(page, "finance")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Returns").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Returns to the PCC")
    page.get_by_label("Funding year", exact=True).first.select_option("2025-26")
    page.locator("#prepare-quarter").select_option("3")
    page.get_by_role("button", name="Prepare").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Prepare a return to the PCC")
    check_accessibility(page, "prepare a return")
    notes = page.get_by_label("Notes on risks and underspend")
    notes.fill(NOTES)
    # The draft is kept while typing (HTMX autosave), without leaving the page.
    expect(page.locator("#autosave-status")).to_contain_text("Draft notes saved")
    page.get_by_role("button", name=re.compile(r"^Check and issue version 1$")).click()

    # The confirmation: the notes as they will appear, headline figures, and the issue button.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check and issue the 2025-26 Q3 (Oct-Dec) return, version 1")
    expect(page.locator(".notes-preview")).to_contain_text(NOTES)
    expect(page.get_by_role("heading", name=re.compile("Headline figures"))).to_be_visible()
    check_accessibility(page, "check and issue")
    screenshot(page, "returns-confirm")
    page.get_by_role("button", name="Issue version 1").click()

    # Issued: the on-screen view of version 1 holds the notes typed; finance downloads the file.
    expect(page.get_by_role("status")).to_contain_text("Issued 2025-26 Q3 version 1")
    expect(page.get_by_role("heading", level=1)).to_have_text("2025-26 Q3 (Oct-Dec) return, version 1")
    expect(page.locator("main")).to_contain_text(NOTES)
    check_accessibility(page, "issued return on screen, finance")
    finance_bytes = _download(page, page.get_by_role("link", name=re.compile(r"Download PCC return 2025-26 Q3 v1\.xlsx")))
    assert finance_bytes[:2] == b"PK"

    # A correction: version 2 cannot be issued without a reason.
    page.goto("/returns/prepare?year=2025-26&quarter=3")
    expect(page.get_by_label("Notes on risks and underspend")).to_have_value(NOTES)
    page.get_by_role("button", name=re.compile(r"^Check and issue version 2$")).click()
    page.get_by_role("button", name="Issue version 2").click()
    expect(page.locator(".error-summary")).to_contain_text("Enter the reason for the correction")
    assert page.title().startswith("Error: ")
    check_accessibility(page, "check and issue, no reason")
    page.get_by_label("Reason for the correction").fill("The Q3 ledger was re-run after a missing credit.")
    page.get_by_role("button", name="Issue version 2").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("2025-26 Q3 (Oct-Dec) return, version 2")
    expect(page.locator("main")).to_contain_text("Reason for correction: The Q3 ledger was re-run after a missing credit.")

    # The PCC office: lands on the archive, sees no drafts or preparing, opens version 1 and downloads it.
    viewer = new_page()
    sign_in(viewer, "viewer")
    nav = viewer.get_by_role("navigation", name="Main")
    expect(nav.locator("a[href*='prepare'], a[href*='draft']")).to_have_count(0)
    nav.get_by_role("link", name="Returns").click()
    expect(viewer).to_have_url(re.compile(r"/returns/$"))
    main = viewer.locator("main")
    expect(main.get_by_role("heading", name="Prepare a return")).to_have_count(0)
    expect(main.locator("a[href*='prepare'], a[href*='draft']")).to_have_count(0)
    expect(main.locator("form[method=post]")).to_have_count(0)
    expect(main).to_contain_text("The Q3 ledger was re-run after a missing credit.")  # the reason, in the list
    check_accessibility(viewer, "returns archive, viewer")
    screenshot(viewer, "returns-archive-viewer")
    viewer.get_by_role("link", name=re.compile(r"^2025-26 Q3 \(Oct-Dec\)\s*,\s*version 1$")).click()
    expect(viewer.get_by_role("heading", level=1)).to_have_text("2025-26 Q3 (Oct-Dec) return, version 1")
    expect(viewer.locator("main")).to_contain_text(NOTES)
    expect(viewer.locator("main")).to_contain_text("A later version (2) replaces this one")
    viewer.get_by_text("Check this file").click()
    expect(viewer.locator(".check-file code.hash")).to_be_visible()
    check_accessibility(viewer, "issued return on screen, viewer")
    screenshot(viewer, "returns-view-viewer")
    viewer_bytes = _download(viewer, viewer.get_by_role("link", name=re.compile(r"Download PCC return 2025-26 Q3 v1\.xlsx")))
    assert viewer_bytes == finance_bytes, "the viewer's download differs from the file finance downloaded"
    expect(main.locator("form[method=post]")).to_have_count(0)
    expect(viewer.locator("main").get_by_role("textbox")).to_have_count(0)


def test_without_javascript_typed_notes_are_issued(nojs_page, live_server):
    require_screen(live_server, "returns.prepare", "returns.issue")
    page = nojs_page
    sign_in(page, "manager")
    page.goto("/returns/prepare?year=2025-26&quarter=4")
    page.get_by_label("Notes on risks and underspend").fill("No-JS note: Q4 spend on track.")
    page.get_by_role("button", name=re.compile(r"^Check and issue version \d+$")).click()
    expect(page.locator(".notes-preview")).to_contain_text("No-JS note: Q4 spend on track.")
    issue = page.get_by_role("button", name=re.compile(r"^Issue version \d+$"))
    if page.get_by_label("Reason for the correction").count():
        page.get_by_label("Reason for the correction").fill("No-JS correction")
    issue.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("2025-26 Q4 (Jan-Mar) return, version")
    expect(page.locator("main")).to_contain_text("No-JS note: Q4 spend on track.")
