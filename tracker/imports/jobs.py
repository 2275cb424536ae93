"""Big imports committed by a kept job queue (RQ on Redis) instead of a thread of the web process, when
``IMPORT_QUEUE=rq``: the commit then survives the web worker that took the request being recycled.

The web request creates the batch (status committing, ``worker`` "rq:<job id>": queued) and puts a job on the
queue; ``flask worker`` runs it. The job claims the batch (a conditional UPDATE from that queued marker to its
own "host:pid") and runs ``committing.run_commit``, exactly what the in-process thread runs, so the rows land in
one transaction or not at all, and progress is kept as for the thread. Why RQ is docs/adr/import-job-queue.md.

What keeps a batch from staying "committing" for ever:
- the commit's own failures mark it failed with a sentence (``run_commit``), a timeout included;
- an exception that escapes the job (the database or the draft gone) marks it failed (``job_failed``);
- a work horse killed outright (out of memory, SIGKILL) is marked failed by the worker (``horse_killed``);
- anything else is the sweep's (``committing.fail_interrupted_batches``): a claimed batch by its process, as for
  the thread; a queued one by asking Redis whether its job still waits or runs (``queued_job_ended``).
"""
from __future__ import annotations

import functools
import os
import uuid
from contextlib import contextmanager

import click
from flask import current_app, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus, get_current_job
from sqlalchemy import update

from tracker.extensions import db
from tracker.imports.committing import QUEUED, create_batch, mark_failed, run_commit, this_worker
from tracker.imports.drafts import Draft, load_draft
from tracker.imports.problems import ImportRefused
from tracker.models import ImportBatch

QUEUES = ("thread", "rq")

QUEUE_DOWN = ("The import could not be started: the import queue cannot be reached. Nothing was imported and "
              "your upload is kept: press Import again in a few minutes; if it goes on, tell your administrator.")
DRAFT_GONE = ("The uploaded file's draft was no longer there when the import worker came to it, so nothing was "
              "saved. Upload the file again to import it.")
JOB_FAILED = ("The import job stopped before it finished ({reason}), so nothing was saved. Upload the file again "
              "to import it; if it fails again, tell your administrator.")

# Ended without taking the batch up (or finished with it): a batch still queued on such a job will never commit.
_ENDED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
# A failed job is kept this long in RQ's failed registry, for an administrator to look at (rq info).
FAILED_JOB_KEPT_SECONDS = 7 * 86_400


# --- settings -------------------------------------------------------------------------------------------------

def check_settings(config) -> None:
    """At start-up: IMPORT_QUEUE is one we know, and "rq" has a Redis to use. A RuntimeError says what to set."""
    queue = config.get("IMPORT_QUEUE") or "thread"
    if queue not in QUEUES:
        raise RuntimeError(f"IMPORT_QUEUE={queue!r} is not known: use 'thread' (the default, a thread of the web "
                           "process) or 'rq' (a job queue on Redis, run by `flask worker`).")
    if queue == "rq":
        redis_url(config)


def redis_url(config) -> str:
    """The queue's Redis: the one the sign-in throttle already shares between workers (RATELIMIT_STORAGE_URI), so
    a deployment has one Redis setting, not two that can disagree."""
    url = config.get("RATELIMIT_STORAGE_URI") or ""
    if url.startswith("redis+unix://"):  # the throttle's spelling of a socket; redis-py's is unix://
        return "unix://" + url[len("redis+unix://"):]
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise RuntimeError(f"IMPORT_QUEUE=rq keeps its jobs in Redis, the one the sign-in throttle uses, but "
                           f"RATELIMIT_STORAGE_URI is {url.split(':', 1)[0]!r} storage: set it to Redis, e.g. "
                           "RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0, for the web app and `flask worker` alike.")
    return url


@functools.lru_cache(maxsize=8)
def _web_connection(url: str) -> Redis:
    """A connection for the web side (enqueueing, asking after a job): short timeouts, so a Redis that is down
    costs a page a moment and a clear message, not a hung request. redis-py's pool is thread-safe and makes
    new connections after a fork, so one per URL is kept."""
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def queue_of(config, connection: Redis | None = None) -> Queue:
    return Queue(config["IMPORT_QUEUE_NAME"], connection=connection or _web_connection(redis_url(config)))


