"""Configuration, read from the environment. Tests pass their own settings into the factory."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from tracker.text import is_yes

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET = "dev-only-not-secret"


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a whole number") from exc


def _bool(name: str, default: bool) -> bool:
    return is_yes(os.environ.get(name, str(default)))


class Config:
    """Settings for running the app; every one can be set by an environment variable of the same name."""

    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET)
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'tracker.db'}")
    # Where uploaded spreadsheets, issued returns and documents are kept: outside static/, never served directly.
    DATA_DIR = os.environ.get("DATA_DIR", str(ROOT / "instance" / "files"))
    MAX_CONTENT_LENGTH = _int("MAX_UPLOAD_MB", 20) * 1024 * 1024
    IMPORT_MAX_UNCOMPRESSED_MB = _int("IMPORT_MAX_UNCOMPRESSED_MB", 200)
    IMPORT_MAX_ROWS = _int("IMPORT_MAX_ROWS", 200_000)
    # Production unless FLASK_DEBUG or TRACKER_ENV=development says otherwise.
    ENV_NAME = os.environ.get("TRACKER_ENV", "production")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 60)
    # However active, a session ends this long after signing in (the cookie expires then too).
    SESSION_MAX_HOURS = _int("SESSION_MAX_HOURS", 12)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=SESSION_MAX_HOURS)
    # How many proxies in front of the app set X-Forwarded-For/-Proto (0: none, trust no such header). With one
    # reverse proxy set TRUSTED_PROXIES=1, so the sign-in throttle sees each person's own address.
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
    # Import drafts (uploads never committed) older than this are swept away.
    IMPORT_DRAFT_DAYS = _int("IMPORT_DRAFT_DAYS", 7)
    # Where a big import commits: "thread" (in the web process that took the request; nothing else to run) or
    # "rq" (a job on the Redis queue, run by `flask worker`, so it survives the web worker being recycled). The
    # queue's Redis is RATELIMIT_STORAGE_URI's; tracker/imports/jobs.py checks the choice at start-up.
    IMPORT_QUEUE = os.environ.get("IMPORT_QUEUE", "thread").strip().lower()
    IMPORT_QUEUE_NAME = os.environ.get("IMPORT_QUEUE_NAME", "vru-imports")
    # A queued import still running after this long is stopped (nothing of it lands) and marked failed.
    IMPORT_JOB_MINUTES = _int("IMPORT_JOB_MINUTES", 60)
    # The least time between two progress reports of a running import (the page asks every second). On
    # PostgreSQL each report is a new version of the batch row that every imported line's key check reads.
    IMPORT_PROGRESS_MS = _int("IMPORT_PROGRESS_MS", 500)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session, which itself expires when idle
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Keys of the sign-in counts start with this (several apps may share one Redis).
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "vru")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    TESTING = False


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SESSION_COOKIE_SECURE = False


class TestConfig(Config):
    """Defaults for the test suite; fixtures override the database URL and the data folder."""

    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"
    SESSION_COOKIE_SECURE = False
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    IMPORT_QUEUE = "thread"  # whatever the shell says: the queue's tests choose it themselves
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashing in tests only


def config_from_environment() -> type[Config]:
    if os.environ.get("TRACKER_ENV") == "development" or _bool("FLASK_DEBUG", False):
        return DevelopmentConfig
    return Config
