"""Big imports handed to the kept job queue (IMPORT_QUEUE=rq, RQ on Redis) instead of a thread of the web process
(issue 18): the setting's dispatch, a real worker committing an upload made through the pages (in this process
and as `flask worker --burst`), failures marking the batch failed, a job run twice committing once, and a Redis
that cannot be reached refusing with the draft kept.

The Redis tests use the Redis at TEST_REDIS_URL (redis://127.0.0.1:6379/13 by default), each on a queue of its
own. Without Redis they skip, saying so, except in CI (CI set, as .ci/run does), where they fail.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from sqlalchemy import func, select

from tests.imports.helpers import LEDGER, draft_of, upload, write_big_ledger
from tracker import create_app
from tracker.config import TestConfig
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.imports import committing, jobs, service
from tracker.models import AuditEvent, ImportBatch, LedgerTransaction

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
NO_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused at once
ROOT = Path(__file__).resolve().parents[2]
LEDGER_ROWS = 420  # rows of the sample ledger


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _redis_or_skip() -> None:
    try:
        Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach it means the same here
        if _in_ci():
            pytest.fail(f"CI is set and Redis is not running at {REDIS} ({exc}): .ci/run starts it, and CI must "
                        "prove the job queue.")
        pytest.skip(f"Redis is not running at {REDIS}: start it with redis-server (see .ci/run) to run the job "
                    "queue's tests")


@pytest.fixture
def queue_app(app):
    """The app with IMPORT_QUEUE=rq on a queue of this test's own (every import is big enough to be queued)."""
    _redis_or_skip()
    name = f"test-imports-{uuid.uuid4().hex[:12]}"
    app.config.update(IMPORT_QUEUE="rq", RATELIMIT_STORAGE_URI=REDIS, IMPORT_QUEUE_NAME=name,
                      IMPORT_BACKGROUND_ROWS=10)
    yield app
    _remove_queue(name)


def _remove_queue(name: str) -> None:
    connection = Redis.from_url(REDIS)
    queue = Queue(name, connection=connection)
    ids = set(queue.job_ids)
    for registry in (queue.finished_job_registry, queue.failed_job_registry, queue.started_job_registry,
                     queue.canceled_job_registry):
        ids.update(registry.get_job_ids())
    for job_id in ids:
        try:
            Job.fetch(job_id, connection=connection).delete()
        except Exception:  # noqa: BLE001 - gone already
            pass
    queue.delete(delete_jobs=True)
    for key in connection.scan_iter(f"rq:*:{name}"):
        connection.delete(key)


def _queue(app) -> Queue:
    return Queue(app.config["IMPORT_QUEUE_NAME"], connection=Redis.from_url(REDIS))