# --- the web side: handing the commit to the queue ------------------------------------------------------------

def enqueue_commit(draft: Draft, *, leave_out: bool, user_id: int | None) -> ImportBatch:
    """Create the batch (queued) and put its commit on the queue. When Redis cannot be reached the batch is taken
    back out and the request refused (503): the draft stays as it was, to be committed again."""
    config = current_app.config
    job_id = f"import-{uuid.uuid4().hex}"
    batch = create_batch(draft, leave_out=leave_out, user_id=user_id, worker=QUEUED + job_id)
    try:
        queue_of(config).enqueue(
            commit_import, batch.id, draft.token, leave_out, user_id, job_id=job_id,
            job_timeout=int(config["IMPORT_JOB_MINUTES"]) * 60, failure_ttl=FAILED_JOB_KEPT_SECONDS,
            on_failure=Callback(job_failed), description=f"Import {batch.id} ({batch.filename})")
    except RedisError:
        current_app.logger.exception("Import %s could not be put on the queue", batch.id)
        # Nothing of it happened (no row, no audit event): removing the batch frees the draft's claim. Were the
        # job stored after all (the reply lost), it finds no batch waiting for it and does nothing.
        db.session.rollback()
        db.session.delete(db.session.get(ImportBatch, batch.id))
        db.session.commit()
        raise ImportRefused(QUEUE_DOWN, 503) from None
    return batch


def queued_job_ended(worker: str) -> bool | None:
    """Whether the job a queued batch waits on ("rq:<job id>") has ended without taking it up: True when Redis no
    longer has the job or it failed, was stopped or cancelled; False while it waits or runs; None when Redis
    cannot be asked (the sweep then waits, as for a batch on another machine)."""
    try:
        url = redis_url(current_app.config)
        job = Job.fetch(worker[len(QUEUED):], connection=_web_connection(url))
        return job.get_status(refresh=False) in _ENDED
    except NoSuchJobError:
        return True
    except (RuntimeError, RedisError):
        return None


# --- the worker side: the job --------------------------------------------------------------------------------

@contextmanager
def _app_context():
    """The app the job runs in: the one already active (``flask worker`` gives each job a fresh one, see
    AppWorker; a test runs jobs inside its own), else one built from the environment, as for a plain
    ``rq worker``."""
    if has_app_context():
        yield
        return
    from tracker import create_app

    app = create_app()
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def commit_import(batch_id: int, draft_token: str, leave_out: bool = False, user_id: int | None = None) -> str:
    """The queued commit of one batch: claim it, then write its rows with ``run_commit`` (as the thread does).

    Runs at most once per batch whatever the queue does: only the job the batch waits on can claim it, and only
    while it waits, so a job run again (requeued, or by two workers) finds nothing to do."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("commit_import runs as a job of the import queue (`flask worker`).")
    with _app_context():
        if not claim(batch_id, QUEUED + job.id):
            return f"Import {batch_id} is not waiting for this job (already taken up, or failed); nothing done."
        draft = load_draft(draft_token)
        if draft is None:
            fail_batch(batch_id, DRAFT_GONE)
            return f"Import {batch_id} failed: its draft is gone."
        try:
            batch = run_commit(batch_id, draft, leave_out=leave_out, user_id=user_id)
        except ImportRefused as exc:  # run_commit has marked the batch failed with this sentence
            return f"Import {batch_id} failed: {exc.message}"
        return f"Import {batch_id} committed: {batch.counts.get('read', 0)} rows read."


def claim(batch_id: int, queued_as: str) -> bool:
    """Take a queued batch up: it becomes this process's (``worker`` host:pid, which the sweep checks as for the
    thread) in one conditional UPDATE, committed before any row is written. False when it is not waiting for
    this job any more."""
    taken = db.session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id, ImportBatch.status == "committing", ImportBatch.worker == queued_as)
        .values(worker=this_worker())).rowcount
    db.session.commit()
    return taken == 1


def fail_batch(batch_id: int, message: str) -> bool:
    """Mark the batch failed with ``message`` if it is still committing (a commit that finished stays as it is).
    The job has ended, so nothing else writes the batch now; the row lock covers a sweep at the same moment."""
    db.session.rollback()
    batch = db.session.get(ImportBatch, batch_id, with_for_update=True, populate_existing=True)
    if batch is None or batch.status != "committing":
        db.session.rollback()
        return False
    mark_failed(batch, message)
    db.session.commit()
    return True


def _batch_of(job: Job) -> int | None:
    if job.func_name != f"{__name__}.commit_import" or not job.args:
        return None
    return int(job.args[0])


def job_failed(job: Job, connection, exc_type, exc_value, tb) -> None:
    """RQ's failure callback: an exception escaped the job (or a worker found it abandoned)."""
    batch_id = _batch_of(job)
    if batch_id is None:
        return
    reason = (str(exc_value).splitlines() or [""])[0][:200] or exc_type.__name__
    with _app_context():
        db.session.remove()  # the job's session may be broken by what failed
        fail_batch(batch_id, JOB_FAILED.format(reason=reason))


