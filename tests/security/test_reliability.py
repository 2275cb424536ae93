"""Database settings, a lost connection mid-request, the upload size limit, and escaping of hostile names."""
from __future__ import annotations

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db


def _sqlite(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite only")


def test_sqlite_connections_have_wal_busy_timeout_and_foreign_keys(app):
    _sqlite(app)
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar().lower() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    # Every pooled connection, not only the first.
    db.engine.dispose()
    with db.engine.connect() as a, db.engine.connect() as b:
        for conn in (a, b):
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_postgresql_pool_pre_pings(tmp_path):
    pg = create_app({**{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
                     "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                     "DATA_DIR": str(tmp_path)})
    options = pg.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_pre_ping"] is True and options["pool_size"] >= 1
    with pg.app_context():
        assert db.engine.pool._pre_ping is True  # built without connecting


def test_a_lost_database_connection_gives_a_clean_page_and_the_app_recovers(app, client, auth, monkeypatch):
    auth.login("manager")
    import tracker.main.routes as home

    def connection_lost(*args, **kwargs):
        # What SQLAlchemy raises when the server goes away mid-query.
        db.session.connection().invalidate()
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(home, "choose_budget_view", connection_lost)
    broken = client.get("/")
    assert broken.status_code == 503
    assert "The database could not be reached" in broken.text
    assert '<main id="main"' in broken.text and "Traceback" not in broken.text
    htmx = client.get("/", headers={"HX-Request": "true"})
    assert htmx.status_code == 503 and "<html" not in htmx.text
    monkeypatch.undo()
    assert client.get("/").status_code == 200


def test_a_request_larger_than_the_limit_gets_the_error_page(app, client, auth):
    auth.login("admin")
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/admin/strands", data={"name": "x" * 5000, "sort_order": "1"})
    assert response.status_code == 413
    assert "File too large" in response.text and '<main id="main"' in response.text
    assert TestConfig.MAX_CONTENT_LENGTH and TestConfig.MAX_CONTENT_LENGTH <= 50 * 1024 * 1024


HOSTILE = "<script>alert(1)</script>"


def test_hostile_names_come_out_escaped(client, auth, make):
    auth.login("admin")
    year = make.year()
    stream = make.stream(name=f"Stream {HOSTILE}")
    make.allocation(year=year, stream=stream)
    strand = make.strand(name=f"Strand {HOSTILE}")
    make.user(role="viewer", name=f"Viewer {HOSTILE}")
    make.audit_event(summary=f"Renamed to {HOSTILE}", after={"name": HOSTILE})
    db.session.commit()
    pages = ["/", "/admin/users", "/admin/strands", f"/admin/strands/{strand.id}", "/admin/audit"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert HOSTILE not in response.text, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/admin/audit").text
    assert "&lt;script&gt;" in client.get("/admin/users").text


def test_nul_characters_are_refused_with_a_message(client, auth):
    """PostgreSQL cannot store NUL; every form and query string gets a 400 with a message instead of a 500."""
    auth.login("admin")
    for url in ("/admin/audit?q=%00%27%22", "/commissions/?stream=%00", "/funding/budget?year=%00"):
        for headers in ({}, {"HX-Request": "true"}):
            page = client.get(url, headers=headers)
            assert page.status_code == 400 and "not allowed" in page.text, url
    post = client.post("/account/password", data={"current_password": "a\x00b", "new_password": "x", "confirm_password": "x"})
    assert post.status_code == 400 and "not allowed" in post.text


def test_downloads_are_attachments_that_no_cache_keeps(client, auth, make):
    """Every file the app hands out goes through tracker.web.send_download: attachment, and no-store."""
    from tracker.extensions import db as _db

    make.milestone(title="Panel")
    _db.session.commit()
    auth.login("admin")
    for url in ("/exports/commissions.csv", "/exports/milestones.xlsx", "/milestones/deadlines.ics"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Content-Disposition"].startswith("attachment"), url
        assert response.headers["Cache-Control"] == "private, no-store", url
