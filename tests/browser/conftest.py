"""The real-browser harness: the app on a real server, Debian's Chromium driven by Playwright, axe-core checks.

One server (werkzeug, threaded, on a free localhost port) and one browser per test session keep the suite fast;
each test gets its own browser context, so cookies never leak between tests. The server has its own SQLite file
database holding the demo data and one known user per role. Journeys change that data, so each test makes
what it needs under names of its own and does not rely on another test having run.

Without /usr/bin/chromium the tests skip with a message saying how to install it, except in CI (``CI=true``),
where a missing browser fails the run. When a test fails, a screenshot and the page HTML are saved under
tests/artifacts/ (git-ignored); the "looks" tests keep full-page screenshots in tests/artifacts/screenshots/.
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--headless=new",
    # No calls home to Google while the tests run (updates, sync, field trials, QUIC probes).
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-quic",
]
INSTALL_HINT = (
    "Install Debian's Chromium with `sudo apt-get install chromium` (`make test` installs it when run as root); "
    "never run `playwright install`."
)
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
PASSWORD = "browser-tests-password-1"
#: The demo's users, one per role, all with PASSWORD.
USERS = {role: f"{role}@vru.example" for role in ("admin", "manager", "finance", "viewer")}
#: The WCAG 2.0, 2.1 and 2.2 A and AA rules of axe-core.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    # Only the violations come back in full: listing every passing node of a long table takes seconds.
    "resultTypes": ["violations"],
}
DEFAULT_TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config, items):
    """Mark everything under tests/browser/ as `browser`, and run it last: the browser starts once, at the end."""
    here = Path(__file__).resolve().parent
    browser, other = [], []
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            browser.append(item)
        else:
            other.append(item)
    items[:] = other + browser


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so the page fixture knows whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --- the browser ---------------------------------------------------------------------------------------------


def _browser_missing() -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and there is no Chromium at {CHROMIUM}, so the browser tests cannot run. {INSTALL_HINT}",
                    pytrace=False)
    pytest.skip(f"Chromium not found at {CHROMIUM}: browser tests skipped. {INSTALL_HINT}")


@pytest.fixture(scope="session")
def playwright_instance():
    if not os.access(CHROMIUM, os.X_OK):
        _browser_missing()
    from playwright.sync_api import sync_playwright

    # Failure artifacts are about this run only (the screenshots folder is rewritten as the tests go).
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.html"), *ARTIFACTS.glob("*.console.txt")]:
        old.unlink()
    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


# --- the server ----------------------------------------------------------------------------------------------


class LiveServer:
    """The app served over HTTP in a background thread; ``url("/path")`` gives a full address."""

    def __init__(self, app):
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):  # one line per request would bury the test output
                pass

        self.app = app
        self.errors: list[BaseException] = []
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._thread.join(5)

    def url(self, path: str = "/") -> str:
        return self.base_url + path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, playwright_instance):
    """The app with the demo data and a known password for each demo user, on a free port."""
    from flask import got_request_exception
    from werkzeug.security import generate_password_hash

    from tracker import create_app
    from tracker.config import TestConfig
    from tests.factories import DEMO_TODAY
    from tracker.demo import seed_demo
    from tracker.extensions import db
    from tracker.models import User

    folder = tmp_path_factory.mktemp("browser")
    app = create_app({
        **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'browser.db'}",
        "DATA_DIR": str(folder / "files"),
        # As in production: the browser proves the CSRF token travels with forms and HTMX requests.
        "WTF_CSRF_ENABLED": True,
        # Errors reach the app's own error pages (and our list below) rather than the server's debugger.
        "TESTING": False,
        "PROPAGATE_EXCEPTIONS": False,
    })
    with app.app_context():
        db.create_all()
        seed_demo(DEMO_TODAY)
        fast_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        for role, email in USERS.items():
            user = db.session.scalar(db.select(User).where(User.email == email))
            user.password_hash = fast_hash
        db.session.commit()
        db.session.remove()
    server = LiveServer(app)
    got_request_exception.connect(lambda sender, exception, **extra: server.errors.append(exception), app,
                                  weak=False)
    server.start()
    yield server
    server.stop()


# --- per test: a fresh context and page ----------------------------------------------------------------------


class Problems:
    """What went wrong in the page while a test ran: uncaught script errors (which fail the test) and console
    errors (kept for the failure report only: htmx logs every 422 it swaps as a console error)."""

    def __init__(self):
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []


def _new_page(browser, live_server, request, **context_options):
    options = {"base_url": live_server.base_url, "viewport": {"width": 1280, "height": 900}, "locale": "en-GB",
               "timezone_id": "Europe/London", "accept_downloads": True}
    options.update(context_options)
    context = browser.new_context(**options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    problems = Problems()
    page.on("pageerror", lambda exc: problems.page_errors.append(str(exc)))
    page.on("console", lambda msg: problems.console_errors.append(msg.text) if msg.type == "error" else None)
    page.problems = problems
    return context, page


def _save_failure(item, page, suffix: str = "") -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid.split("::", 1)[-1]) + suffix
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.html").write_text(page.content(), encoding="utf-8")
        problems = page.problems.page_errors + page.problems.console_errors
        (ARTIFACTS / f"{name}.console.txt").write_text(f"{page.url}\n" + "\n".join(problems), encoding="utf-8")
    except Exception as exc:  # the page may be gone; the test's own failure is what matters
        print(f"could not save the failure artifacts for {item.nodeid}: {exc}")


def _finish(request, live_server, context, page, suffix=""):
    item = request.node
    failed = getattr(item, "rep_call", None) is not None and item.rep_call.failed
    if failed:
        _save_failure(item, page, suffix)
    context.close()
    errors, live_server.errors[:] = list(live_server.errors), []
    if not failed:
        assert not errors, f"the server raised during the test: {errors!r}"
        assert not page.problems.page_errors, f"script errors in the page: {page.problems.page_errors}"


@pytest.fixture
def page(browser, live_server, request):
    """A signed-out page in a fresh browser context (desktop size), with `page.goto("/path")` relative."""
    live_server.errors.clear()
    context, page = _new_page(browser, live_server, request)
    yield page
    _finish(request, live_server, context, page)


@pytest.fixture
def nojs_page(browser, live_server, request):
    """The same, with JavaScript turned off: forms must still work as plain HTML."""
    live_server.errors.clear()
    context, page = _new_page(browser, live_server, request, java_script_enabled=False)
    yield page
    _finish(request, live_server, context, page, "-nojs")


@pytest.fixture
def new_page(browser, live_server, request):
    """``new_page(**context_options)`` opens another page in its own context (another user, a phone size...)."""
    opened = []

    def make(**options):
        context, page = _new_page(browser, live_server, request, **options)
        opened.append((context, page))
        return page

    yield make
    for n, (context, page) in enumerate(opened):
        _finish(request, live_server, context, page, f"-extra{n}")
