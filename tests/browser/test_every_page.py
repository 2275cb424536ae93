"""Every page the app serves, found from its URL map, checked in the browser as an administrator (who sees all).

New screens are covered as soon as their blueprint lands: each GET route is opened (integer URL arguments get 1,
the demo's first record; other arguments come from tests/access URL_VALUES), and every HTML page must have no
axe WCAG 2.2 A/AA violation, one h1, a title, and must reflow at 320 px and at 200% zoom (640 CSS px) with no
sideways scrolling of the page itself (wide tables scroll inside their .table-wrap).
"""
from __future__ import annotations

import time

import pytest
from flask import url_for
from playwright.sync_api import Error as PlaywrightError, expect
from werkzeug.routing import IntegerConverter

from tests.access import collect
from tracker.web import NAVIGATION
from tests.browser.support import check_accessibility, layout_problems, screenshot, sign_in

pytestmark = pytest.mark.browser

# Pages a person does not open as a page (they are fetched by a script or only make sense after a POST).
NOT_PAGES = {"static", "auth.sign_out"}
# Every page in the main navigation, and a few detail pages, are kept as screenshots for a look at the design.
SHOWCASE = {endpoint for endpoint, _label, _roles in NAVIGATION} | {
    "commissions.show", "commissions.provider", "funding.years", "milestones.timeline", "admin.audit", "admin.users"}


def page_urls(live_server) -> list[tuple[str, str]]:
    """(endpoint, URL) for every GET route of the app, with demo values for its URL arguments."""
    from tracker.extensions import db

    _, values = collect()
    app = live_server.app
    urls = []
    seen = set()
    with app.app_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint in NOT_PAGES or rule.endpoint in seen or "GET" not in rule.methods:
                continue
            seen.add(rule.endpoint)
            args = {}
            for name in rule.arguments:
                if name in values:
                    args[name] = values[name](db.session)
                elif isinstance(rule._converters.get(name), IntegerConverter):
                    args[name] = 1
                else:
                    args = None
                    break
            if args is None:
                continue
            with app.test_request_context():
                urls.append((rule.endpoint, url_for(rule.endpoint, **args)))
        db.session.remove()
    return urls


def test_every_page_is_accessible_and_reflows(page, live_server):
    sign_in(page, "admin")
    problems: list[str] = []
    checked = []
    timings = []
    for endpoint, url in page_urls(live_server):
        started = time.monotonic()
        try:
            response = page.goto(url)
        except PlaywrightError as exc:
            if "Download is starting" in str(exc):
                continue  # a file to download, not a page
            raise
        kind = response.headers.get("content-type", "") if response else ""
        if response is not None and response.status >= 500:
            problems.append(f"{endpoint} {url}: HTTP {response.status}")
            continue
        if (response is None or response.status != 200 or not kind.startswith("text/html")
                or not page.url.endswith(url)):
            continue  # a feed, a redirect elsewhere or a record the demo doesn't have: not a page to look at
        checked.append(endpoint)
        page.set_viewport_size({"width": 1280, "height": 900})
        try:
            check_accessibility(page, f"{endpoint} ({url})")
        except AssertionError as exc:
            problems.append(str(exc))
        if page.locator("h1").count() != 1:
            problems.append(f"{endpoint} {url}: {page.locator('h1').count()} h1 headings (want exactly one)")
        if not page.title().strip() or page.title().startswith("–"):
            problems.append(f"{endpoint} {url}: no page title")
        if endpoint in SHOWCASE:  # the main pages, kept as screenshots at desktop and phone widths
            screenshot(page, "page-" + endpoint.replace(".", "-"))
        for width in (320, 640):
            problems += [f"{endpoint} {url} at {width}px: {p}" for p in layout_problems(page, width)]
        page.set_viewport_size({"width": 1280, "height": 900})
        timings.append((round(time.monotonic() - started, 1), endpoint))
    print("slowest pages (s):", sorted(timings, reverse=True)[:8])
    assert checked, "no page was checked"
    print(f"checked {len(checked)} pages: {', '.join(checked)}")
    assert not problems, "\n\n".join(problems)


def test_every_add_form_sent_empty_announces_its_errors_accessibly(page, live_server):
    """Each "add" form, sent empty: the error summary comes back at the top with focus, the title says "Error:",
    every message links to its field, and axe finds nothing wrong in the error state."""
    from tests.browser.support import htmx_settled

    sign_in(page, "admin")
    problems: list[str] = []
    tried = []
    for endpoint, url in page_urls(live_server):
        name = endpoint.split(".", 1)[1]
        if not (name.startswith(("create", "new_")) or name in ("upload",)):
            continue
        page.goto(url)
        form = page.locator("main form[method=post]:has(button[type=submit])").first
        if not form.count():
            continue
        for field in form.locator("input[type=text], input[type=email], input[type=number], textarea").all():
            if field.is_visible() and field.is_editable():
                field.fill("")
        tried.append(endpoint)
        form.locator("button[type=submit]").first.click()
        page.wait_for_load_state()
        htmx_settled(page)
        summary = page.locator(".error-summary")
        if not summary.count():
            problems.append(f"{endpoint}: sent empty, no error summary came back (now at {page.url})")
            continue
        if not page.evaluate("() => !!document.activeElement.closest('.error-summary')"):
            problems.append(f"{endpoint}: the error summary did not get focus")
        if not page.title().startswith("Error: "):
            problems.append(f"{endpoint}: the title does not start with 'Error: ' ({page.title()!r})")
        for link in summary.locator("a[href^='#']").all():
            target = link.get_attribute("href")[1:]
            if not page.locator(f"[id='{target}']").count():
                problems.append(f"{endpoint}: the error link #{target} points at nothing")
        try:
            check_accessibility(page, f"{endpoint} with errors")
        except AssertionError as exc:
            problems.append(str(exc))
    assert tried, "no add form was found"
    print(f"sent {len(tried)} forms empty: {', '.join(tried)}")
    assert not problems, "\n".join(problems)


def test_error_pages_are_accessible(page, live_server):
    """A record that does not exist (404) and a page the role may not see (403) explain themselves accessibly."""
    sign_in(page, "viewer")
    response = page.goto("/commissions/999999")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check_accessibility(page, "404 page")
    response = page.goto("/admin/")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check_accessibility(page, "403 page")
    assert not layout_problems(page, 320)
