"""Error pages in the same frame as every other page, and a rollback so a failed request leaves no half-write."""
from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from tracker.extensions import db
from tracker.web import is_htmx

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Check what you entered and try again."),
    401: ("Sign in required", "Sign in to continue."),
    403: ("You do not have permission", "Your role does not allow this. Ask an administrator if you need it."),
    404: ("Page not found", "There is nothing at this address. Check it, or go back to the home page."),
    405: ("Not allowed", "This page cannot be used that way."),
    409: ("Changed by someone else", "The record changed while you were working on it."),
    413: ("File too large", "The file is larger than the upload limit."),
    422: ("There is a problem", "Some of what you entered could not be used."),
    429: ("Too many attempts", "Too many attempts. Wait a few minutes and try again."),
    500: ("Something went wrong", "Sorry, something went wrong on our side. Nothing was saved. Try again later."),
    503: ("Service unavailable", "The database could not be reached. Try again in a moment."),
}


def render_error(status: int, detail: str | None = None):
    title, message = MESSAGES.get(status, ("Error", "Something went wrong."))
    if is_htmx():
        return render_template("errors/_message.html", status=status, title=title, message=detail or message), status
    return render_template("errors/error.html", status=status, title=title, message=detail or message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, "Your form expired or was sent from elsewhere. Go back, reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code and error.code >= 500:
            db.session.rollback()
        detail = error.description if getattr(error, "custom_message", False) else None
        return render_error(error.code or 500, detail)

    @app.errorhandler(StaleDataError)
    def lost_race(error: StaleDataError):
        # A versioned record's UPDATE found another version: someone saved first. Nothing of this request stays.
        db.session.rollback()
        return render_error(409, "Someone else changed this record while you were saving it, so your change was not "
                                 "saved. Go back, reload the page to see their change, and make yours again.")

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        from sqlalchemy.exc import OperationalError

        if isinstance(error, OperationalError):
            return render_error(503)
        return render_error(500)


def abort_with(status: int, message: str):
    """Stop with an HTTP error whose page shows ``message`` (a sentence for the user)."""
    from werkzeug.exceptions import default_exceptions

    exc = default_exceptions[status](description=message)
    exc.custom_message = True
    raise exc


def get_or_404(model, record_id, message: str, *options):
    """The record of ``model`` with this id (loaded with ``options``), or a 404 page that says ``message``.

    Every ``get_<thing>_or_404`` helper is built on this, so a missing record reads the same everywhere.
    """
    from tracker.extensions import db

    record = db.session.get(model, record_id, options=list(options)) if record_id is not None else None
    if record is None:
        abort_with(404, message)
    return record
