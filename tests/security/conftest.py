"""Fixtures for the security tests: the demo data, and an app with the sign-in throttle switched on."""
from __future__ import annotations

import pytest

from tests.conftest import IsolatedClient
from tracker import create_app
from tracker.config import TestConfig
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db


@pytest.fixture
def seeded(app):
    seed_demo(DEMO_TODAY)
    db.session.commit()
    return app


@pytest.fixture
def throttled_app(app):
    """The test app's database, with Flask-Limiter on (it is off in TestConfig) and fresh counters."""
    limited = create_app({
        **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "DATA_DIR": app.config["DATA_DIR"],
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
    })
    limited.test_client_class = IsolatedClient
    from tracker.security import reset_sign_in_throttle

    with limited.app_context():
        reset_sign_in_throttle()
    yield limited
    with limited.app_context():
        db.engine.dispose()  # its own connection pool: close it, so the database server is not run out of them
