"""What every page shares: template filters in UK formats, the navigation, and page-or-fragment rendering."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask, make_response, redirect, render_template, request
from flask_login import current_user
from jinja2_fragments.flask import render_block
from werkzeug.routing import IntegerConverter

from tracker.money import format_pence, format_pence_short

# (endpoint, label, roles that see the link). Areas add their entry here when their blueprint lands.
NAVIGATION: list[tuple[str, str, tuple[str, ...] | None]] = [
    ("main.home", "Home", None),
    ("funding.budget", "Budgets", None),
    ("commissions.index", "Commissions", None),
    ("commissions.providers", "Providers", None),
    ("milestones.index", "Deadlines", None),
    ("monitoring.index", "Monitoring", None),
    ("returns.index", "Returns", None),
    ("procurement.publications", "Transparency", None),
    ("imports.index", "Imports", ("finance",)),
    ("admin.index", "Admin", ("admin",)),
]


# The largest id or count a query string or address may carry: PostgreSQL's INTEGER. Anything bigger cannot be
# a record here, and passing it on would fail inside the query (a 500) instead of being ignored with a message.
MAX_WHOLE_NUMBER = 2_147_483_647


def whole_number(text: str | None, low: int = 1, high: int = MAX_WHOLE_NUMBER) -> int | None:
    """``text`` as a whole number from ``low`` to ``high``, or None (blank, not a number, or out of range)."""
    text = (text or "").strip()
    if not text or len(text) > 12 or not text.lstrip("+-").isdigit():
        return None
    value = int(text)
    return value if low <= value <= high else None


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` in every route: an id beyond any record (``/commissions/99999999999``) is a 404, not a 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_WHOLE_NUMBER)
        super().__init__(map, *args, **kwargs)


def is_htmx() -> bool:
    """An HTMX request that wants a fragment (a history restore wants the whole page)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def render(template: str, block: str | None = None, status: int = 200, **context):
    """The full page, or only ``block`` of the same template for an HTMX request: one copy of the markup."""
    if block and is_htmx():
        return render_block(template, block, **{**template_imports(template), **context}), status
    return render_template(template, **context), status