def horse_killed(job: Job, pid: int, status: int, rusage) -> None:
    """The worker's handler for a work horse that died without Python unwinding (killed, out of memory): no
    failure callback runs then, so the worker marks the batch failed itself."""
    batch_id = _batch_of(job)
    if batch_id is None:
        return
    how = f"signal {os.WTERMSIG(status)}" if status and os.WIFSIGNALED(status) else f"exit status {status}"
    with _app_context():
        try:
            fail_batch(batch_id, JOB_FAILED.format(reason=f"the import worker's process was killed, {how}"))
        finally:
            # The worker forks its next work horse from this process, which should then hold no database
            # connection for a child to inherit.
            db.session.remove()
            db.engine.dispose()


class AppWorker(Worker):
    """RQ's forking worker, each job in an app of its own built in the work horse (create_app), so a job shares
    no database connection with the worker that forked it, nor with the job before it."""

    def perform_job(self, job, queue):
        from tracker import create_app

        app = create_app()
        with app.app_context():
            try:
                return super().perform_job(job, queue)
            finally:
                db.session.remove()
                db.engine.dispose()


# --- flask worker -----------------------------------------------------------------------------------------------

def register_cli(cli) -> None:
    """Add ``flask worker`` to the app's command group (``tracker.cli.init_app``)."""

    @cli.command("worker")
    @click.option("--burst", is_flag=True, help="Run the jobs waiting now, then stop (tests, one-off catch-up).")
    def worker_command(burst: bool):
        """Run the queued imports (IMPORT_QUEUE=rq), one at a time: start it beside gunicorn, with the same
        environment."""
        config = current_app.config
        if config.get("IMPORT_QUEUE") != "rq":
            raise click.ClickException(
                f"IMPORT_QUEUE is {config.get('IMPORT_QUEUE')!r}, so big imports commit in the web process and "
                "there is no queue to work on. Set IMPORT_QUEUE=rq (and RATELIMIT_STORAGE_URI=redis://...) for the "
                "web app and the worker alike.")
        url = redis_url(config)
        # No socket timeout here: the worker waits on the queue with a blocking read longer than any short one.
        connection = Redis.from_url(url)
        try:
            connection.ping()
        except RedisError as exc:
            # Not the URL itself: it may hold Redis's password.
            raise click.ClickException(f"Redis (RATELIMIT_STORAGE_URI) cannot be reached ({exc}); start it, or "
                                       "correct the setting.") from None
        worker = AppWorker([queue_of(config, connection)], connection=connection,
                           work_horse_killed_handler=horse_killed)
        click.echo(f"Working on queue {config['IMPORT_QUEUE_NAME']}" + (" until it is empty." if burst else "."))
        worker.work(burst=burst, logging_level="INFO")
