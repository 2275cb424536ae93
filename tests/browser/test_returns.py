"""Finance issues a quarterly return; a viewer in the PCC office downloads it and is offered nothing to change."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import check_accessibility, require_screen, screenshot, sign_in

pytestmark = pytest.mark.browser


def test_viewer_downloads_an_issued_return_and_sees_no_edit_controls(page, new_page, live_server):
    require_screen(live_server, "returns.index", "returns.issue", "returns.download")

    # Finance issues 2025-26 Q1 (confirming the question).
    sign_in(page, "finance")
    page.goto("/returns/?year=2025-26&quarter=1")
    check_accessibility(page, "returns, finance")
    screenshot(page, "returns-finance")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile(r"^Issue version \d+$")).click()
    expect(page.get_by_role("status")).to_contain_text(re.compile("issued", re.I))

    # The viewer chooses the year and quarter with the form, then downloads the issued workbook.
    viewer = new_page()
    sign_in(viewer, "viewer")
    viewer.get_by_role("navigation", name="Main").get_by_role("link", name="Returns").click()
    viewer.get_by_label("Funding year").select_option("2025-26")
    viewer.get_by_label("Quarter").select_option("1")
    expect(viewer).to_have_url(re.compile(r"quarter=1"))
    link = viewer.get_by_role("link", name=re.compile(r"PCC return 2025-26 Q1 v\d+\.xlsx"))
    expect(link.first).to_be_visible()
    check_accessibility(viewer, "returns, viewer")
    screenshot(viewer, "returns-viewer")
    with viewer.expect_download() as info:
        link.first.click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as fh:
        assert fh.read(2) == b"PK", "the download is not an xlsx workbook"

    # Nothing to change: no form that posts, no issue or notes buttons, anywhere in the page's main content.
    main = viewer.locator("main")
    expect(main.locator("form[method=post]")).to_have_count(0)
    expect(main.get_by_role("button", name=re.compile("Issue|Save", re.I))).to_have_count(0)
    expect(main.get_by_role("textbox")).to_have_count(0)

    # Nor in the commissions register.
    if "commissions.index" in live_server.app.view_functions:
        viewer.goto("/commissions/")
        expect(viewer.get_by_role("link", name="Add a commission")).to_have_count(0)
        expect(viewer.locator("main form[method=post]")).to_have_count(0)
        expect(viewer.get_by_role("columnheader", name="Quick change")).to_have_count(0)
        check_accessibility(viewer, "commissions register, viewer")
