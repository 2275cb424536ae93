"""VRU Tracker: funding years, commissions, budgets, milestones and PCC returns for a Violence Reduction Unit."""
from __future__ import annotations

import importlib
import os

from flask import Flask, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user
from sqlalchemy import event

from tracker.config import DEFAULT_SECRET, ROOT, Config, config_from_environment
from tracker.extensions import csrf, db, login_manager, migrate

# Each area's blueprint, in navigation order. An area's package holds routes.py (the blueprint ``bp``).
BLUEPRINTS = (
    "tracker.auth.routes",
    "tracker.main.routes",
    "tracker.funding.routes",
    "tracker.claims.routes",
    "tracker.commissions.routes",
    "tracker.milestones.routes",
    "tracker.monitoring.routes",
    "tracker.returns.routes",
    "tracker.procurement.routes",
    "tracker.imports.routes",
    "tracker.admin.routes",
)


def create_app(config: type[Config] | dict | None = None) -> Flask:
    """Build the app. ``config`` is a Config class or a dict of overrides (tests pass one in)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    from tracker.spreadsheets.reader import require_defusedxml

    require_defusedxml()
    # Settings: the environment's, then whatever the caller passes (tests).
    if isinstance(config, dict):
        app.config.from_object(config_from_environment())
        app.config.update(config)
    else:
        app.config.from_object(config or config_from_environment())
    _check_secret_key(app)
    from tracker.imports.jobs import check_settings as check_import_queue

    check_import_queue(app.config)
    _engine_options(app)
    _behind_proxies(app)
    os.makedirs(app.config["DATA_DIR"], exist_ok=True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        os.makedirs(os.path.dirname(app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]) or ".", exist_ok=True)

    # Extensions.
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to continue."
    login_manager.session_protection = "strong"
    _sqlite_on_this_engine(app)
    # Generated deadlines follow their funding year or commission wherever those change (milestones/service.py).
    from tracker.milestones.service import register_session_events

    register_session_events()
    from tracker.auth.sessions import AbsoluteExpiryCookie

    app.session_interface = AbsoluteExpiryCookie()

    # Areas (ids in addresses are bounded first, so an id no record can have is a 404).
    from tracker.web import BoundedIntConverter

    app.url_map.converters["int"] = BoundedIntConverter
    for module_name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(module_name).bp)

    from tracker import cli, errors, security, web

    web.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    cli.init_app(app)
    _guard_every_request(app)
    return app


def _check_secret_key(app: Flask) -> None:
    """In production the app must not start with a missing or well-known secret key."""
    if app.config.get("ENV_NAME") == "production" and not app.testing:
        key = app.config.get("SECRET_KEY") or ""
        if key in ("", DEFAULT_SECRET) or len(key) < 16:
            raise RuntimeError(
                "SECRET_KEY is missing or is the development default. Set SECRET_KEY to a long random value, "
                "e.g. python -c 'import secrets; print(secrets.token_hex(32))'; for local use set TRACKER_ENV=development."
            )


def _behind_proxies(app: Flask) -> None:
    """Trust X-Forwarded-For/-Proto from exactly TRUSTED_PROXIES proxies (none by default: a client could
    forge them), so the sign-in throttle and HTTPS checks see the real address and scheme."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)


def _engine_options(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("postgresql"):
        options.setdefault("pool_pre_ping", True)
        options.setdefault("pool_size", 5)
        options.setdefault("max_overflow", 10)
    elif uri.startswith("sqlite"):
        options.setdefault("connect_args", {}).setdefault("timeout", 30)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _sqlite_on_this_engine(app: Flask) -> None:
    """Set SQLite's pragmas on each new connection of this app's engine (not of every engine in the process)."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: foreign keys on, WAL so readers don't block the writer, wait rather than fail when busy, and a
    32 MB page cache (the default 2 MB makes a 100,000-line import spill index pages mid-transaction: measured
    25% slower in bench/imports.py; memory is taken only as pages are read)."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.close()


def _guard_every_request(app: Flask) -> None:
    """Every view is closed to anonymous users unless marked public, and idle or too-old sessions end."""
    from tracker.auth import sessions
    from tracker.auth.roles import view_is_public, view_roles

    @app.before_request
    def require_sign_in():
        if request.endpoint is None or request.endpoint == "static":
            return None
        view = app.view_functions.get(request.endpoint)
        if view is None or view_is_public(view):
            return None
        if not current_user.is_authenticated:
            return _to_sign_in()
        record = sessions.current()
        reason = sessions.expired(record) if record is not None else "ended"
        if reason:
            sessions.end(record, reason)
            db.session.commit()
            logout_user()
            session.clear()
            flash("You were signed out after a period of inactivity. Sign in again to continue." if reason == "idle"
                  else "Your session has ended. Sign in again to continue.", "info")
            return _to_sign_in()
        sessions.touch(record)
        if view_roles(view) is None:
            # A view that forgot to say who may use it is closed to everyone (the role-matrix test catches it).
            from flask import abort

            abort(403)
        return None


def _to_sign_in():
    from tracker.web import is_htmx

    target = url_for("auth.sign_in", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if is_htmx():
        # Not signed in, so not a successful POST (web.see_other's 204): 401, and HTMX loads the sign-in page.
        from flask import make_response

        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)
