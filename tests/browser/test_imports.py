"""Finance imports the sample ledger (periods 1-6 of 2025-26) through upload, column mapping, preview and
commit, then withdraws it again, and the actual spend on the home page goes back to what it was."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.support import check_accessibility, require_screen, screenshot, sign_in

pytestmark = pytest.mark.browser

SAMPLE_LEDGER = Path("/work/shared/samples/vru-ledger-2025-26-p1-p6.xlsx")
if not SAMPLE_LEDGER.exists():  # the copy kept with the repository's other shared samples
    SAMPLE_LEDGER = Path(__file__).resolve().parents[3] / "shared" / "samples" / SAMPLE_LEDGER.name


def actual_to_date(page) -> str:
    page.goto("/?year=2025-26")
    return page.locator(".headline-figures div", has_text="Actual to date").locator("dd").inner_text()


def test_finance_imports_the_sample_ledger_then_withdraws_it(page, live_server):
    require_screen(live_server, "imports.upload", "imports.mapping", "imports.preview", "imports.commit",
                   "imports.withdraw")
    assert SAMPLE_LEDGER.exists(), f"the sample ledger is missing: {SAMPLE_LEDGER}"
    sign_in(page, "finance")
    before = actual_to_date(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Imports").click()
    check_accessibility(page, "imports")
    page.goto("/imports/upload")
    check_accessibility(page, "upload a spreadsheet")
    screenshot(page, "import-upload")

    # Upload with no file: the error is announced and linked to the file field.
    page.get_by_role("button", name="Upload and check").click()
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    expect(page).to_have_title(re.compile("^Error: "))
    check_accessibility(page, "upload with an error")

    page.get_by_label("Spreadsheet").set_input_files(str(SAMPLE_LEDGER))
    page.get_by_label("What is it?").select_option("ledger")
    page.get_by_role("button", name="Upload and check").click()

    # Mapping: the columns were recognised from the headings; each field has a labelled choice.
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose the columns")
    expect(page).not_to_have_title(re.compile("^Error"))
    check_accessibility(page, "column mapping")
    screenshot(page, "import-mapping")
    page.get_by_role("button", name="Check the rows").click()

    # Preview: what will happen, before anything is saved.
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the import")
    check_accessibility(page, "import preview")
    screenshot(page, "import-preview")
    leave_out = page.locator("#leave_out")
    if leave_out.count():
        leave_out.check()
    page.get_by_role("button", name=re.compile(r"^Import \d+ rows?$")).click()

    # Committed: the batch page says so, and the spend it brought in shows on the home page.
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile(r"Import \d+: vru-ledger-2025-26-p1-p6"))
    expect(page.get_by_role("status").first).to_be_visible()
    batch_url = page.url
    check_accessibility(page, "import committed")
    screenshot(page, "import-batch")
    after = actual_to_date(page)
    assert after != before, "importing the ledger changed no actual spend"

    # Withdraw it: a confirmation page says what will change (no browser dialog), and the figures go back.
    page.goto(batch_url)
    page.on("dialog", lambda dialog: (_ for _ in ()).throw(AssertionError(f"a browser dialog: {dialog.message}")))
    page.get_by_role("link", name="Withdraw this import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Withdraw import \d+\?$"))
    expect(page.locator("main")).to_contain_text("ledger lines")
    check_accessibility(page, "withdraw confirmation")
    page.get_by_role("button", name=re.compile("^Yes, withdraw")).click()
    expect(page.locator("main")).to_contain_text(re.compile("withdrawn", re.I))
    check_accessibility(page, "import withdrawn")
    assert actual_to_date(page) == before
