"""A finance officer's month end in the browser: import the sample ledger, work through the unmatched lines by
supplier group, map an account code to a budget line, and download the reconciliation, which balances."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.support import check_accessibility, require_screen, sign_in
from tests.browser.test_imports import SAMPLE_LEDGER

pytestmark = pytest.mark.browser


def pence(text: str) -> int:
    text = text.strip()
    negative = text.startswith("-")
    whole, _, part = text.lstrip("-").partition(".")
    return (-1 if negative else 1) * (int(whole or 0) * 100 + int((part + "00")[:2]))


def test_month_end_by_supplier_group_account_rule_and_reconciliation(page, live_server, tmp_path):
    require_screen(live_server, "imports.unmatched", "imports.rules", "imports.reconciliation")
    sign_in(page, "finance")
    page.goto("/imports/upload")
    page.get_by_label("Spreadsheet").set_input_files(str(SAMPLE_LEDGER))
    page.get_by_label("What is it?").select_option("ledger")
    page.get_by_role("button", name="Upload and check").click()
    page.get_by_role("button", name="Check the rows").click()
    expect(page.get_by_role("heading", name="What is coming")).to_be_visible()
    if page.locator("#leave_out").count():
        page.locator("#leave_out").check()
    page.get_by_role("button", name=re.compile(r"^Import \d+ rows?$")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile(r"Import \d+"))

    # The unmatched lines, grouped by supplier, each saying why it did not match.
    page.goto("/imports/unmatched")
    check_accessibility(page, "unmatched lines")
    summary = page.locator("#unmatched-summary").inner_text()
    before = int(summary.split(" ")[0].replace(",", ""))
    assert before > 0
    first_group = page.locator("table[id^=group-]").first
    expect(first_group.locator("td.reason").first).not_to_be_empty()
    account = first_group.locator("tbody tr").first.locator("td").nth(4).inner_text().strip()
    # Tick the whole group and put it on a 2025-26 budget line (spend that is not a commission).
    first_group.locator("input[name=groups]").check()
    value = page.evaluate("""() => [...document.querySelectorAll('#budget_line option')]
        .find(o => o.textContent.startsWith('2025-26')).value""")
    page.locator("#budget_line").select_option(value)
    page.get_by_role("button", name="Assign the ticked lines").click()
    expect(page.locator(".flashes")).to_contain_text("put on budget line")
    after = int(page.locator("#unmatched-summary").inner_text().split(" ")[0].replace(",", ""))
    assert after < before

    # Map an account code still on unmatched lines to a budget line, once, as a rule.
    page.goto("/imports/rules")
    check_accessibility(page, "matching rules")
    if after and not account:
        account = page.locator("td").first.inner_text()
    page.get_by_label("Account code").fill(account or "5200")
    page.get_by_label("Budget line").select_option(value)
    page.get_by_role("button", name="Add the rule").click()
    expect(page.locator("#account-rules")).to_contain_text((account or "5200").upper())

    # The reconciliation balances on the page and in the download, to the penny.
    page.goto("/imports/reconciliation?year=2025-26")
    check_accessibility(page, "reconciliation")
    expect(page.locator("#balance")).to_contain_text("Balances to the penny")
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").click()
    path = Path(tmp_path) / "reconciliation.csv"
    info.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    ledger = rows[1]
    assert ledger[0] == "Ledger" and ledger[9] == "balances"
    assert pence(ledger[2]) + pence(ledger[3]) + pence(ledger[4]) == pence(ledger[5])
    for section in ("Funding stream", "Account code"):
        body = [r for r in rows if r[0] == section and r[1] != "Total"]
        total = [r for r in rows if r[0] == section and r[1] == "Total"][0]
        assert sum(pence(r[5]) for r in body) == pence(total[5]) == pence(ledger[5])
