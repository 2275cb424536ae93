"""A large import killed in the middle: after a restart no row of it is in the database and the batch is failed."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tests.imports.helpers import write_big_ledger
from tracker.extensions import db
from tracker.imports import service
from tracker.models import ImportBatch, LedgerTransaction

ROWS = 50_000
ROOT = Path(__file__).resolve().parents[2]


def _writing(database_url: str) -> bool:
    """Another connection has a write transaction open: the import is part-way through inserting its rows.

    SQLite allows one writer, so taking the write lock fails while the import holds it; PostgreSQL gives a
    transaction an id at its first write."""
    if database_url.startswith("sqlite"):
        probe = sqlite3.connect(database_url[len("sqlite:///"):], timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:  # database is locked
            return True
        finally:
            probe.close()
    db.session.rollback()
    return bool(db.session.scalar(text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL")))


@pytest.mark.slow
def test_killing_the_process_mid_import_leaves_nothing_and_the_batch_failed(app, make, database_url, tmp_path, client, auth):
    make.year("2025-26")
    db.session.commit()
    ledger = tmp_path / "ledger.csv"
    write_big_ledger(ledger, ROWS, "KILL", lambda i: f"£{(i % 900) + 100},{i % 10}00.{i % 100:02d}")
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "files"), "TRACKER_ENV": "development",
           "FLASK_APP": str(ROOT / "wsgi.py"), "IMPORT_MAX_ROWS": str(ROWS + 10),
           "IMPORT_PROGRESS_MS": "0"}  # a report every PROGRESS_EVERY rows: part-way is seen at once
    process = subprocess.Popen([sys.executable, "-m", "flask", "import", str(ledger), "--kind", "ledger", "--commit"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        batch_id = None
        while batch_id is None and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
            db.session.rollback()  # see what the other process has committed
            batch_id = db.session.scalar(select(ImportBatch.id).where(ImportBatch.status == "committing"))
        assert batch_id is not None, process.stdout.read().decode() if process.poll() is not None else "no batch"
        # Kill it once it is part-way through writing its rows: its progress (which every worker can read) says so.
        done = 0
        while done < 2_000 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
            db.session.rollback()
            done = service.progress_of(db.session.get(ImportBatch, batch_id))[0]
        assert 0 < done < ROWS, f"no progress seen before the import ended ({done})"
        # The rows counted so far are on their way: the database has them a moment later (on PostgreSQL they go
        # through a thread of their own).
        writing = False
        while not writing and time.monotonic() < deadline and process.poll() is None:
            writing = _writing(database_url)
            time.sleep(0 if writing else 0.01)
        assert process.poll() is None, "the import finished before it could be interrupted"
        assert writing, "the import never started writing its rows"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()

    db.session.rollback()
    assert db.session.scalar(select(func.count(LedgerTransaction.id))) == 0
    assert db.session.get(ImportBatch, batch_id).status == "committing"  # as the killed process left it
    # "After a restart": the next person to open the imports pages (or run the command) sees it failed.
    auth.login("finance")
    page = client.get(f"/imports/{batch_id}")
    assert page.status_code == 200 and "interrupted" in page.text
    db.session.expire_all()
    batch = db.session.get(ImportBatch, batch_id)
    assert batch.status == "failed" and batch.error == service.INTERRUPTED
    assert db.session.scalar(select(func.count(LedgerTransaction.id))) == 0


def test_a_running_import_in_this_process_is_not_taken_for_interrupted(app, make):
    batch = make.import_batch(status="committing", worker=service.this_worker())
    db.session.commit()
    service._progress[batch.id] = 10
    try:
        assert service.fail_interrupted_batches() == []
    finally:
        service._progress.pop(batch.id, None)
    assert service.fail_interrupted_batches() == [batch.id]  # same process, but no longer at work on it


def test_a_committing_batch_from_another_machine_waits_before_it_is_failed(app, make):
    from datetime import datetime, timedelta

    batch = make.import_batch(status="committing", worker="another-host:123")
    db.session.commit()
    assert service.fail_interrupted_batches() == []
    later = datetime.now() + timedelta(hours=service.STALE_AFTER_HOURS + 1)
    assert service.fail_interrupted_batches(now=later) == [batch.id]
