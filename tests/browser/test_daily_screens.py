"""Issue 16, the daily screens, in the browser: each role's journey at desktop and phone widths with axe on every
state (the folded filters and deadlines, the confirmation pages), screenshots of the register, the budget and the
deadlines at 390, 1,280 and 1,920 px compared with stored references (and failing when a priority column is out
of view), and the outputs grid and the register's quick change by keyboard alone.

These tests have a server of their own, with the demo data and a fixed "today" (MILESTONES_TODAY), so what they
change and what they photograph do not depend on the other browser tests.

Screenshot references live in tests/browser/references/ at half size (small files; halving also smooths font
anti-aliasing): home, budget, register, deadlines, claims and the issued return at each width. A reference that
does not exist yet is written and the test is skipped; after an intended change of layout, rewrite them with
``make screenshots`` (``UPDATE_SCREENSHOTS=1`` and this test) and look at the new PNGs before committing them.
"""
from __future__ import annotations

import base64
import os
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, PASSWORD, USERS, LiveServer, _finish, _new_page
from tests.browser.support import body_scrolls_sideways, check_accessibility, htmx_settled, sign_in

pytestmark = pytest.mark.browser

REFERENCES = Path(__file__).resolve().parent / "references"
TODAY = date(2026, 4, 13)  # a Monday after the demo year: its end decisions overdue, later weeks folded
WIDTHS = (390, 1280, 1920)
# A pixel differs when a colour channel moves by more than this after halving; a screen differs when more than
# MAX_DIFFERENT of its pixels do. Anti-aliasing moves edges by small amounts; a moved column moves thousands.
CHANNEL_TOLERANCE = 56
MAX_DIFFERENT = 0.015
SCREENS = {
    "register": "/commissions/?year=2025-26",
    "budget": "/funding/budget?year=2025-26&quarter=4",
    "deadlines": "/milestones/?year=2025-26",
}
#: The screens photographed at 390, 1,280 and 1,920 px (issue 27): the address ({year}: 2025-26's id, {issued}:
#: the issued return's) and the element whose top the picture starts at.
PICTURED = {
    "budget": (SCREENS["budget"], "main table"),
    "claims": ("/funding/years/{year}", "#claims table"),
    "deadlines": (SCREENS["deadlines"], "main table"),
    "home": ("/", "main table"),
    "register": (SCREENS["register"], "main table"),
    "return": ("/returns/issued/{issued}", "main table"),
}


