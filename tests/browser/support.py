"""Helpers the browser journeys share: signing in, axe checks, HTMX waits, screenshots, layout checks."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from tests.browser.conftest import AXE_OPTIONS, DEFAULT_TIMEOUT_MS, PASSWORD, SCREENSHOTS, USERS



def sign_in(page, role: str, next_path: str | None = None) -> None:
    """Sign in through the form, as a person would."""
    page.goto("/sign-in" + (f"?next={quote(next_path, safe='/')}" if next_path else ""))
    page.get_by_label("Email address").fill(USERS[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/sign-in" not in page.url, f"sign-in as {role} failed: {page.locator('main').inner_text()}"


def check_accessibility(page, where: str = "") -> None:
    """axe-core with the WCAG 2.x A/AA rules on the page as it is now: zero violations allowed."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_OPTIONS)
    assert results.violations_count == 0, f"{where or page.url}\n{results.generate_report()}"


def htmx_settled(page) -> None:
    """Wait until HTMX has no request in flight and has finished swapping."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')", timeout=DEFAULT_TIMEOUT_MS)


def body_scrolls_sideways(page) -> bool:
    """True when the page itself scrolls horizontally (wide tables may scroll inside their .table-wrap)."""
    return page.evaluate("() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1")


def screenshot(page, name: str, widths=(("desktop", 1280), ("phone", 375))) -> list[Path]:
    """Full-page screenshots at desktop and phone widths, kept in tests/artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    paths = []
    for label, width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    page.set_viewport_size(original)
    return paths


def route_exists(live_server, endpoint: str) -> bool:
    return endpoint in live_server.app.view_functions


def require_screen(live_server, *endpoints: str) -> None:
    """Skip a journey whose screens have not been built yet (the areas land one by one)."""
    missing = [e for e in endpoints if not route_exists(live_server, e)]
    if missing:
        pytest.skip(f"screen not built yet: {', '.join(missing)}")


def layout_problems(page, width: int) -> list[str]:
    """What goes wrong at ``width`` CSS px (320 = WCAG reflow; 640 = a 1280 px screen at 200% zoom).

    The page must not scroll sideways (tables may, inside .table-wrap), its main heading must be on screen,
    and no text may spill out past the right edge of the window outside a scrolling table.
    """
    page.set_viewport_size({"width": width, "height": 800})
    problems = []
    if body_scrolls_sideways(page):
        wide = page.evaluate(
            """() => {
                const w = document.documentElement.clientWidth;
                return [...document.querySelectorAll('body *')]
                  .filter(e => !(e.parentElement && e.parentElement.closest('.table-wrap'))
                               && e.getBoundingClientRect().right > w + 1)
                  .slice(-4).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                                        + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''));
            }""")
        problems.append(f"the page scrolls sideways; too wide: {wide}")
    heading = page.locator("h1").first
    if heading.count() and not heading.is_visible():
        problems.append("the h1 is not visible")
    return problems


def focused(page) -> dict:
    """The focused element: tag, id, text, whether it is on screen, and its focus outline and shadow."""
    return page.evaluate("""() => {
        const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
        return {tag: e.tagName.toLowerCase(), id: e.id, text: (e.innerText || e.value || '').slice(0, 40),
                visible: r.width > 0 && r.height > 0, outline: s.outlineStyle, shadow: s.boxShadow};
    }""")
