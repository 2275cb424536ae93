"""Security that applies to every request: response headers (a strict Content-Security-Policy, no-store for
signed-in pages), refusing control characters, and the throttling of failed sign-ins.

Failed sign-ins are counted with Flask-Limiter's storage (memory for one process, RATELIMIT_STORAGE_URI for a
shared store such as Redis, which several workers must use: the app refuses to start otherwise). Only failures
count (a wrong current password on /account/password too), and a locked account or address is refused before
its password is checked, so a right password does not get through a lock.
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

STORE_DOWN_MESSAGE = ("Signing in is unavailable for a moment: the service that counts failed sign-ins cannot "
                      "be reached. Try again in a few minutes; if it goes on, tell your administrator.")

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=False)


def init_app(app: Flask) -> None:
    """Bind the headers and the sign-in throttle to the app."""
    app.config.setdefault("SIGN_IN_LIMIT_PER_ACCOUNT_ADDRESS",
                          os.environ.get("SIGN_IN_LIMIT_PER_ACCOUNT_ADDRESS", "5 per 15 minutes"))
    app.config.setdefault("SIGN_IN_LIMIT_PER_ACCOUNT", os.environ.get("SIGN_IN_LIMIT_PER_ACCOUNT", "20 per 15 minutes"))
    app.config.setdefault("SIGN_IN_LIMIT_PER_ADDRESS", os.environ.get("SIGN_IN_LIMIT_PER_ADDRESS", "100 per 15 minutes"))
    app.config.setdefault("RATELIMIT_ENABLED", True)
    if app.config["RATELIMIT_ENABLED"]:
        # gunicorn.conf.py puts the number of workers here; several workers need shared counters.
        check_throttle_storage(int(os.environ.get("TRACKER_WORKERS", "1") or 1), app.config.get("RATELIMIT_STORAGE_URI"))
    limiter.init_app(app)
    _headers(app)
    _refuse_nul_characters(app)
    _sign_in_throttle(app)


def _headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        # Whatever a signed-in person is shown is someone's data: no browser or proxy cache may keep a copy
        # (the back button after sign-out, a shared PC). Downloads set their own (also no-store by default).
        if request.endpoint != "static" and _signed_in():
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _signed_in() -> bool:
    from flask_login import current_user

    try:
        return bool(current_user.is_authenticated)
    except Exception:  # the database is down: the error page is not cached either way  # pragma: no cover
        return False


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


def check_throttle_storage(workers: int, uri: str | None) -> None:
    """Refuse to run several workers on in-memory counters: each worker would count failed sign-ins on its own,
    letting ``workers`` times as many guesses through. Called at start-up by gunicorn.conf.py and the factory."""
    uri = uri or "memory://"
    if workers > 1 and uri.startswith("memory://"):
        raise RuntimeError(
            f"The sign-in throttle keeps its counts in memory (RATELIMIT_STORAGE_URI={uri}), which is per worker: with "
            f"{workers} workers each would let the full number of guesses through. Set RATELIMIT_STORAGE_URI to a "
            "shared store, e.g. RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 (Redis is the tested choice), or run "
            "one worker.")


def _email(email: str | None = None) -> str:
    return ((request.form.get("email") if email is None else email) or "").strip().lower()[:254]


def _throttle_keys(app: Flask, email: str | None = None) -> list[tuple[object, str]]:
    """(limit, key) pairs for a sign-in attempt: the account and address together (the main lock), the account
    from anywhere (guessing spread over many addresses) and the address for any account (spraying), each with
    its own limit, so one noisy address behind a proxy does not lock everyone else out."""
    prefix = app.config.get("RATELIMIT_KEY_PREFIX") or "vru"
    address = get_remote_address() or "unknown"
    email = _email(email)
    keys = [(parse(app.config["SIGN_IN_LIMIT_PER_ADDRESS"]), f"{prefix}/sign-in-address/{address}")]
    if email:
        keys.append((parse(app.config["SIGN_IN_LIMIT_PER_ACCOUNT_ADDRESS"]), f"{prefix}/sign-in-pair/{email}/{address}"))
        keys.append((parse(app.config["SIGN_IN_LIMIT_PER_ACCOUNT"]), f"{prefix}/sign-in-account/{email}"))
    return keys


def _enabled(app: Flask) -> bool:
    return bool(app.config.get("RATELIMIT_ENABLED")) and limiter.enabled


def sign_in_locked(email: str | None = None) -> bool:
    """True when this account (or address) has used up its failed attempts; checked before any password.
    When the shared store cannot be reached it fails closed: a 503 with a sentence, never a 500."""
    from flask import current_app

    app = current_app._get_current_object()
    if not _enabled(app):
        return False
    try:
        return any(not limiter.limiter.test(limit, key) for limit, key in _throttle_keys(app, email))
    except Exception:
        app.logger.exception("The sign-in throttle's storage (RATELIMIT_STORAGE_URI) cannot be reached")
        from tracker.errors import abort_with

        abort_with(503, STORE_DOWN_MESSAGE)


def record_failed_sign_in(email: str | None = None) -> None:
    """Count one wrong password (at sign-in, or the current password on /account/password)."""
    from flask import current_app

    app = current_app._get_current_object()
    if _enabled(app) and _email(email):
        for limit, key in _throttle_keys(app, email):
            limiter.limiter.hit(limit, key)


def _is_sign_in_post() -> bool:
    return request.method == "POST" and request.endpoint == "auth.sign_in"


def _sign_in_throttle(app: Flask) -> None:
    @app.before_request
    def refuse_locked_sign_in():
        if _is_sign_in_post() and sign_in_locked():
            return locked_response()
        return None

    @app.after_request
    def count_failed_sign_in(response):
        # A failed sign-in re-shows the form with 422; a success redirects. Only failures use up attempts.
        if _is_sign_in_post() and response.status_code == 422:
            record_failed_sign_in()
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