@pytest.fixture(scope="module")
def screens_server(tmp_path_factory, playwright_instance):
    """The app with the demo data as of TODAY, a committed (empty) import and a document, on a free port."""
    from flask import got_request_exception
    from werkzeug.security import generate_password_hash

    from tracker import create_app
    from tracker.config import TestConfig
    from tests.factories import DEMO_TODAY
    from tracker.demo import seed_demo
    from tracker.extensions import db
    from tracker.models import Commission, ImportBatch, User
    from tracker.models.monitoring import Document, DocumentVersion

    folder = tmp_path_factory.mktemp("screens")
    app = create_app({
        **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'screens.db'}",
        "DATA_DIR": str(folder / "files"),
        "WTF_CSRF_ENABLED": True, "TESTING": False, "PROPAGATE_EXCEPTIONS": False,
        "MILESTONES_TODAY": TODAY,
    })
    with app.app_context():
        db.create_all()
        # The demo as of the last day of 2025-26 (2025-26 open, as the references show); the app's today is TODAY.
        seed_demo(DEMO_TODAY)
        fast_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        users = {}
        for role, email in USERS.items():
            users[role] = db.session.scalar(db.select(User).where(User.email == email))
            users[role].password_hash = fast_hash
        db.session.add(ImportBatch(kind="ledger", filename="ledger-p7.xlsx", sha256="7" * 64, status="committed",
                                   created_by_id=users["finance"].id, counts={"read": 0}))
        first = db.session.scalar(db.select(Commission).order_by(Commission.reference))
        document = Document(kind="contract", title="Signed contract", commission_id=first.id,
                            created_by_id=users["manager"].id)
        document.versions.append(DocumentVersion(number=1, original_name="contract.pdf", stored_name="x" * 40,
                                                 size_bytes=10, content_type="application/pdf", sha256="0" * 64))
        db.session.add(document)
        db.session.commit()
        # An issued return to read on screen, issued at a fixed moment so its page is the same every run.
        from tracker.models import FundingYear
        from tracker.returns.service import issue

        year = db.session.scalar(db.select(FundingYear).where(FundingYear.label == "2025-26"))
        issue(year, 3, users["finance"], datetime(2026, 1, 20, 11, 0),
              narrative="Recruitment of the two youth workers slipped to the autumn term; see the Summary.")
        db.session.commit()
        db.session.remove()
    server = LiveServer(app)
    got_request_exception.connect(lambda sender, exception, **extra: server.errors.append(exception), app,
                                  weak=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def screen(browser, screens_server, request):
    """``screen(role, width)``: a signed-in page of the screens server at that width."""
    opened = []

    def make(role: str, width: int = 1280, **options):
        context, page = _new_page(browser, screens_server, request, viewport={"width": width, "height": 900},
                                  **options)
        opened.append((context, page))
        sign_in(page, role)
        return page

    yield make
    for n, (context, page) in enumerate(opened):
        _finish(request, screens_server, context, page, f"-screen{n}")


def _record(screens_server, query):
    """Run ``query(session)`` in the screens server's app and return its result."""
    from tracker.extensions import db

    with screens_server.app.app_context():
        try:
            return query(db.session)
        finally:
            db.session.remove()


# --- journeys by role, desktop and phone, axe on every state ---------------------------------------------------

@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
@pytest.mark.parametrize("role", ["admin", "manager", "finance", "viewer"])
def test_each_role_reads_the_daily_screens(screen, screens_server, role, width):
    from sqlalchemy import select

    from tracker.milestones.service import overdue_count
    from tracker.models import User

    mine = _record(screens_server, lambda s: overdue_count(
        s.scalar(select(User).where(User.email == USERS[role])), TODAY, s))
    page = screen(role, width)
    badge = page.locator(".app-nav .badge")
    if role == "viewer" or not mine:
        expect(badge).to_have_count(0)  # viewers own no work here; nobody else has a badge saying 0
    else:
        expect(badge).to_have_text(str(mine))

    page.goto(SCREENS["register"])
    check_accessibility(page, f"register as {role} at {width}")
    summary = page.locator("summary", has_text="Filter")
    expect(summary).to_contain_text("(1 active)")  # the funding year
    expect(page.get_by_label("Strand")).to_be_hidden()
    summary.click()
    expect(page.get_by_label("Strand")).to_be_visible()
    check_accessibility(page, f"register with the filters unfolded as {role} at {width}")
    assert not body_scrolls_sideways(page), "the register makes the page scroll sideways"

    page.goto(SCREENS["budget"])
    check_accessibility(page, f"budget as {role} at {width}")
    assert not body_scrolls_sideways(page), "the budget page makes the page scroll sideways"

    page.goto(SCREENS["deadlines"])
    # Deadlines are personal: staff see their own overdue tasks first; the viewer, who acts on none, sees events.
    first = "^Events in the next" if role == "viewer" else "^Your overdue tasks"
    expect(page.get_by_role("heading", name=re.compile(first))).to_be_visible()
    if role == "viewer":
        expect(page.get_by_role("heading", name=re.compile("overdue tasks"))).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("Not set")
    later = page.locator("details.deadline-group--later")
    check_accessibility(page, f"deadlines as {role} at {width}")
    if role != "viewer":  # folded behind the person's own tasks (the viewer's list opens on it)
        expect(later).not_to_have_attribute("open", "")
        later.locator("summary").click()
    expect(later.locator("table").first).to_be_visible()
    check_accessibility(page, f"deadlines with later weeks unfolded as {role} at {width}")
    assert not body_scrolls_sideways(page), "the deadlines page makes the page scroll sideways"

    if role in ("admin", "manager"):  # a contract's end decision is the managers' task
        page.get_by_role("link", name=re.compile("decide: extend, re-procure or let end")).first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("decide: extend, re-procure or let end")
        check_accessibility(page, f"a decision task as {role} at {width}")
        page.get_by_role("link", name=re.compile(r"^VRU-25-\d+ ")).click()
        expect(page.get_by_role("heading", name="Milestones and deadlines")).to_be_visible()
        check_accessibility(page, f"a commission's page as {role} at {width}")


@pytest.mark.parametrize("width,script", [(1280, True), (390, True), (390, False)],
                         ids=["desktop", "phone", "phone-without-javascript"])
def test_the_confirmation_pages_say_what_will_change_and_need_no_script(screen, screens_server, width, script):
    from sqlalchemy import select

    from tracker.models import Commission, ImportBatch
    from tracker.models.monitoring import Document

    pipeline = _record(screens_server, lambda s: s.scalar(
        select(Commission.id).where(Commission.status == "pipeline").order_by(Commission.reference)))
    batch = _record(screens_server, lambda s: s.scalar(select(ImportBatch.id)))
    document = _record(screens_server, lambda s: s.scalar(select(Document.id).where(Document.title == "Signed contract")))

    for role, start, link, heading in (
            ("manager", f"/commissions/{pipeline}", "Delete", re.compile(r"^Delete VRU-25-\d+\?$")),
            ("finance", f"/imports/{batch}", "Withdraw this import", re.compile(rf"^Withdraw import {batch}\?$")),
            ("admin", f"/documents/{document}/delete", None, "Delete Signed contract?")):
        page = screen(role, width, java_script_enabled=script)
        page.on("dialog", lambda dialog: (_ for _ in ()).throw(AssertionError(f"a browser dialog: {dialog.message}")))
        page.goto(start)
        if link:
            page.get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.get_by_role("heading", name="What will change")).to_be_visible()
        expect(page.get_by_role("button", name=re.compile("^Yes, "))).to_be_visible()
        expect(page.get_by_role("link", name="No, keep it")).to_be_visible()
        if script:  # axe needs JavaScript; the run without it proves the pages need none
            check_accessibility(page, f"{heading} at {width}")
        else:
            assert not body_scrolls_sideways(page)
        page.get_by_role("link", name="No, keep it").click()
        expect(page.get_by_role("heading", level=1)).not_to_have_text(heading)


