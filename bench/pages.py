"""Times the daily pages on a large data set, next to a near-empty signed-in page of the same app measured in the same run.

    .venv/bin/python -m bench.pages                 # 5,000 commissions, 500 providers, 100,000 ledger lines, SQLite
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python -m bench.pages --requests 50

Builds the data set with bench.dataset (in a fresh temporary SQLite file unless DATABASE_URL is set: that
database is emptied first), signs in, and requests each page in-process through the whole app (WSGI stack,
session, role check, queries, templates). Prints median and 95th-percentile times, the ratios and the number of
SQL queries each page ran.

The baseline is the change-password page (GET): signed in, through the same request guard, session and user
loading, CSRF token, navigation and base layout as every page, but one small form and no data queries of its
own. So "× baseline" is the cost of a page's own data and markup over the app's fixed cost per request. The
static stylesheet is shown as a second reference (no session or template at all: the floor of the WSGI stack).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from sqlalchemy import event
from werkzeug.security import generate_password_hash

from bench.dataset import build
from tracker import create_app
from tracker.extensions import db
from tracker.models import User

PASSWORD = "bench-password-not-secret"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def make_app(url: str):
    return create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret-key-bench-secret-key", "ENV_NAME": "bench",
        "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False, "RATELIMIT_ENABLED": False, "TESTING": False,
    })


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commissions", type=int, default=5000)
    parser.add_argument("--providers", type=int, default=500)
    parser.add_argument("--ledger", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (after 3 warm-ups)")
    args = parser.parse_args(argv)

    tmp = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/bench.db"
    app = make_app(url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        built = build(args.commissions, args.providers, args.ledger)
        db.session.add(User(email="bench@example.org", name="Bench Manager", role="manager",
                            password_hash=generate_password_hash(PASSWORD, "pbkdf2:sha256:1000")))
        db.session.commit()
        open_year = db.session.scalar(db.select(db.text("label FROM funding_years WHERE status = 'open'")))
        engine = db.engine
    print(f"Data set: {built.commissions:,} commissions, {built.providers:,} providers, {built.ledger_lines:,} ledger "
          f"lines, built in {built.seconds:.1f} s on {url.split(':')[0]}")

    client = app.test_client()
    response = client.post("/sign-in", data={"email": "bench@example.org", "password": PASSWORD})
    assert response.status_code == 302, response.status_code

    budget_url = None
    if "funding.budget" in app.view_functions:
        with app.test_request_context():
            from flask import url_for

            budget_url = url_for("funding.budget", year=open_year)
    with app.test_request_context():
        from flask import url_for

        baseline_url = url_for("auth.change_password")
    pages = [
        ("baseline: change-password page", baseline_url),
        ("reference: static CSS", "/static/css/app.css"),
        ("register (first page)", "/commissions/"),
        ("register: search 'mentoring'", "/commissions/?q=mentoring"),
        ("register: year + status, by spent", f"/commissions/?year={open_year}&status=live&sort=spent&order=desc"),
        ("register: ending 90 days, by remaining", "/commissions/?ending=90&sort=remaining"),
        ("register: page 100", "/commissions/?page=100"),
        ("commission page (busiest)", f"/commissions/{built.busiest_commission_id}"),
        ("commission page (typical)", f"/commissions/{max(1, args.commissions // 2)}"),
        ("providers list", "/providers/"),
        ("budget page", budget_url),
        ("home page", f"/?year={open_year}"),
    ]
    counter = {"n": 0}

    def count(*_):
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    results = []
    for name, path in pages:
        if path is None:
            continue
        for _ in range(3):
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code)
        counter["n"] = 0
        client.get(path)
        queries = counter["n"]
        times = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            r = client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200
        results.append((name, path, statistics.median(times), percentile(times, 95), queries))
    event.remove(engine, "before_cursor_execute", count)

    base = results[0][2]
    css = results[1][2]
    print(f"\n{'page':42} {'median ms':>10} {'p95 ms':>8} {'× baseline':>11} {'× CSS':>7} {'queries':>8}")
    for name, _path, median, p95, queries in results:
        print(f"{name:42} {median:10.1f} {p95:8.1f} {median / base:11.1f} {median / css:7.0f} {queries:8d}")
    print(f"\n{args.requests} timed requests per page, in-process through the whole WSGI app, Python {sys.version.split()[0]}.")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