def _work_here(app) -> None:
    """A real RQ worker in this process, running the queued jobs until the queue is empty (inside the test's
    app, as jobs.commit_import allows). RQ takes SIGINT and SIGTERM while it works; they are given back after."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        SimpleWorker([_queue(app)], connection=Redis.from_url(REDIS)).work(burst=True)
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    db.session.expire_all()


@pytest.fixture
def finance(app, auth):
    seed_demo(DEMO_TODAY)
    db.session.commit()
    return auth.login("finance")


def _commit_through_pages(client) -> tuple[str, object]:
    """Upload the sample ledger, see its preview and press Import; (the draft's token, the commit's response)."""
    response = upload(client, LEDGER)
    assert response.status_code == 303, response.text
    token = response.location.split("/drafts/")[1].split("/")[0]
    preview = client.get(f"/imports/drafts/{token}")
    assert preview.status_code == 200 and "Rows to add" in preview.text
    return token, client.post(f"/imports/drafts/{token}/commit", data={"leave_out": "y"})


def _lines(batch_id: int) -> int:
    return db.session.scalar(select(func.count(LedgerTransaction.id))
                             .where(LedgerTransaction.import_batch_id == batch_id))


def _only_batch() -> ImportBatch:
    db.session.expire_all()
    batches = db.session.scalars(select(ImportBatch)).all()
    assert len(batches) == 1, [(b.id, b.status) for b in batches]
    return batches[0]


# --- the setting ----------------------------------------------------------------------------------------------

def test_the_thread_is_the_default_and_the_setting_is_checked_at_start_up(app):
    from tracker.config import Config

    if "IMPORT_QUEUE" not in os.environ:
        assert Config.IMPORT_QUEUE == "thread"
    base = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    with pytest.raises(RuntimeError, match="IMPORT_QUEUE='celery' is not known"):
        create_app({**base, "IMPORT_QUEUE": "celery"})
    with pytest.raises(RuntimeError, match="set it to Redis"):
        create_app({**base, "IMPORT_QUEUE": "rq", "RATELIMIT_STORAGE_URI": "memory://"})
    assert jobs.redis_url({"RATELIMIT_STORAGE_URI": "redis+unix:///run/redis.sock"}) == "unix:///run/redis.sock"


def test_the_thread_setting_commits_in_a_thread_of_this_process(app, make):
    seed_demo(DEMO_TODAY)
    db.session.commit()
    batch = service.commit_in_background(draft_of(LEDGER))
    assert batch.worker == service.this_worker()
    batch.thread.join(60)
    assert _only_batch().status == "committed"


def test_the_rq_setting_puts_the_commit_on_the_queue_and_starts_no_thread(queue_app):
    seed_demo(DEMO_TODAY)
    db.session.commit()
    draft = draft_of(LEDGER)
    batch = service.commit_in_background(draft, leave_out=True, user_id=None)
    assert not hasattr(batch, "thread")
    assert batch.id not in service._progress  # this process is not at work on it: the sweep asks Redis
    queue = _queue(queue_app)
    assert len(queue.job_ids) == 1
    job = queue.jobs[0]
    assert batch.worker == f"rq:{job.id}"
    assert job.func_name == "tracker.imports.jobs.commit_import"
    assert job.args == (batch.id, draft.token, True, None)
    assert job.timeout == queue_app.config["IMPORT_JOB_MINUTES"] * 60
    assert _only_batch().status == "committing"


# --- a real worker ----------------------------------------------------------------------------------------------

def test_an_upload_committed_through_the_pages_is_written_by_the_queue_worker(queue_app, client, finance):
    token, response = _commit_through_pages(client)
    assert response.status_code == 303
    batch = _only_batch()
    assert response.location == f"/imports/{batch.id}"
    assert batch.status == "committing" and batch.worker.startswith("rq:") and _lines(batch.id) == 0
    page = client.get(f"/imports/{batch.id}")  # the sweep runs first: a waiting job is not taken for dead
    assert page.status_code == 200 and "Waiting for the import worker" in page.text

    _work_here(queue_app)

    batch = _only_batch()
    assert batch.status == "committed", batch.error
    assert _lines(batch.id) == LEDGER_ROWS
    assert batch.progress == batch.total_rows == batch.counts["read"] == LEDGER_ROWS
    assert batch.worker == service.this_worker()  # the worker claimed it (here: this process)
    assert batch.draft_token == token and service.load_draft(token) is None  # committed: the draft is used up
    assert "Committed" in client.get(f"/imports/{batch.id}").text


def test_flask_worker_burst_commits_the_queued_import(queue_app, client, finance, database_url):
    """The command the README starts in production, as a process of its own with the same settings."""
    _commit_through_pages(client)
    batch = _only_batch()
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": queue_app.config["DATA_DIR"],
           "TRACKER_ENV": "development", "FLASK_APP": str(ROOT / "wsgi.py"), "IMPORT_QUEUE": "rq",
           "IMPORT_QUEUE_NAME": queue_app.config["IMPORT_QUEUE_NAME"], "RATELIMIT_STORAGE_URI": REDIS}
    run = subprocess.run([sys.executable, "-m", "flask", "worker", "--burst"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert f"Working on queue {queue_app.config['IMPORT_QUEUE_NAME']}" in output

    batch = _only_batch()
    assert batch.status == "committed", (batch.error, output)
    assert _lines(batch.id) == LEDGER_ROWS
    assert batch.progress == batch.total_rows == LEDGER_ROWS
    host, _, pid = batch.worker.rpartition(":")
    assert host == service.this_worker().rpartition(":")[0] and int(pid) != os.getpid()  # its work horse
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.object_type == "ImportBatch", AuditEvent.object_id == batch.id, AuditEvent.kind == "create")) == 1


def test_flask_worker_refuses_to_start_without_the_queue_setting(runner):
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code != 0 and "IMPORT_QUEUE is 'thread'" in result.output


# --- failures ---------------------------------------------------------------------------------------------------

def test_a_job_whose_commit_fails_marks_the_batch_failed_with_the_reason(queue_app, client, finance, monkeypatch):
    _commit_through_pages(client)

    def disk_full(rows):
        raise OSError("disk full")

    monkeypatch.setattr(committing, "insert_ledger_chunk", disk_full)
    _work_here(queue_app)

    batch = _only_batch()
    assert batch.status == "failed" and "disk full" in batch.error
    assert batch.draft_token is None  # the same upload may be committed again
    assert _lines(batch.id) == 0
    assert "disk full" in client.get(f"/imports/{batch.id}").text


def test_a_job_that_dies_outside_the_commit_marks_the_batch_failed(queue_app, client, finance, monkeypatch):
    """An exception escaping the job (here reading the draft) reaches RQ's failure callback, which fails the batch."""
    _commit_through_pages(client)

    def unreadable(token):
        raise RuntimeError("the data folder is not mounted")

    monkeypatch.setattr(jobs, "load_draft", unreadable)
    _work_here(queue_app)

    batch = _only_batch()
    assert batch.status == "failed"
    assert batch.error == jobs.JOB_FAILED.format(reason="the data folder is not mounted")
    assert _lines(batch.id) == 0
    job = _queue(queue_app).failed_job_registry.get_job_ids()
    assert len(job) == 1  # RQ keeps the failed job for an administrator to look at