# --- screenshots compared with references, and priority columns in view ------------------------------------------

PRIORITY_JS = """() => {
    // Every table of the page: the first column, the key money (.col-key) and RAG (.col-rag) of its first body
    // row must be inside the window and inside the table's scrolling wrap.
    const out = [];
    const win = {left: 0, right: document.documentElement.clientWidth};
    for (const table of document.querySelectorAll('main table')) {
        if (!table.getClientRects().length) continue;  // folded away (a closed <details>): nothing to see
        const row = table.querySelector('tbody tr');
        if (!row || row.cells.length < 2) continue;
        const wrap = table.closest('.table-wrap') || table;
        const w = wrap.getBoundingClientRect();
        const cells = [...row.cells].filter((c, i) => i === 0 || c.matches('.col-key, .col-rag'));
        for (const cell of cells) {
            const r = cell.getBoundingClientRect();
            const name = (table.querySelector('caption') || {}).textContent || table.className;
            const label = cell.getAttribute('data-label') || cell.className || 'first column';
            if (r.width < 1 || r.left < Math.max(w.left, win.left) - 1 || r.right > Math.min(w.right, win.right) + 1)
                out.push(`${name.trim()}: ${label} at ${Math.round(r.left)}-${Math.round(r.right)}`);
        }
    }
    return out;
}"""

#: Tables that become cards on a phone, as the register's and the budget's do (issue 27).
AS_CARDS = {"home": "#home-content table", "claims": "#claims table"}

STICKY_JS = """() => {
    // Tables with a sticky column that do not fit their wrap: the sticky cells cover figures as it scrolls (or,
    // stuck to the right, from the start), leaving stubs like "£2,334" that read as figures.
    const out = [];
    for (const table of document.querySelectorAll('main table')) {
        if (!table.getClientRects().length) continue;
        const sticky = [...table.querySelectorAll('th, td')].some(c => getComputedStyle(c).position === 'sticky');
        const wrap = table.closest('.table-wrap');
        if (sticky && wrap && wrap.scrollWidth > wrap.clientWidth + 1)
            out.push(`${(table.querySelector('caption') || table.closest('section') || table).textContent.trim()
                .slice(0, 40)}: ${wrap.scrollWidth} px in ${wrap.clientWidth} px`);
    }
    return out;
}"""

HALVE_JS = """async (src) => {
    // Half size and grey: small reference files, and font anti-aliasing smoothed away.
    const img = new Image(); img.src = src; await img.decode();
    const c = document.createElement('canvas');
    c.width = Math.ceil(img.width / 2); c.height = Math.ceil(img.height / 2);
    const g = c.getContext('2d'); g.imageSmoothingQuality = 'high'; g.drawImage(img, 0, 0, c.width, c.height);
    const d = g.getImageData(0, 0, c.width, c.height), p = d.data;
    for (let i = 0; i < p.length; i += 4) {
        const y = Math.round(0.299 * p[i] + 0.587 * p[i + 1] + 0.114 * p[i + 2]);
        p[i] = p[i + 1] = p[i + 2] = y;
    }
    g.putImageData(d, 0, 0);
    return c.toDataURL('image/png');
}"""

