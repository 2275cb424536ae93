"""Security that applies to every request: response headers (a strict Content-Security-Policy) and the
throttling of failed sign-ins per account and per address.

Failed sign-ins are counted with Flask-Limiter's storage (memory by default, RATELIMIT_STORAGE_URI for a
shared store such as Redis when several workers serve the app). Only failures count, and a locked account
or address is refused before its password is checked, so a right password does not get through a lock.
"""
from __future__ import annotations

import os

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse

# No inline script or style anywhere: HTMX runs with eval off (static/js/app.js) and styles live in app.css.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"

LOCKED_MESSAGE = (
    "Too many failed attempts to sign in. For your security, signing in is paused for 15 minutes. "
    "Wait, then try again, or ask your administrator to reset your password."
)

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=False)


def init_app(app: Flask) -> None:
    """Bind the headers, the sign-in throttle and the backup commands to the app."""
    app.config.setdefault("SIGN_IN_LIMIT_PER_ACCOUNT", os.environ.get("SIGN_IN_LIMIT_PER_ACCOUNT", "5 per 15 minutes"))
    app.config.setdefault("SIGN_IN_LIMIT_PER_ADDRESS", os.environ.get("SIGN_IN_LIMIT_PER_ADDRESS", "20 per 15 minutes"))
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
    _headers(app)
    _refuse_nul_characters(app)
    _sign_in_throttle(app)

    from tracker import backup

    backup.init_app(app)


def _headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response


def _refuse_nul_characters(app: Flask) -> None:
    """Control characters (C0, other than tab and new line) have no business in any field: PostgreSQL refuses a
    NUL, and a vertical tab pasted from Word breaks the workbooks made from the text. Answer 400 with a message
    naming the field, here, once for every form and query string, rather than fail deep inside a query or an
    export. Uploaded file names are cleaned instead (tracker.text.clean_filename), except for a NUL."""
    from tracker.text import control_character

    @app.before_request
    def refuse_nul():
        values = list(request.args.items(multi=True))
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            values += list(request.form.items(multi=True))
        for name, value in values:
            what = control_character(value)
            if what:
                from tracker.errors import abort_with

                abort_with(400, f"What was sent in '{name[:40]}' contains a character that is not allowed ({what}). "
                                "It often comes from text pasted from Word: retype that part and try again.")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if any("\x00" in (f.filename or "") for f in request.files.values()):
                from tracker.errors import abort_with

                abort_with(400, "What was sent contains a character that is not allowed (a NUL). Remove it and try again.")


def _throttle_keys(app: Flask) -> list[tuple[object, str]]:
    """(limit, key) pairs for this sign-in attempt: the e-mail it names and the address it comes from."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    keys = [(parse(app.config["SIGN_IN_LIMIT_PER_ADDRESS"]), f"sign-in-address/{get_remote_address()}")]
    if email:
        keys.append((parse(app.config["SIGN_IN_LIMIT_PER_ACCOUNT"]), f"sign-in-account/{email}"))
    return keys


def _is_sign_in_post() -> bool:
    return request.method == "POST" and request.endpoint == "auth.sign_in"


def _sign_in_throttle(app: Flask) -> None:
    def enabled() -> bool:
        return bool(app.config.get("RATELIMIT_ENABLED")) and limiter.enabled

    @app.before_request
    def refuse_locked_sign_in():
        if not _is_sign_in_post() or not enabled():
            return None
        for limit, key in _throttle_keys(app):
            if not limiter.limiter.test(limit, key):
                return locked_response()
        return None

    @app.after_request
    def count_failed_sign_in(response):
        # A failed sign-in re-shows the form with 422; a success redirects. Only failures use up attempts.
        if _is_sign_in_post() and enabled() and response.status_code == 422 and request.form.get("email"):
            for limit, key in _throttle_keys(app):
                limiter.limiter.hit(limit, key)
        return response


def locked_response():
    """The sign-in page with the lock message, as 429."""
    from tracker.auth.forms import SignInForm
    from tracker.web import render

    form = SignInForm()
    form.form_errors.append(LOCKED_MESSAGE)
    return render("auth/sign_in.html", form=form, status=429, locked=True)


def reset_sign_in_throttle() -> None:
    """Forget every failed attempt (tests, or an operator after a false alarm)."""
    limiter.reset()