def test_a_killed_work_horse_marks_the_batch_failed(queue_app, client, finance):
    """What `flask worker` does when a work horse dies without unwinding (SIGKILL, out of memory)."""
    _commit_through_pages(client)
    batch = _only_batch()
    job = _queue(queue_app).jobs[0]
    assert jobs.claim(batch.id, batch.worker)  # the horse had taken it up

    jobs.horse_killed(job, 4242, signal.SIGKILL, None)

    batch = _only_batch()
    assert batch.status == "failed" and "killed, signal 9" in batch.error and batch.draft_token is None


def test_a_job_run_twice_commits_once(queue_app, client, finance):
    _commit_through_pages(client)
    queue = _queue(queue_app)
    job_id = queue.job_ids[0]
    _work_here(queue_app)
    batch = _only_batch()
    assert batch.status == "committed" and _lines(batch.id) == LEDGER_ROWS
    committed_at = batch.committed_at

    queue.enqueue_job(Job.fetch(job_id, connection=queue.connection))  # the same job, run again
    _work_here(queue_app)

    batch = _only_batch()
    assert batch.status == "committed" and batch.committed_at == committed_at
    assert _lines(batch.id) == LEDGER_ROWS
    assert "not waiting for this job" in Job.fetch(job_id, connection=queue.connection).return_value()


def test_a_commit_stopped_by_the_time_limit_says_so(app):
    """RQ raises its timeout inside the running commit; the batch's failure says what happened and what to do."""
    from rq.timeouts import JobTimeoutException

    app.config["IMPORT_JOB_MINUTES"] = 45
    message = committing._failure_sentence(JobTimeoutException("Task exceeded maximum timeout value (2700 seconds)"))
    assert message.startswith("The import took longer than the 45 minutes an import may run (IMPORT_JOB_MINUTES)")
    assert "nothing was saved" in message


def test_only_the_job_a_batch_waits_on_can_claim_it_and_only_once(queue_app, make):
    batch = make.import_batch(status="committing", worker="rq:import-abc")
    db.session.commit()
    assert not jobs.claim(batch.id, "rq:import-other")
    assert jobs.claim(batch.id, "rq:import-abc")
    assert not jobs.claim(batch.id, "rq:import-abc")
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).worker == service.this_worker()


# --- the sweep and a queue that cannot be reached ------------------------------------------------------------

def test_the_sweep_asks_redis_about_a_queued_batch(queue_app, make):
    from datetime import datetime, timedelta

    waiting = _queue(queue_app).enqueue(jobs.commit_import, 1, "token", job_id=f"import-{uuid.uuid4().hex}")
    alive = make.import_batch(status="committing", worker=f"rq:{waiting.id}")
    lost = make.import_batch(status="committing", worker="rq:import-that-redis-never-had")
    on_a_host_called_rq = make.import_batch(status="committing", worker="rq:4242")  # a process, not a job
    db.session.commit()
    assert service.fail_interrupted_batches() == [lost.id]
    assert db.session.get(ImportBatch, lost.id).error == service.INTERRUPTED
    waiting.cancel()
    assert service.fail_interrupted_batches() == [alive.id]
    # Redis out of reach: it cannot be asked, so the batch waits as long as one on another machine would.
    queue_app.config["RATELIMIT_STORAGE_URI"] = NO_REDIS
    unknown = make.import_batch(status="committing", worker="rq:import-xyz")
    db.session.commit()
    assert service.fail_interrupted_batches() == []
    later = datetime.now() + timedelta(hours=service.STALE_AFTER_HOURS + 1)
    assert set(service.fail_interrupted_batches(now=later)) == {unknown.id, on_a_host_called_rq.id}