COMPARE_JS = """async ([a, b, tolerance]) => {
    const load = async (src) => { const i = new Image(); i.src = src; await i.decode(); return i; };
    const [x, y] = [await load(a), await load(b)];
    if (x.width !== y.width || x.height !== y.height)
        return {sized: `${x.width}x${x.height} against ${y.width}x${y.height}`, share: 1};
    const pixels = (img) => { const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0); return g.getImageData(0, 0, c.width, c.height).data; };
    const [p, q] = [pixels(x), pixels(y)];
    let different = 0;
    for (let i = 0; i < p.length; i += 4) {
        if (Math.max(Math.abs(p[i] - q[i]), Math.abs(p[i + 1] - q[i + 1]), Math.abs(p[i + 2] - q[i + 2])) > tolerance)
            different++;
    }
    return {share: different / (p.length / 4)};
}"""


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png(data_url: str) -> bytes:
    return base64.b64decode(data_url.split(",", 1)[1])


def _pictured_address(screens_server, name: str) -> str:
    from sqlalchemy import select

    from tracker.models import FundingYear, PccReturn

    year = _record(screens_server, lambda s: s.scalar(select(FundingYear.id).where(FundingYear.label == "2025-26")))
    issued = _record(screens_server, lambda s: s.scalar(select(PccReturn.id).where(PccReturn.status == "issued")))
    return PICTURED[name][0].format(year=year, issued=issued)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(PICTURED))
def test_screens_match_their_references_and_keep_priority_columns_in_view(screen, screens_server, browser, name,
                                                                          width):
    page = screen("manager", width)
    page.goto(_pictured_address(screens_server, name))
    page.evaluate("document.fonts.ready")
    # The page itself never scrolls sideways (a table may, inside its own .table-wrap).
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], f"{name} at {width} px is {sizes[0]} px wide: the page scrolls sideways"
    out_of_view = page.evaluate(PRIORITY_JS)
    assert not out_of_view, f"{name} at {width} px: priority columns out of view: {out_of_view}"
    if width == 390 and name in AS_CARDS:  # on a phone these tables are cards, not a strip scrolling sideways
        wide = page.evaluate("(sel) => [...document.querySelectorAll(sel)].map(t => t.getBoundingClientRect().width)"
                             ".filter(w => w > window.innerWidth)", AS_CARDS[name])
        assert page.locator(AS_CARDS[name]).count() and not wide, f"{name}: tables {wide} px wide at 390 px"
    if width >= 1280:
        covering = page.evaluate(STICKY_JS)
        assert not covering, f"{name} at {width} px: a sticky column over figures: {covering}"

    # The top of the first table (with what is just above it), as a person first sees it.
    where = PICTURED[name][1]
    page.locator(where).first.scroll_into_view_if_needed()
    page.evaluate("(where) => window.scrollTo(0, document.querySelector(where).getBoundingClientRect().top"
                  " + window.scrollY - 80)", where)
    # Times and dates that move with the clock are painted over (the data and "today" are fixed; this is for any
    # <time> a page shows of when it was made).
    shot = page.screenshot(clip={"x": 0, "y": 0, "width": width, "height": 440}, animations="disabled",
                           caret="hide", mask=[page.locator("main time")])
    scratch = browser.new_page()  # a blank page: no Content-Security-Policy in the way of data: images
    try:
        actual = _png(scratch.evaluate(HALVE_JS, _data_url(shot)))
        reference = REFERENCES / f"{name}-{width}.png"
        if os.environ.get("UPDATE_SCREENSHOTS") or not reference.exists():
            REFERENCES.mkdir(parents=True, exist_ok=True)
            reference.write_bytes(actual)
            pytest.skip(f"reference written: {reference.name}; look at it and commit it")
        result = scratch.evaluate(COMPARE_JS, [_data_url(reference.read_bytes()), _data_url(actual),
                                               CHANNEL_TOLERANCE])
    finally:
        scratch.close()
    if result["share"] > MAX_DIFFERENT:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"screen-{name}-{width}.png").write_bytes(actual)
        pytest.fail(f"{name} at {width} px differs from {reference.name}: "
                    f"{result.get('sized') or format(result['share'], '.1%') + ' of the pixels'} "
                    f"(this run's picture: tests/artifacts/screen-{name}-{width}.png)")


