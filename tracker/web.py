"""What every page shares: template filters in UK formats, the navigation, and page-or-fragment rendering."""
from __future__ import annotations

from datetime import date, datetime

from flask import Flask, make_response, redirect, render_template, request
from flask_login import current_user
from jinja2_fragments.flask import render_block

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


def is_htmx() -> bool:
    """An HTMX request that wants a fragment (a history restore wants the whole page)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def render(template: str, block: str | None = None, status: int = 200, **context):
    """The full page, or only ``block`` of the same template for an HTMX request: one copy of the markup."""
    if block and is_htmx():
        return render_block(template, block, **context), status
    return render_template(template, **context), status


def see_other(url: str):
    """The answer to every successful POST: 303 See Other to ``url``, so reload and back never resend the form;
    for HTMX, 204 with ``HX-Redirect`` so the whole page changes (a 303 would be followed and swapped in)."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = _without_same_page_fragment(url)
        return response
    return redirect(url, 303)


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


def send_download(content: bytes | str, name: str, mimetype: str | None = None, *,
                  cache: str = "private, no-store", **options):
    """A file to save, not to show: bytes or a path, with a safe attachment name (werkzeug encodes it).

    Everything downloaded here is someone's data, so by default no cache keeps a copy; pass ``cache`` for
    files that never change (an issued return). ``options`` go to ``send_file`` (etag, last_modified ...).
    """
    import io

    from flask import send_file

    source = io.BytesIO(content) if isinstance(content, (bytes, bytearray)) else content
    response = send_file(source, mimetype=mimetype, as_attachment=True, download_name=name, **options)
    response.headers["Cache-Control"] = cache
    return response


def uk_date(value: date | datetime | None, blank: str = "") -> str:
    """31/03/2026."""
    if value is None:
        return blank
    return value.strftime("%d/%m/%Y")


def uk_datetime(value: datetime | None, blank: str = "") -> str:
    if value is None:
        return blank
    return value.strftime("%d/%m/%Y %H:%M")


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
