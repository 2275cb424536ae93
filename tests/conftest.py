"""Fixtures built on the app factory: `app`, `client`, `auth`, `make` (factories), `db_session`, `count_queries`.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set. Tables are made once
per run and emptied after each test, which is fast on both.
"""
from __future__ import annotations

import contextvars
import os
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from flask.globals import _cv_app
from flask.testing import FlaskClient

from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db
from tests.factories import Factories

PASSWORD = "correct-horse-battery-staple"
_tables_made: set[str] = set()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context, as in production, even while a test holds one open.

    Without this Flask reuses the test's app context, so ``g`` (where Flask-Login keeps the user) and the
    database session would leak from one request, or one client, to the next. Test code must commit what it
    makes before a request can see it, as a real request would need.
    """

    def open(self, *args, **kwargs):
        def run():
            _cv_app.set(None)
            return super(IsolatedClient, self).open(*args, **kwargs)

        return contextvars.copy_context().run(run)


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({
        **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
        "SQLALCHEMY_DATABASE_URI": database_url,
        "DATA_DIR": str(tmp_path / "files"),
    })
    app.test_client_class = IsolatedClient
    with app.app_context():
        if database_url not in _tables_made:
            db.drop_all()
            db.create_all()
            _tables_made.add(database_url)
        yield app
        db.session.remove()
        _empty_all_tables()
        db.session.remove()


def _empty_all_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for t in tables:
                conn.execute(t.delete())
            conn.execute(text("DELETE FROM sqlite_sequence")) if conn.execute(
                text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first() else None
            conn.execute(text("PRAGMA foreign_keys=ON"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app) -> Factories:
    """Factories: ``make.user(role="manager")``, ``make.commission(value_pence=...)``, ``make.year()`` ..."""
    return Factories(db.session)


class AuthActions:
    def __init__(self, client, make):
        self._client = client
        self._make = make

    def login(self, role: str = "admin", **user_fields):
        """Sign in as a new user with ``role``; returns the user."""
        user = self._make.user(role=role, password=PASSWORD, **user_fields)
        db.session.commit()
        response = self._client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302, response.text
        return user

    def logout(self):
        return self._client.post("/sign-out")


@pytest.fixture
def auth(client, make) -> AuthActions:
    return AuthActions(client, make)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as q: ...`` then ``q.count`` is the number of SQL statements run."""

    class Counter:
        count = 0
        statements: list[str] = []

    @contextmanager
    def counting():
        counter = Counter()
        counter.statements = []

        def before(conn, cursor, statement, parameters, context, executemany):
            if statement.strip().upper().startswith(("SAVEPOINT", "RELEASE", "PRAGMA")):
                return
            counter.count += 1
            counter.statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", before)

    return counting