# --- keyboard only -----------------------------------------------------------------------------------------------

def _tab_to(page, predicate_js: str, limit: int = 120) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const e = document.activeElement; return !!({predicate_js}); }}"):
            return
    raise AssertionError(f"never reached {predicate_js} by Tab")


def _active(page) -> dict:
    return page.evaluate("() => ({id: document.activeElement.id, cls: document.activeElement.className,"
                         " cell: (document.activeElement.closest('td') || {}).id || ''})")


def test_the_outputs_grid_by_keyboard_alone(screen, screens_server):
    from sqlalchemy import select

    from tracker.models import Commission
    from tracker.models.monitoring import Measure

    commission_id = _record(screens_server, lambda s: s.scalar(
        select(Commission.id).join(Measure, Measure.commission_id == Commission.id).order_by(Commission.reference)))
    page = screen("manager", 1280)
    page.goto(f"/commissions/{commission_id}/outputs")
    expect(page.locator("#grid-keys")).to_contain_text("Tab saves and moves to the next one")
    _tab_to(page, "e.classList.contains('kpi-cell__value')")
    first = _active(page)["cell"]
    page.keyboard.press("Enter")
    field = page.locator(f"#{first} input[name=value]")
    expect(field).to_be_focused()
    check_accessibility(page, "an actual being edited")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("1234")
    page.keyboard.press("Tab")
    htmx_settled(page)
    expect(page.locator(f"#{first} .kpi-cell__value")).to_have_text("1,234")  # saved
    second = _active(page)
    assert second["cls"] == "kpi-cell__value" and second["cell"] != first, f"Tab did not move on: {second}"

    # A word: one message with its limit, focus stays on the field; Escape puts the cell back as it was.
    before = page.locator(f"#{second['cell']} .kpi-cell__value").inner_text()
    page.keyboard.press("Enter")
    expect(page.locator(f"#{second['cell']} input[name=value]")).to_be_focused()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("twelve")
    page.keyboard.press("Tab")
    htmx_settled(page)
    errors = page.locator(f"#{second['cell']} .field__error")
    expect(errors).to_have_count(1)
    expect(errors).to_contain_text("Enter a whole number from 0 to 10,000,000, like 12")
    expect(page.locator(f"#{second['cell']} input[name=value]")).to_be_focused()
    check_accessibility(page, "an actual with an error")
    page.keyboard.press("Escape")
    htmx_settled(page)
    expect(page.locator(f"#{second['cell']} .kpi-cell__value")).to_have_text(before)
    assert _active(page)["cell"] == second["cell"], "focus was lost after Escape"

    # Shift+Tab with nothing changed moves back without saving anything.
    page.keyboard.press("Enter")
    expect(page.locator(f"#{second['cell']} input[name=value]")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    htmx_settled(page)
    assert _active(page)["cell"] == first, "Shift+Tab did not move back"


def test_the_register_quick_change_by_keyboard_alone(screen):
    page = screen("manager", 1280)
    page.goto(SCREENS["register"])
    rows = page.locator("#register tbody tr")
    average = page.locator("#register tbody").bounding_box()["height"] / rows.count()
    assert average < 90, f"register rows average {average:.0f} px tall at 1,280 px (they were about 200)"
    page.goto("/commissions/?q=VRU-25-019")
    set_button = page.locator("[id^=status-set-]")
    expect(set_button).to_be_hidden()  # compact: "Set" shows only while its form has focus
    _tab_to(page, "e.id && e.id.startsWith('status-') && e.tagName === 'SELECT'")
    expect(set_button).to_be_visible()
    page.keyboard.press("ArrowDown")
    chosen = page.evaluate("() => document.activeElement.value")
    page.keyboard.press("Tab")
    expect(set_button).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#register").get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("#register tbody tr").first).to_contain_text(chosen.capitalize())
    expect(page.locator("[id^=status-set-]")).to_be_focused()

    # The end date, typed the UK way, on the same line.
    _tab_to(page, "e.id && e.id.startsWith('end-') && e.tagName === 'INPUT'")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("30/9/2027")
    page.keyboard.press("Tab")
    expect(page.locator("[id^=end-set-]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#register").get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("#register tbody tr").first).to_contain_text("30/09/2027")
    check_accessibility(page, "register after a quick change by keyboard")