def see_other(url: str):
    """The answer to every successful POST: 303 See Other to ``url``, so reload and back never resend the form;
    for HTMX, 204 with ``HX-Redirect`` so the whole page changes (a 303 would be followed and swapped in)."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = _without_same_page_fragment(url)
        return response
    return redirect(url, 303)


def template_imports(template: str) -> dict:
    """The macros a template (and the templates it extends) imports at its top level, by the names it uses.

    ``render_block`` renders one block without running the rest of the template, so ``{% from "_macros.html"
    import field %}`` above the blocks never runs and the block fails on ``field`` (an HTMX 500). Passing the
    imported names in with the context puts them where the block looks for them, for every template at once.
    """
    from flask import current_app

    env = current_app.jinja_env
    found: dict = {}
    for kind, source, names in _top_level_imports(env, template):
        module = env.get_template(source).module
        if kind == "import":
            found[names] = module
        else:
            for name, alias in names:
                found[alias] = getattr(module, name)
    return found


def _top_level_imports(env, template: str, seen: frozenset = frozenset()) -> list[tuple]:
    """("from", "_macros.html", [(name, alias)]) and ("import", "x.html", alias) for a template and its parents,
    parents first (read from the template's syntax tree once, then cached)."""
    key = (id(env), template)
    if key in _IMPORTS_CACHE:
        return _IMPORTS_CACHE[key]
    from jinja2 import nodes

    source = env.loader.get_source(env, template)[0]
    found: list[tuple] = []
    for node in env.parse(source).body:
        if isinstance(node, nodes.Extends) and isinstance(node.template, nodes.Const) and template not in seen:
            found = _top_level_imports(env, node.template.value, seen | {template}) + found
        elif isinstance(node, nodes.FromImport) and isinstance(node.template, nodes.Const):
            found.append(("from", node.template.value,
                          [(n, n) if isinstance(n, str) else (n[0], n[1]) for n in node.names]))
        elif isinstance(node, nodes.Import) and isinstance(node.template, nodes.Const):
            found.append(("import", node.template.value, node.target))
    if not env.auto_reload:
        _IMPORTS_CACHE[key] = found
    return found


_IMPORTS_CACHE: dict[tuple, list[tuple]] = {}


def _without_same_page_fragment(url: str) -> str:
    """``url`` without its #fragment when it is the page the request came from: the browser would only scroll
    to the fragment and keep the old page (and its stale form), so the page is loaded afresh instead."""
    from urllib.parse import urlsplit

    if "#" not in url:
        return url
    here, there = urlsplit(request.headers.get("HX-Current-URL", "")), urlsplit(url)
    if (here.path, here.query) == (there.path, there.query):
        return url.split("#", 1)[0]
    return url


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# Every download is someone's data: no browser or proxy keeps a copy, not even of a file that never changes (an
# issued return), because a shared PC's cache outlives the session and a version's address may be reused.
DOWNLOAD_CACHE = "private, no-store"


def send_download(content: bytes | str, name: str, mimetype: str | None = None, **options):
    """A file to save, not to show: bytes or a path, with a safe attachment name (werkzeug encodes it), sent
    ``Cache-Control: private, no-store`` always (the one place downloads are sent). ``options`` go to
    ``send_file`` (etag, last_modified ...)."""
    import io

    from flask import send_file

    from tracker.text import clean_filename

    source = io.BytesIO(content) if isinstance(content, (bytes, bytearray)) else content
    # Names stored before uploads were cleaned may hold CR/LF or a right-to-left override: clean them again.
    response = send_file(source, mimetype=mimetype, as_attachment=True, download_name=clean_filename(name, "download"),
                         **options)
    response.headers["Cache-Control"] = DOWNLOAD_CACHE
    return response


def uk_date(value: date | datetime | None, blank: str = "") -> str:
    """31/03/2026."""
    if value is None:
        return blank
    return value.strftime("%d/%m/%Y")


#: Times are stored in UTC (``models.base.utcnow``) and shown as the clock on the office wall.
UK_TIME = ZoneInfo("Europe/London")


def uk_local(value: datetime) -> datetime:
    """A stored time (naive UTC, or aware) as UK local time: BST in summer, GMT in winter."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(UK_TIME)


def uk_datetime(value: datetime | None, blank: str = "") -> str:
    """31/07/2025 13:00 for a time stored as 12:00 UTC in summer: UK local time, so no "UTC" beside it."""
    if value is None:
        return blank
    return uk_local(value).strftime("%d/%m/%Y %H:%M")


def long_date(value: date | None, blank: str = "") -> str:
    """31 March 2026."""
    if value is None:
        return blank
    return f"{value.day} {value.strftime('%B %Y')}"


def init_app(app: Flask) -> None:
    app.add_template_filter(format_pence, "money")
    app.add_template_filter(format_pence_short, "money_short")
    app.add_template_filter(uk_date, "uk_date")
    app.add_template_filter(uk_datetime, "uk_datetime")
    app.add_template_filter(long_date, "long_date")

    from tracker import audit

    # One record's history for any page: {% set history = audit_history(record) %}{% include "_history.html" %}
    app.add_template_global(audit.history, "audit_history")

    @app.context_processor
    def navigation():
        items = []
        if current_user.is_authenticated:
            for endpoint, label, roles in NAVIGATION:
                if endpoint not in app.view_functions:
                    continue
                if roles is None or current_user.has_role(*roles):
                    items.append((endpoint, label))
        return {"navigation": items, "today": date.today()}

    @app.after_request
    def vary_on_htmx(response):
        # Pages and fragments share URLs: caches must keep them apart.
        if request.method == "GET":
            response.vary.add("HX-Request")
        return response
