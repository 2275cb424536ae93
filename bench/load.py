"""Load test: the app under gunicorn (2 workers) on SQLite, then PostgreSQL, with 20 concurrent clients for 60 s.

    .venv/bin/python -m bench.load                              # both databases, 60 s each
    .venv/bin/python -m bench.load --seconds 10 --only sqlite   # a quick try

For each database it builds the large data set of bench/dataset.py (5,000 commissions, 500 providers, 100,000
ledger lines) after `flask db upgrade`, adds the demo users with known passwords, serves the app with
`gunicorn -w 2` on a free port of 127.0.0.1 (production settings, a random SECRET_KEY, plain http), and runs
the clients: each signs in once, then sends a mix of page views (home, register with filters, a commission,
the budget, deadlines), HTMX searches of the register, quick changes of a commission's status or end date
from the register (managers; a 409 "someone else changed it" is an expected answer, counted apart) and, from
a few finance clients, a small ledger CSV imported through the upload, mapping, preview and commit pages;
every second of those imports is a "double submit": the commit is sent twice at once (a double click, two
tabs), and both answers must lead to the same import, which must be committed once. One more client signs in
as a viewer, copies its session cookie into a second browser, signs out, and checks that the copy no longer
works ("copied cookie after sign-out"). One more, the racer, signs in as finance in three browsers and, every
couple of seconds, double-posts "Record a match contribution" (the same form sent twice at once, as a double
click does: a second row is a doubled write) and races the same transition from all three at once (issuing one
month's spend file: one may win, the others must be told 409, never a 5xx or a second version; an issued file
no version keeps is an orphan). The sign-in throttle's counts are shared through Redis
(RATELIMIT_STORAGE_URI, default redis://127.0.0.1:6379/13, or BENCH_REDIS).

It prints requests per second, median and 99th-percentile latency, the count by status and the errors, which
must be zero: no 5xx, no unexpected status, no connection error, no "database is locked" or traceback in
gunicorn's log. Then it checks the data: every quick change that got a success is in the database exactly once
(each success moved the commission's version by one, the final status and end date are those of the last
successful change, one audit record each), every committed import's rows are present exactly once, every
double-posted contribution is one row, and every raced transition happened once at most, as its winners say.
Exits 1 if anything fails. Traffic goes to 127.0.0.1 only; gunicorn is always stopped at the end.

The PostgreSQL database named by --postgres is EMPTIED FIRST (its public schema is dropped and recreated).
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORDS = {"manager": "load-test-manager-password", "finance": "load-test-finance-password",
             "viewer": "load-test-viewer-password"}
OPEN_YEAR = "2025-26"  # bench.dataset: 2024-25 closed, 2025-26 open, 2026-27 draft
IMPORT_EVERY = 5.0  # seconds between a finance client's small imports
EDIT_POOL = 40  # commissions the managers change: few enough that they collide (409s) now and then
SEARCH_WORDS = ("mentoring", "medway", "youth", "family", "sports", "thanet", "night", "schools", "trauma", "a&e",
                "VRU-25", "custody", "dover", "bystander", "xyzzy")
LOCKED = re.compile(r"database is locked|Traceback|WORKER TIMEOUT|Internal Server Error|OperationalError", re.I)


# --- the log of what was sent and the data check ------------------------------------------------------------

@dataclass
class Edit:
    """One quick change: the commission, the field and value sent, the version it was based on, the answer."""
    commission_id: int
    field: str  # "status" or "end_date"
    value: str  # the status, or the end date as ISO
    from_version: int
    status: int  # HTTP status; 200 saved, 409 conflict


@dataclass
class Import:
    references: list[str]
    committed: bool
    filename: str = ""
    double: bool = False  # committed by two requests at once


@dataclass
class DoublePost:
    """One create form sent twice at once: its unique partner name and the two answers."""
    partner: str
    statuses: tuple[int, ...]


@dataclass
class Race:
    """One transition pressed by several people at once: which (a month's spend file) and every answer."""
    kind: str
    period: str
    statuses: tuple[int, ...]


@dataclass
class Stored:
    """A commission as the database has it after the run."""
    version: int
    status: str
    end_date: str
    audit_changes: int


def check_data(initial_versions: dict[int, int], edits: list[Edit], stored: dict[int, Stored],
               imports: list[Import], reference_counts: dict[str, int],
               batch_counts: dict[str, int] | None = None) -> list[str]:
    """Problems with the data after the run: lost or doubled writes. Empty when all is well.

    A success based on version v made version v + 1 (the version check refuses anything else), so for each
    commission the successes must be based on distinct versions, the stored version must be the first plus the
    number of successes, and the stored status and end date those of the success based on the highest version.
    """
    problems = []
    by_commission: dict[int, list[Edit]] = defaultdict(list)
    for e in edits:
        if e.status == 200:
            by_commission[e.commission_id].append(e)
    for cid, first in initial_versions.items():
        saved = by_commission.get(cid, [])
        s = stored.get(cid)
        if s is None:
            problems.append(f"commission {cid} is missing after the run")
            continue
        versions = Counter(e.from_version for e in saved)
        doubled = [v for v, n in versions.items() if n > 1]
        if doubled:
            problems.append(f"commission {cid}: {len(doubled)} version(s) saved over twice (a lost update): {doubled[:5]}")
        if s.version != first + len(saved):
            problems.append(f"commission {cid}: version {s.version} after {len(saved)} successful changes from "
                            f"version {first} (expected {first + len(saved)})")
        if s.audit_changes != len(saved):
            problems.append(f"commission {cid}: {s.audit_changes} audit records for {len(saved)} successful changes")
        for fld in ("status", "end_date"):
            ours = [e for e in saved if e.field == fld]
            if ours:
                last = max(ours, key=lambda e: e.from_version)
                if getattr(s, fld) != last.value:
                    problems.append(f"commission {cid}: {fld} is {getattr(s, fld)}, but the last successful change "
                                    f"(from version {last.from_version}) set {last.value}")
    for imp in imports:
        if batch_counts is not None and imp.filename:
            n = batch_counts.get(imp.filename, 0)
            if not (n == 1 if imp.committed else n <= 1):
                problems.append(f"import {imp.filename}{' (double submit)' if imp.double else ''} was committed "
                                f"{n} times (expected {'once' if imp.committed else 'at most once'})")
        for ref in imp.references:
            n = reference_counts.get(ref, 0)
            if imp.committed and n != 1:
                problems.append(f"committed import row {ref} is present {n} times (expected once)")
            elif not imp.committed and n != 0:
                problems.append(f"row {ref} of an import that was not committed is present {n} times")
    return problems


def check_races(doubles: list[DoublePost], races: list[Race], rows_by_partner: dict[str, int],
                versions_by_file: dict[tuple[str, str], int], orphan_files: int) -> tuple[dict[str, int], list[str]]:
    """The double-post and race clients' counts (doubled rows, lost updates, 5xx, orphans) and their problems.

    A double post must leave one row (an answer of 303 to both is right: the second is sent to the first's
    record). A race must end with as many versions as winners (303s), at most one, every loser a 409; a 5xx, a
    second winner or a version nobody was told of is a lost update (a second transition)."""
    problems: list[str] = []
    counts = Counter()
    for d in doubles:
        counts["double posts"] += 1
        counts["5xx"] += sum(1 for st in d.statuses if st >= 500)
        n = rows_by_partner.get(d.partner, 0)
        if n > 1:
            counts["doubled rows"] += n - 1
            problems.append(f"double-posted contribution {d.partner} made {n} rows (answers {list(d.statuses)})")
        elif n == 0 and any(st in (302, 303) for st in d.statuses):
            problems.append(f"double-posted contribution {d.partner} was answered {list(d.statuses)} but is missing")
    for r in races:
        counts["races"] += 1
        counts["5xx"] += sum(1 for st in r.statuses if st >= 500)
        won = sum(1 for st in r.statuses if st in (302, 303))
        made = versions_by_file.get((r.kind, r.period), 0)
        if max(made, won) > 1 or made != won:
            counts["lost updates"] += max(0, max(made, won) - 1)
            problems.append(f"race on {r.kind} {r.period}: {won} winner(s), {made} version(s) issued "
                            f"(answers {list(r.statuses)})")
        odd = [st for st in r.statuses if st not in (302, 303, 409)]
        if odd:
            problems.append(f"race on {r.kind} {r.period}: answers {odd} (expected one 303 and 409s)")
    counts["orphan files"] = orphan_files
    if orphan_files:
        problems.append(f"{orphan_files} issued file(s) that no record keeps")
    for key in ("double posts", "doubled rows", "races", "lost updates", "5xx"):
        counts.setdefault(key, 0)
    return dict(counts), problems


# --- preparing a database ------------------------------------------------------------------------------------

def _env(url: str, secret: str, data_dir: str) -> dict:
    env = dict(os.environ)
    env.update({"DATABASE_URL": url, "SECRET_KEY": secret, "TRACKER_ENV": "production", "DATA_DIR": data_dir,
                "SESSION_COOKIE_SECURE": "false", "FLASK_APP": "wsgi:app", "PYTHONUNBUFFERED": "1",
                # Several workers must share the sign-in throttle's counts (the app refuses memory:// then).
                "RATELIMIT_STORAGE_URI": os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13"),
                "RATELIMIT_KEY_PREFIX": f"bench-{secret[:12]}"})
    return env


def prepare(url: str, env: dict, args) -> tuple[list[int], dict[int, int], int]:
    """Empty the database, migrate it, load the data set and the users; return the edit pool and its versions."""
    from sqlalchemy import create_engine, select, text

    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    subprocess.run([str(VENV_BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    from bench.dataset import build
    from tracker import create_app
    from tracker.auth.passwords import hash_password
    from tracker.demo import seed_users
    from tracker.extensions import db
    from tracker.models import Commission, FundingYear, User

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": env["SECRET_KEY"], "DATA_DIR": env["DATA_DIR"]})
    with app.app_context():
        built = build(args.commissions, args.providers, args.ledger)
        seed_users()
        for user in db.session.scalars(select(User)):
            user.password_hash = hash_password(PASSWORDS.get(user.role, secrets.token_hex(16)))
        db.session.commit()
        year_id = db.session.scalar(select(FundingYear.id).where(FundingYear.label == OPEN_YEAR))
        pool = db.session.execute(select(Commission.id, Commission.version).where(Commission.funding_year_id == year_id)
                                  .order_by(Commission.id).limit(EDIT_POOL)).all()
        db.engine.dispose()
    print(f"  data set: {built.commissions:,} commissions, {built.providers:,} providers, {built.ledger_lines:,} "
          f"ledger lines (built in {built.seconds:.1f} s)", flush=True)
    return [cid for cid, _ in pool], {cid: v for cid, v in pool}, year_id


def read_back_races(url: str, env: dict, partners: list[str]) -> tuple[dict[str, int], dict[tuple[str, str], int], int]:
    """Rows per double-posted partner, versions per raced file, and issued files no version keeps."""
    from sqlalchemy import func, select

    from tracker import create_app
    from tracker.extensions import db
    from tracker.models import MatchContribution, Publication

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": env["SECRET_KEY"], "DATA_DIR": env["DATA_DIR"]})
    with app.app_context():
        rows = dict(db.session.execute(select(MatchContribution.partner, func.count())
                                       .where(MatchContribution.partner.in_(partners or [""]))
                                       .group_by(MatchContribution.partner)).all())
        versions = {(k, p): n for k, p, n in db.session.execute(
            select(Publication.kind, Publication.period, func.count()).group_by(Publication.kind, Publication.period))}
        kept = {p.rsplit("/", 1)[-1] for p in db.session.scalars(select(Publication.stored_path))}
        db.engine.dispose()
    folder = Path(env["DATA_DIR"]) / "publications"
    on_disk = {n for n in os.listdir(folder) if not n.startswith(".")} if folder.is_dir() else set()
    return rows, versions, len(on_disk - kept)


def read_back(url: str, env: dict, pool: list[int], refs: list[str]
              ) -> tuple[dict[int, Stored], dict[str, int], dict[str, int]]:
    from sqlalchemy import func, select

    from tracker import create_app
    from tracker.extensions import db
    from tracker.models import AuditEvent, Commission, ImportBatch, LedgerTransaction

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": env["SECRET_KEY"], "DATA_DIR": env["DATA_DIR"]})
    with app.app_context():
        audits = dict(db.session.execute(
            select(AuditEvent.object_id, func.count()).where(AuditEvent.object_type == "Commission",
                                                              AuditEvent.realm == "commissions",
                                                              AuditEvent.kind == "change",
                                                              AuditEvent.object_id.in_(pool))
            .group_by(AuditEvent.object_id)).all())
        stored = {c.id: Stored(c.version, c.status, c.end_date.isoformat(), audits.get(c.id, 0))
                  for c in db.session.scalars(select(Commission).where(Commission.id.in_(pool)))}
        counts: dict[str, int] = {}
        for i in range(0, len(refs), 500):
            chunk = refs[i:i + 500]
            counts.update(db.session.execute(select(LedgerTransaction.reference, func.count())
                                             .where(LedgerTransaction.reference.in_(chunk))
                                             .group_by(LedgerTransaction.reference)).all())
        batches = dict(db.session.execute(select(ImportBatch.filename, func.count())
                                          .where(ImportBatch.status == "committed", ImportBatch.kind == "ledger")
                                          .group_by(ImportBatch.filename)).all())
        db.engine.dispose()
    return stored, counts, batches


# --- the clients ---------------------------------------------------------------------------------------------

@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    samples: list[tuple[str, int, float]] = field(default_factory=list)  # (kind, status or 0, seconds)
    errors: list[str] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    doubles: list[DoublePost] = field(default_factory=list)
    races: list[Race] = field(default_factory=list)
    cookie_rounds: int = 0

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


class Client:
    """One person in a browser: a session of their own, signed in once."""

    def __init__(self, n: int, base: str, role: str, results: Results, deadline: float, pool: list[int],
                 n_commissions: int, end_dates, label: str):
        self.n, self.base, self.role, self.results, self.deadline = n, base, role, results, deadline
        self.pool, self.n_commissions, self.end_dates, self.label = pool, n_commissions, end_dates, label
        self.rng = random.Random(n)
        self.http = requests.Session()
        self.http.trust_env = False  # no proxies: 127.0.0.1 only
        self.csrf = ""
        self.imports_done = 0
        self.next_import = time.monotonic() + self.rng.uniform(0, IMPORT_EVERY)

    def request(self, kind: str, method: str, path: str, expect: tuple[int, ...], **kwargs):
        """Send one request, time it and record it; an unexpected answer or no answer is an error."""
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=60, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            self.results.error(f"{kind} {method} {path}: {type(exc).__name__}: {exc}")
            with self.results.lock:
                self.results.samples.append((kind, 0, time.perf_counter() - started))
            return None
        elapsed = time.perf_counter() - started
        with self.results.lock:
            self.results.samples.append((kind, response.status_code, elapsed))
        if response.status_code not in expect:
            self.results.error(f"{kind} {method} {path}: status {response.status_code} "
                               f"{response.text[:200].strip()!r}")
            return None
        return response

    def hx(self) -> dict:
        return {"HX-Request": "true", "X-CSRFToken": self.csrf}

    def sign_in(self) -> bool:
        page = self.request("sign-in", "GET", "/sign-in", (200,))
        if page is None:
            return False
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        response = self.request("sign-in", "POST", "/sign-in", (302, 303), data={
            "email": f"{self.role}@vru.example", "password": PASSWORDS[self.role],
            "csrf_token": token.group(1) if token else ""})
        if response is None:
            return False
        home = self.request("page: home", "GET", "/", (200,))
        token = re.search(r'"X-CSRFToken": "([^"]+)"', home.text) if home is not None else None
        if token is None:
            self.results.error(f"client {self.n}: no CSRF token in the home page's hx-headers")
            return False
        self.csrf = token.group(1)
        return True

    def run(self) -> None:
        if self.role == "viewer":
            return self.copied_cookie_after_sign_out()
        if not self.sign_in():
            return
        while time.monotonic() < self.deadline:
            roll = self.rng.random()
            if self.role == "finance" and time.monotonic() >= self.next_import:
                self.next_import = time.monotonic() + IMPORT_EVERY
                self.small_import()
            elif roll < 0.5:
                self.page_view()
            elif roll < 0.75 or self.role != "manager":
                self.search()
            else:
                self.quick_change()

    def page_view(self) -> None:
        pages = (
            ("page: home", f"/?year={OPEN_YEAR}"),
            ("page: register filtered", f"/commissions/?year={OPEN_YEAR}&status=live&sort=spent&order=desc"),
            ("page: register filtered", "/commissions/?ending=90&sort=remaining"),
            ("page: commission", f"/commissions/{self.rng.randrange(1, self.n_commissions + 1)}"),
            ("page: budget", f"/funding/budget?year={OPEN_YEAR}"),
            ("page: deadlines", "/milestones/"),
        )
        kind, path = self.rng.choice(pages)
        self.request(kind, "GET", path, (200,))

    def search(self) -> None:
        word = self.rng.choice(SEARCH_WORDS)
        self.request("htmx: register search", "GET", "/commissions/", (200,), params={"q": word},
                     headers={"HX-Request": "true"})

    def quick_change(self) -> None:
        """Read the commission, then change its status or end date from the register row, as a manager does."""
        cid = self.rng.choice(self.pool)
        page = self.request("page: commission", "GET", f"/commissions/{cid}", (200,))
        if page is None:
            return
        version = re.search(r'name="version" value="(\d+)"', page.text)
        if version is None:
            self.results.error(f"commission {cid}: no version on its page")
            return
        version = int(version.group(1))
        if self.rng.random() < 0.5:
            current = re.search(r'<dt>Status</dt><dd><span class="tag tag--status-([a-z-]+)"', page.text)
            if current is None:
                self.results.error(f"commission {cid}: no status on its page")
                return
            from tracker.models.commissions import COMMISSION_STATUSES

            # A different status, so that a success is a real change (the same one saves nothing).
            choices = [s for s in COMMISSION_STATUSES if s != current.group(1).replace("-", " ")]
            fld, value = "status", self.rng.choice(choices)
            data = {"status": value}
        else:
            # Every end date sent is different, and later than any in the data set (bench.dataset ends by 2029),
            # so each success is a real change that leaves its own mark (the same date again saves nothing).
            end = date(2031, 1, 1) + timedelta(days=next(self.end_dates))
            fld, value = "end_date", end.isoformat()
            data = {"end_date": end.strftime("%d/%m/%Y")}
        data.update(version=str(version), next="/commissions/")
        url = f"/commissions/{cid}/{'status' if fld == 'status' else 'end-date'}"
        started = time.perf_counter()
        try:
            response = self.http.post(self.base + url, data=data, headers=self.hx(), timeout=60, allow_redirects=False)
        except requests.RequestException as exc:
            self.results.error(f"edit POST {url}: {type(exc).__name__}: {exc}")
            with self.results.lock:
                self.results.samples.append(("htmx: quick change", 0, time.perf_counter() - started))
            return
        with self.results.lock:
            self.results.samples.append(("htmx: quick change", response.status_code, time.perf_counter() - started))
            self.results.edits.append(Edit(cid, fld, value, version, response.status_code))
        if response.status_code not in (200, 409):
            self.results.error(f"edit POST {url}: status {response.status_code} {response.text[:200].strip()!r}")

    def small_import(self) -> None:
        """Upload a 5-row ledger CSV with new references, keep the mapping, look at the preview, commit."""
        self.imports_done += 1
        refs = [f"LOAD-{self.label}-{self.n:02d}-{self.imports_done:03d}-{r}" for r in range(5)]
        lines = ["Transaction Ref,Posting Date,Supplier ID,Supplier Name,PO No,Narrative,Net"]
        for r, ref in enumerate(refs):
            day = date(2025, 4, 1) + timedelta(days=self.rng.randrange(0, 300))
            lines.append(f"{ref},{day:%d/%m/%Y},SUP{self.rng.randrange(1, 501):05d},Load test supplier {r},"
                         f",Load test row,{self.rng.randrange(100, 99999)}.{self.rng.randrange(0, 100):02d}")
        body = ("\n".join(lines) + "\n").encode()
        filename = f"ledger-{refs[0]}.csv"
        record = Import(refs, committed=False, filename=filename, double=self.imports_done % 2 == 0)
        with self.results.lock:
            self.results.imports.append(record)
        response = self.request("import: upload", "POST", "/imports/upload", (303,),
                                files={"file": (filename, body, "text/csv")},
                                data={"kind": "ledger", "year": "", "sheet": "", "csrf_token": self.csrf})
        if response is None:
            return
        mapping = response.headers["Location"]
        page = self.request("import: mapping", "GET", mapping, (200,))
        if page is None:
            return
        chosen = {}
        for name, options in re.findall(r'<select class="input" name="(field-\w+)"[^>]*>(.*?)</select>', page.text, re.S):
            hit = re.search(r'<option value="(\d+)" selected', options)
            chosen[name] = hit.group(1) if hit else ""
        chosen["csrf_token"] = self.csrf
        response = self.request("import: mapping", "POST", mapping, (303,), data=chosen)
        if response is None:
            return
        preview = response.headers["Location"]
        page = self.request("import: preview", "GET", preview, (200,))
        if page is None:
            return
        if "Rows to add" not in page.text:
            self.results.error(f"import preview {preview}: no 'Rows to add'")
            return
        if record.double:
            response = self.double_commit(preview + "/commit")
        else:
            response = self.request("import: commit", "POST", preview + "/commit", (303,),
                                    data={"csrf_token": self.csrf})
        if response is None:
            return
        if re.search(r"/imports/\d+$", response.headers["Location"]):
            record.committed = True
        else:
            self.results.error(f"import commit went to {response.headers['Location']}")


    def double_commit(self, url: str):
        """Two commits of one draft at the same moment, from two tabs of this browser: both must answer 303
        to the same import (the second is sent to the first one's result)."""
        twin = requests.Session()
        twin.trust_env = False
        twin.cookies.update(self.http.cookies)
        start = threading.Barrier(2)
        answers: list = [None, None]

        def press(i, session):
            start.wait()
            began = time.perf_counter()
            try:
                answers[i] = session.post(self.base + url, data={"csrf_token": self.csrf}, timeout=60,
                                          allow_redirects=False)
            except requests.RequestException as exc:
                self.results.error(f"double submit POST {url}: {type(exc).__name__}: {exc}")
            with self.results.lock:
                self.results.samples.append(("import: double submit", answers[i].status_code if answers[i] else 0,
                                             time.perf_counter() - began))

        threads = [threading.Thread(target=press, args=(i, s)) for i, s in enumerate((self.http, twin))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        if any(a is None for a in answers):
            return None
        if [a.status_code for a in answers] != [303, 303]:
            self.results.error(f"double submit {url}: statuses {[a.status_code for a in answers]}")
            return None
        if answers[0].headers["Location"] != answers[1].headers["Location"]:
            self.results.error(f"double submit {url}: the two answers lead to different places "
                               f"({answers[0].headers['Location']}, {answers[1].headers['Location']})")
            return None
        return answers[0]

    def copied_cookie_after_sign_out(self) -> None:
        """Sign in, copy the session cookie to a second browser, sign out: the copy must stop working."""
        rounds = 0
        while time.monotonic() < self.deadline:
            self.http = requests.Session()
            self.http.trust_env = False
            if not self.sign_in():
                return
            copy = requests.Session()
            copy.trust_env = False
            copy.cookies.update(self.http.cookies)
            before = self.request("cookie: copy before sign-out", "GET", "/", (200,))
            if before is None:
                return
            self.http, original = copy, self.http
            works = self.request("cookie: copy before sign-out", "GET", "/", (200,))
            self.http = original
            if works is None:
                return
            if self.request("cookie: sign out", "POST", "/sign-out", (302, 303), data={"csrf_token": self.csrf}) is None:
                return
            self.http, original = copy, self.http
            after = self.request("cookie: copy after sign-out", "GET", "/", (302, 303, 401))
            self.http = original
            if after is not None and "/sign-in" not in after.headers.get("Location", ""):
                self.results.error(f"copied cookie after sign-out went to {after.headers.get('Location')!r}, "
                                   "not the sign-in page")
            rounds += 1
        with self.results.lock:
            self.results.cookie_rounds += rounds


class Racer(Client):
    """Finance in three browsers at once: double-posts a create form and races one transition, over and over."""

    BROWSERS = 3
    EVERY = 2.0  # seconds between rounds

    def __init__(self, *args, year_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.year_id = year_id
        # Months whose spend file each round issues, one month a round (every one of them is in the past).
        self.months = [f"{y}-{m:02d}" for y, m in itertools.product((2024, 2025), range(1, 13))]

    def browsers(self) -> list[requests.Session] | None:
        others = []
        for _ in range(self.BROWSERS - 1):
            twin = Client(self.n, self.base, "finance", self.results, self.deadline, self.pool, self.n_commissions,
                          self.end_dates, self.label)
            if not twin.sign_in():
                return None
            others.append((twin.http, twin.csrf))
        return [(self.http, self.csrf), *others]

    def run(self) -> None:
        if not self.sign_in():
            return
        sessions = self.browsers()
        if sessions is None:
            return
        rounds = itertools.count()
        while time.monotonic() < self.deadline:
            k = next(rounds)
            self.double_post(sessions[0], f"Bench partner {self.label}-{k}")
            if self.months:
                self.race(sessions, "spend-monthly", self.months.pop(0))
            time.sleep(self.EVERY)

    def at_once(self, kind: str, sends) -> list[int]:
        """Run each of ``sends`` (a function sending one request) at the same moment; their statuses."""
        start = threading.Barrier(len(sends))
        answers: list[int] = [0] * len(sends)

        def press(i):
            start.wait()
            began = time.perf_counter()
            try:
                answers[i] = sends[i]().status_code
            except requests.RequestException as exc:
                self.results.error(f"{kind}: {type(exc).__name__}: {exc}")
            with self.results.lock:
                self.results.samples.append((kind, answers[i], time.perf_counter() - began))

        threads = [threading.Thread(target=press, args=(i,)) for i in range(len(sends))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        return answers

    def double_post(self, browser, partner: str) -> None:
        """The match contribution form, filled in once and sent twice at once (a double click)."""
        http, csrf = browser
        path = f"/funding/years/{self.year_id}/match/new"
        page = self.request("page: match contribution form", "GET", path, (200,))
        if page is None:
            return
        data = {}
        for tag in re.findall(r"<input[^>]*>", page.text):  # the form's hidden fields (its token, if it has one)
            name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
            if 'type="hidden"' in tag and name:
                data[name.group(1)] = value.group(1) if value else ""
        stream = re.search(r'<select[^>]*name="funding_stream_id"[^>]*>.*?<option value="(\d+)"', page.text, re.S)
        if stream is None:
            self.results.error(f"{path}: no funding stream to choose")
            return
        data.update(csrf_token=data.get("csrf_token") or csrf, funding_stream_id=stream.group(1), partner=partner,
                    kind="cash", pledged="100.00", evidenced="", document_id="0", note="")
        statuses = self.at_once("race: double post", [lambda: http.post(self.base + path, data=data, timeout=60,
                                                                         allow_redirects=False)] * 2)
        with self.results.lock:
            self.results.doubles.append(DoublePost(partner, tuple(statuses)))

    def race(self, sessions, kind: str, period: str) -> None:
        """Everyone presses Issue on the same file, each having seen no version issued."""
        path = f"/publications/{kind}/issue"

        def send(http, csrf):
            return lambda: http.post(self.base + path, data={"period": period, "latest": "0", "csrf_token": csrf},
                                     timeout=60, allow_redirects=False)

        statuses = self.at_once("race: issue a file", [send(h, c) for h, c in sessions])
        with self.results.lock:
            self.results.races.append(Race(kind, period, tuple(statuses)))


# --- serving and the run -------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn stopped with code {server.returncode}")
        try:
            if requests.get(base + "/sign-in", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer within a minute")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def run_one(name: str, url: str, args) -> bool:
    print(f"\n== {name}: {url.split('@')[-1] if '@' in url else url}", flush=True)
    workdir = tempfile.TemporaryDirectory(prefix="vru-load-")
    secret = secrets.token_hex(32)
    env = _env(url, secret, os.path.join(workdir.name, "files"))
    pool, initial, year_id = prepare(url, env, args)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(workdir.name) / "gunicorn.log"
    results = Results()
    elapsed = 0.0
    with open(log_path, "wb") as log:
        server = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-w", str(args.workers),
                                   "-b", f"127.0.0.1:{port}", "--timeout", "120", "wsgi:app"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until_up(base, server)
            n_finance = max(1, min(3, args.clients // 6))
            end_dates = itertools.count()
            started = time.monotonic()
            deadline = started + args.seconds
            clients = [Client(i, base, "finance" if i < n_finance else "manager", results, deadline, pool,
                              args.commissions, end_dates, f"{name[:2].upper()}{os.getpid()}")
                       for i in range(args.clients)]
            clients.append(Client(args.clients, base, "viewer", results, deadline, pool, args.commissions, end_dates,
                                  f"{name[:2].upper()}{os.getpid()}"))
            clients.append(Racer(args.clients + 1, base, "finance", results, deadline, pool, args.commissions,
                                 end_dates, f"{name[:2].upper()}{os.getpid()}", year_id=year_id))
            threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=max(1, deadline - time.monotonic()) + 120)
            elapsed = time.monotonic() - started
            if any(t.is_alive() for t in threads):
                results.error("some clients were still waiting two minutes after the end")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    log_text = log_path.read_text(errors="replace")
    log_problems = [line for line in log_text.splitlines() if LOCKED.search(line)]

    # Figures.
    samples = results.samples
    times = [s for _, _, s in samples]
    statuses = Counter(st for _, st, _ in samples)
    conflicts = sum(1 for e in results.edits if e.status == 409)
    saved = sum(1 for e in results.edits if e.status == 200)
    committed = sum(1 for i in results.imports if i.committed)
    doubles = sum(1 for i in results.imports if i.committed and i.double)
    print(f"  {args.clients} clients, {args.seconds} s, gunicorn -w {args.workers}: {len(samples):,} requests in "
          f"{elapsed:.1f} s = {len(samples) / elapsed:.1f} requests/s")
    if times:
        print(f"  latency: median {statistics.median(times) * 1000:.0f} ms, 99th percentile "
              f"{percentile(times, 99) * 1000:.0f} ms")
    print("  by status: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items())))
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, _, s in samples:
        by_kind[kind].append(s)
    for kind in sorted(by_kind):
        v = by_kind[kind]
        print(f"    {kind:28} {len(v):6,}  median {statistics.median(v) * 1000:6.0f} ms  p99 "
              f"{percentile(v, 99) * 1000:6.0f} ms")
    print(f"  quick changes: {saved:,} saved, {conflicts:,} refused as conflicts (409, expected); imports committed: "
          f"{committed} ({doubles} of them double submits); copied cookie refused after sign-out: "
          f"{results.cookie_rounds} times")

    # Data check.
    refs = [r for i in results.imports for r in i.references]
    stored, counts, batches = read_back(url, env, pool, refs)
    problems = check_data(initial, results.edits, stored, results.imports, counts, batches)
    rows, versions, orphans = read_back_races(url, env, [d.partner for d in results.doubles])
    raced, race_problems = check_races(results.doubles, results.races, rows, versions, orphans)
    problems += race_problems
    print(f"  double posts: {raced['double posts']}, doubled rows: {raced['doubled rows']}; transition races: "
          f"{raced['races']}, lost updates: {raced['lost updates']}, 5xx: {raced['5xx']}; orphan files: "
          f"{raced['orphan files']}")
    errors = results.errors + [f"gunicorn log: {line}" for line in log_problems]
    print(f"  errors: {len(errors)} (5xx: {sum(v for k, v in statuses.items() if k >= 500)}, no answer: "
          f"{statuses.get(0, 0)}, log lines: {len(log_problems)})")
    for e in errors[:20]:
        print(f"    {e}")
    print(f"  data check: {'no lost or doubled write' if not problems else f'{len(problems)} problems'} "
          f"({len(pool)} commissions, {len(refs)} import rows)")
    for p in problems[:20]:
        print(f"    {p}")
    if errors or problems:
        keep = Path(tempfile.gettempdir()) / f"vru-load-{name.lower()}-gunicorn.log"
        keep.write_text(log_text)
        print(f"  gunicorn log copied to {keep}")
    workdir.cleanup()
    return not errors and not problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="WARNING: the PostgreSQL database "
                                     "given by --postgres is emptied first (its public schema is dropped).")
    parser.add_argument("--seconds", type=int, default=60, help="how long the clients send requests (default 60)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help=f"PostgreSQL URL, EMPTIED FIRST: every table is dropped (default {DEFAULT_POSTGRES})")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="run on one database only")
    parser.add_argument("--commissions", type=int, default=5000)
    parser.add_argument("--providers", type=int, default=500)
    parser.add_argument("--ledger", type=int, default=100_000)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 3600 or not 1 <= args.clients <= 200:
        parser.error("--seconds must be 1-3600 and --clients 1-200")
    sys.path.insert(0, str(ROOT))
    ok = True
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory(prefix="vru-load-db-") as tmp:
            ok &= run_one("SQLite", f"sqlite:///{tmp}/load.db", args)
    if args.only in (None, "postgres"):
        ok &= run_one("PostgreSQL", args.postgres, args)
    print("\nPASS: no errors, no lost or doubled write" if ok else "\nFAIL: see the errors above")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