def test_redis_out_of_reach_refuses_the_import_and_keeps_the_draft(app, client, finance):
    app.config.update(IMPORT_QUEUE="rq", RATELIMIT_STORAGE_URI=NO_REDIS, IMPORT_BACKGROUND_ROWS=10)
    token, response = _commit_through_pages(client)
    assert response.status_code == 503
    assert jobs.QUEUE_DOWN in response.text and "There is a problem" in response.text
    db.session.expire_all()
    assert db.session.scalar(select(func.count(ImportBatch.id))) == 0
    assert service.load_draft(token) is not None
    # Nothing was claimed: once imports run again the same draft commits.
    app.config["IMPORT_QUEUE"] = "thread"
    response = client.post(f"/imports/drafts/{token}/commit", data={"leave_out": "y"})
    assert response.status_code == 303
    import threading

    for thread in threading.enumerate():
        if thread.name.startswith("import-"):
            thread.join(60)
    assert _only_batch().status == "committed"


@pytest.mark.slow
def test_killing_the_work_horse_of_a_running_flask_worker_fails_the_batch(queue_app, client, auth, make, database_url,
                                                                          tmp_path):
    """A real `flask worker` whose work horse is killed part-way through writing: nothing lands, and the worker
    itself marks the batch failed (no page needs opening)."""
    rows = 30_000
    make.year("2025-26")
    db.session.commit()
    auth.login("finance")
    ledger = tmp_path / "big-ledger.csv"
    write_big_ledger(ledger, rows, "Q")
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": queue_app.config["DATA_DIR"],
           "TRACKER_ENV": "development", "FLASK_APP": str(ROOT / "wsgi.py"), "IMPORT_QUEUE": "rq",
           "IMPORT_QUEUE_NAME": queue_app.config["IMPORT_QUEUE_NAME"], "RATELIMIT_STORAGE_URI": REDIS,
           "IMPORT_PROGRESS_MS": "0"}  # a report every PROGRESS_EVERY rows: part-way is seen at once
    worker = subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        response = upload(client, ledger)
        assert response.status_code == 303, response.text
        token = response.location.split("/drafts/")[1].split("/")[0]
        assert client.get(f"/imports/drafts/{token}").status_code == 200
        assert client.post(f"/imports/drafts/{token}/commit").status_code == 303
        batch_id = _only_batch().id

        deadline = time.monotonic() + 240
        done, horse = 0, None
        while done < 2_000 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
            db.session.rollback()  # see what the worker has committed
            batch = db.session.get(ImportBatch, batch_id)
            if batch.status != "committing":
                break
            if not batch.worker.startswith("rq:"):
                horse = int(batch.worker.rpartition(":")[2])
                done = service.progress_of(batch)[0]
        assert worker.poll() is None, worker.stdout.read()
        assert horse is not None and 0 < done < rows, f"the worker never got part-way ({done} rows)"
        os.kill(horse, signal.SIGKILL)

        status = "committing"
        while status == "committing" and time.monotonic() < deadline:
            time.sleep(0.05)
            db.session.rollback()
            status = db.session.get(ImportBatch, batch_id).status
    finally:
        worker.terminate()  # RQ's warm shut-down
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
        output = worker.stdout.read()
        worker.stdout.close()
    batch = _only_batch()
    assert batch.status == "failed", output
    assert "killed, signal 9" in batch.error and batch.draft_token is None
    assert _lines(batch.id) == 0


def test_the_sweep_leaves_a_batch_its_job_committed_while_redis_was_asked(app, make, monkeypatch):
    """The job claims and commits the batch between the sweep's look at the batches and its question to Redis
    (which then says the job has finished): the sweep looks again and leaves the committed import alone."""
    from sqlalchemy import update

    batch = make.import_batch(status="committing", worker="rq:import-quick")
    db.session.commit()
    batch_id = batch.id

    def finished_meanwhile(worker):
        with db.engine.begin() as other:  # the worker's own connection
            other.execute(update(ImportBatch).where(ImportBatch.id == batch_id)
                          .values(status="committed", worker="elsewhere:1"))
        return True

    monkeypatch.setattr(jobs, "queued_job_ended", finished_meanwhile)
    assert service.fail_interrupted_batches() == []
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch_id).status == "committed"
