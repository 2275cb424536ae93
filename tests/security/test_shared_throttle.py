"""The sign-in throttle is shared across workers and refuses to start on per-worker memory with several;
proxies are trusted only by a setting; wrong current passwords count as failed sign-ins; signed-in pages are
never cached (issue 12, findings 4, 5 and 13)."""
from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, IsolatedClient
from tracker import create_app
from tracker.config import ROOT, TestConfig
from tracker.extensions import db
from tracker.security import reset_sign_in_throttle

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/12")


_MADE: list = []


def _app(app, **config):
    made = create_app({**{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
                       "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                       "DATA_DIR": app.config["DATA_DIR"], "RATELIMIT_ENABLED": True, **config})
    made.test_client_class = IsolatedClient
    _MADE.append(made)
    return made


@pytest.fixture(autouse=True)
def _close_extra_apps():
    """Each extra app has its own connection pool: close them, so the database server is not run out of them."""
    yield
    while _MADE:
        with _MADE.pop().app_context():
            db.engine.dispose()


def _redis_or_skip():
    try:
        import redis

        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not running at {REDIS} ({exc}); .ci/run starts it")
        pytest.skip(f"Redis is not running at {REDIS}: start it with redis-server (see .ci/run)")


def _try(client, email, password, address="10.0.0.1", **headers):
    return client.post("/sign-in", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address}, headers=headers)


def test_two_workers_share_one_count_in_redis(app, make, monkeypatch):
    """Two app instances (two gunicorn workers) on Redis: 5 failures in all, not 5 each, lock the account."""
    _redis_or_skip()
    monkeypatch.setenv("TRACKER_WORKERS", "2")
    prefix = f"test-{os.getpid()}-{id(app)}"
    first = _app(app, RATELIMIT_STORAGE_URI=REDIS, RATELIMIT_KEY_PREFIX=prefix)
    second = _app(app, RATELIMIT_STORAGE_URI=REDIS, RATELIMIT_KEY_PREFIX=prefix)
    user = make.user(role="finance")
    db.session.commit()
    try:
        a, b = first.test_client(), second.test_client()
        for n in range(5):
            assert _try(a if n % 2 else b, user.email, "wrong password!").status_code == 422
        assert _try(a, user.email, PASSWORD).status_code == 429
        assert _try(b, user.email, PASSWORD).status_code == 429
    finally:
        with second.app_context():
            reset_sign_in_throttle()


def test_several_workers_on_memory_storage_refuse_to_start(app, monkeypatch):
    monkeypatch.setenv("TRACKER_WORKERS", "2")
    with pytest.raises(RuntimeError, match="Set RATELIMIT_STORAGE_URI"):
        _app(app, RATELIMIT_STORAGE_URI="memory://")
    monkeypatch.setenv("TRACKER_WORKERS", "1")
    _app(app, RATELIMIT_STORAGE_URI="memory://")  # one worker may count in memory


def test_gunicorn_conf_refuses_several_workers_on_memory(monkeypatch, capsys):
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    class Server:
        class cfg:
            workers = 2

        class log:
            @staticmethod
            def error(*args):
                pass

    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.setenv("TRACKER_WORKERS", "1")  # on_starting sets it; monkeypatch puts it back afterwards
    with pytest.raises(SystemExit):
        conf["on_starting"](Server)
    assert "RATELIMIT_STORAGE_URI" in capsys.readouterr().err
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    conf["on_starting"](Server)
    assert os.environ["TRACKER_WORKERS"] == "2"


@pytest.mark.slow
def test_gunicorn_itself_will_not_start_two_workers_on_memory(tmp_path):
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = {**os.environ, "RATELIMIT_STORAGE_URI": "memory://", "SECRET_KEY": "x" * 40, "WEB_CONCURRENCY": "2",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}", "DATA_DIR": str(tmp_path), "BIND": "127.0.0.1:0"}
    done = subprocess.run([str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Set RATELIMIT_STORAGE_URI" in done.stderr


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(app, make):
    user = make.user(role="manager")
    db.session.commit()
    for trusted, other_address_allowed in ((0, False), (1, True)):
        limited = _app(app, RATELIMIT_STORAGE_URI="memory://", TRUSTED_PROXIES=trusted)
        with limited.app_context():
            reset_sign_in_throttle()
        client = limited.test_client()
        for _ in range(5):
            _try(client, user.email, "wrong password!", address="127.0.0.1", **{"X-Forwarded-For": "198.51.100.7"})
        answer = _try(client, user.email, PASSWORD, address="127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"})
        assert (answer.status_code == 302) is other_address_allowed, trusted
        with limited.app_context():
            reset_sign_in_throttle()


def test_wrong_current_passwords_are_throttled_like_sign_ins(app, make):
    limited = _app(app, RATELIMIT_STORAGE_URI="memory://")
    with limited.app_context():
        reset_sign_in_throttle()
    user = make.user(role="viewer")
    db.session.commit()
    client = limited.test_client()
    assert _try(client, user.email, PASSWORD).status_code == 302
    data = {"current_password": "a guess at it!", "new_password": "kestrel-quiet-lantern-87",
            "confirm_password": "kestrel-quiet-lantern-87"}
    answers = [client.post("/account/password", data=data, environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code
               for _ in range(5)]
    assert answers == [422, 422, 422, 422, 429]
    assert client.get("/").status_code == 302, "the session ended"
    assert _try(client, user.email, PASSWORD).status_code == 429, "and the account is locked from that address"
    with limited.app_context():
        reset_sign_in_throttle()


def test_signed_in_pages_are_never_cached(client, auth, make):
    page = client.get("/sign-in")
    assert "no-store" not in page.headers.get("Cache-Control", "")
    auth.login("manager")
    for url, headers in (("/", {}), ("/commissions/", {}), ("/commissions/", {"HX-Request": "true"}),
                         ("/no-such-page", {})):
        response = client.get(url, headers=headers)
        assert response.headers.get("Cache-Control") == "no-store", url
    assert client.get("/static/css/app.css").headers.get("Cache-Control") != "no-store"


def test_an_unreachable_throttle_store_refuses_sign_in_with_a_sentence(app, make):
    limited = _app(app, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    user = make.user(role="viewer")
    db.session.commit()
    response = _try(limited.test_client(), user.email, PASSWORD)
    assert response.status_code == 503 and "counts failed sign-ins cannot be reached" in response.text


def test_an_unreachable_throttle_store_on_the_password_page_is_a_503(app, make, monkeypatch):
    limited = _app(app, RATELIMIT_STORAGE_URI="memory://")
    user = make.user(role="viewer")
    db.session.commit()
    client = limited.test_client()
    assert _try(client, user.email, PASSWORD).status_code == 302
    from tracker import security

    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(security.limiter.limiter, "test", down)
    response = client.post("/account/password", data={"current_password": "x", "new_password": "y",
                                                      "confirm_password": "y"})
    assert response.status_code == 503 and "cannot be reached" in response.text
