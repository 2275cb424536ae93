"""Committing a draft: the batch, every row in ONE transaction (reusing the preview's checked rows when nothing
changed), the claim that commits a draft once, where a big commit runs (a thread, or the job queue of jobs.py),
progress where every worker sees it, and batches left behind by a process (or a queued job) that stopped."""
from __future__ import annotations

import os
import socket
import threading
import time
from datetime import datetime
from typing import Callable

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from tracker import audit, files, transitions
from tracker.commissions.service import create_commission, create_provider, provider_key, record_status_change
from tracker.commissions.shares import SHARE_FIELDS, default_shares, set_shares
from tracker.extensions import db
from tracker.imports import checked
from tracker.imports.analysis import ADD, CHANGED, ERROR, UNCHANGED, Pass, Row, analyse, preview
from tracker.imports.drafts import (
    FOLDER, REALM, Draft, _already_imported, _dump, _rows_path, batch_of_draft, discard_draft, earlier_batch,
    remember_mapping,
)
from tracker.imports.headers import KIND_LABELS
from tracker.imports.matching import recheck_holds
from tracker.imports.problems import ImportRefused
from tracker.models import BudgetLine, Commission, ImportBatch, LedgerTransaction, Provider, utcnow

CHUNK = 2_000  # rows per bulk INSERT: big enough to be fast, small enough to keep memory flat


# Commits this process is running now (batch id -> 0), so fail_interrupted_batches knows they are alive; their
# progress is kept where every worker sees it (report_progress).
_progress: dict[int, int] = {}

INTERRUPTED = ("The import was interrupted before it finished (the server, the command or the import worker "
               "stopped), so nothing was saved. Upload the file again to import it.")
# A committing batch from another machine is taken as interrupted after this long (its process can't be asked).
STALE_AFTER_HOURS = 6
# A batch's ``worker`` while its commit waits on the job queue: "rq:<job id>" (tracker/imports/jobs.py).
QUEUED = "rq:"


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists but belongs to someone else
        return True
    return True


def fail_interrupted_batches(now: datetime | None = None) -> list[int]:
    """Mark failed every batch left "committing" by a process that has gone (killed, crashed, restarted).

    Its rows were never committed (they are written in one transaction), so only the batch record needs
    putting right. Runs whenever the import pages or the command are used; returns the ids it marked.
    """
    from datetime import timedelta

    now = now or utcnow()
    host, pid = socket.gethostname(), os.getpid()
    marked = []
    for batch in db.session.scalars(select(ImportBatch).where(ImportBatch.status == "committing")).all():
        worker_host, _, worker_pid = (batch.worker or ":").rpartition(":")
        gone = None
        if worker_pid.isdigit():  # a process ("host:pid"; a job id is never all digits, whatever the host's name)
            if worker_host == host:
                gone = not _process_alive(int(worker_pid)) or (int(worker_pid) == pid and batch.id not in _progress)
        elif (batch.worker or "").startswith(QUEUED):
            # Waiting on the job queue: Redis says whether its job still waits or runs (None: it can't be asked).
            from tracker.imports.jobs import queued_job_ended

            gone = queued_job_ended(batch.worker)
            if gone:
                # Its job may have taken the batch up and finished between the select above and asking Redis: look
                # again in a new transaction (SQLite would read from the snapshot this one began with).
                db.session.commit()
                db.session.refresh(batch)
                gone = batch.status == "committing" and batch.worker.startswith(QUEUED)
        if gone is None:  # nobody to ask: wait as long as a commit could possibly take
            gone = batch.created_at < now - timedelta(hours=STALE_AFTER_HOURS)
        if gone and mark_failed(batch, INTERRUPTED):
            marked.append(batch.id)
    if marked:
        db.session.commit()
    return marked


def mark_failed(batch: ImportBatch, message: str) -> bool:
    """A committing batch that will never finish: failed with ``message``, its draft free to be committed again,
    and said in the audit trail. Its rows were never committed (one transaction), so nothing else needs putting
    right. The caller commits.

    committing -> failed is conditional (``transitions.advance``): a commit that finished meanwhile stays
    committed (False), so its rows never sit under a failed batch whose draft could be committed again."""
    if not transitions.advance(batch, "committing", status="failed", error=message, progress=0, draft_token=None):
        return False
    audit.record(REALM, "negative", batch, f"Import {batch.id} ({batch.filename}) did not finish; nothing was saved")
    return True


class AlreadyCommitted(ImportRefused):
    """This draft was claimed by another request (a double click, a second tab): its batch is the answer."""


# --- commit -------------------------------------------------------------------------------------------------

def create_batch(draft: Draft, *, leave_out: bool, user_id: int | None, worker: str | None = None,
                 one_pass: bool = False) -> ImportBatch:
    """Check the draft may be committed and record the batch (status committing) in its own short transaction.

    ``worker`` is who will write its rows: this process unless the job queue's marker is given (jobs.py).
    With ``one_pass`` (``commit_in_one_pass``) there is no preview: the pass that writes the rows checks them,
    and the batch's counts (and its number of rows, for the progress bar) are known when it ends."""
    if not one_pass:
        if draft.preview is None:
            preview(draft)
        errors = draft.preview["counts"][ERROR]
        if errors and not leave_out:
            raise ImportRefused(f"{errors} row{'s have' if errors != 1 else ' has'} problems. Correct the file "
                                "and upload it again, or choose to leave those rows out.", 422)
    checked_before = draft.preview or {"counts": {}, "problems": []}
    _refuse_if_taken(draft)
    if not os.path.exists(draft.path):
        raise ImportRefused("The uploaded file is no longer available; upload it again.", 410)
    batch = ImportBatch(kind=draft.kind, filename=draft.filename, stored_path=f"imports/{draft.stored_name}",
                        sha256=draft.sha256, size_bytes=draft.size_bytes, sheet_name=draft.sheet[:100],
                        funding_year_id=draft.year_id, status="committing",
                        mapping={"columns": draft.mapping_by_header, "source": draft.mapping_source,
                                 "header_row": draft.header_row},
                        counts=dict(checked_before["counts"]), problems=checked_before["problems"],
                        total_rows=checked_before["counts"].get("read", 0), progress=0, created_by_id=user_id,
                        worker=worker or this_worker(), draft_token=draft.token,
                        undo={"updated": [], "created": {}, "leave_out": bool(leave_out)})
    # The claim: the draft's token and (for committing and committed batches) the file's hash are unique, so
    # of two requests committing at once exactly one inserts its batch; the other is sent to that batch.
    try:
        db.session.add(batch)
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        _refuse_if_taken(draft)
        raise ImportRefused("This file is being imported by someone else now; wait for that import to finish.",
                            409) from None
    if worker is None:
        _progress[batch.id] = 0  # from now on this process is at work on it (see fail_interrupted_batches)
    try:
        db.session.commit()
    except Exception:
        _progress.pop(batch.id, None)
        raise
    return batch


def _refuse_if_taken(draft: Draft) -> None:
    """AlreadyCommitted when this draft has a batch (another request claimed it), ImportRefused (409) when
    another import of the same file is committing or committed. The file check runs first, so a claim made
    between the two looks is still seen as this draft's."""
    before = earlier_batch(draft.sha256)
    claimed = before if before is not None and before.draft_token == draft.token else batch_of_draft(draft.token)
    if claimed is not None:
        raise AlreadyCommitted(f"This upload has already been committed as import {claimed.id}.", 409, batch=claimed)
    if before is not None:
        raise ImportRefused(_already_imported(before), 409, batch=before)


def _failure_sentence(exc: Exception) -> str:
    """What a failed commit tells the finance officer: a sentence, never the database's own error text."""
    if isinstance(exc, ImportRefused):
        return exc.message
    from rq.timeouts import JobTimeoutException

    if isinstance(exc, JobTimeoutException):  # the job queue's time limit, raised inside the commit
        minutes = current_app.config.get("IMPORT_JOB_MINUTES")
        return (f"The import took longer than the {minutes} minutes an import may run (IMPORT_JOB_MINUTES), so it "
                "was stopped and nothing was saved. Try again when the server is less busy, or ask your "
                "administrator to allow longer.")
    # The ledger's bulk insert talks to the driver directly (COPY on PostgreSQL, executemany on SQLite), so its
    # errors arrive as the driver's own, not wrapped by SQLAlchemy.
    import sqlite3

    import psycopg

    if isinstance(exc, (psycopg.IntegrityError, sqlite3.IntegrityError)):
        exc = IntegrityError(None, None, exc)
    elif isinstance(exc, (psycopg.DataError, sqlite3.DataError)):
        exc = DataError(None, None, exc)
    elif isinstance(exc, (psycopg.Error, sqlite3.Error)):
        exc = SQLAlchemyError(str(exc))
    if isinstance(exc, IntegrityError):
        text = str(exc.orig if getattr(exc, "orig", None) is not None else exc)
        if "ledger_transactions" in text or "reference_net" in text:
            return ("Some of these ledger lines (the same transaction reference and net amount) were saved by "
                    "another import while this one ran, so nothing was saved. Upload the file again: those "
                    "lines will show as already present.")
        return ("Some rows clash with records saved by someone else while this import ran (the same reference "
                "or the same budget line), so nothing was saved. Upload the file again to see what is there now.")
    if isinstance(exc, DataError):
        return ("A value in the file does not fit the database (too long or out of range), so nothing was saved. "
                "Upload the file again: the check lists the cell.")
    if isinstance(exc, SQLAlchemyError):
        return "The database refused the import, so nothing was saved. Try again; if it fails again, tell your administrator."
    return "The import failed and nothing was saved: " + (str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)


def _reuse_preview(draft: Draft, writer: "_Writer") -> Pass | None:
    """The preview's checked rows handed to the writer, when the database is as the preview saw it; else None
    (and the caller reads and checks the file again)."""
    p = draft.preview or {}
    path = _rows_path(draft)
    if draft.kind != "ledger" or not p.get("db_state") or not os.path.exists(path):
        return None
    if checked.db_state() != p["db_state"]:
        return None
    found = Pass(counts=dict(p["counts"]), file_pence=p["file_pence"], import_pence=p["import_pence"],
                 totals_row_pence=p.get("totals_row_pence"), notes=list(p["notes"]), problems=list(p["problems"]),
                 error_rows=list(p["error_rows"]), summary=p.get("summary") or {})
    for item in checked.replay(path):
        if item[0] == ADD:
            writer.add_ledger_values(item[3])
        else:
            writer.take(Row(item[1], CHANGED, item[4], [], {}, item[3], item[2]))
    return found


def run_commit(batch_id: int, draft: Draft, *, leave_out: bool, user_id: int | None = None,
               on_checked: Callable[[Pass], None] | None = None) -> ImportBatch:
    """Write every row of the draft in ONE transaction; on any failure nothing lands and the batch is failed.

    ``on_checked`` is given what the pass found (counts, money, notes, problems) before anything is committed."""
    batch = db.session.get(ImportBatch, batch_id)
    writer = _Writer(batch, draft)
    _progress[batch_id] = 0
    found = None
    try:
        found = _reuse_preview(draft, writer) or analyse(draft, writer.take)
        if on_checked is not None:
            on_checked(found)
        errors = found.counts[ERROR]
        if errors and not leave_out:
            if draft.preview is None:  # one pass: these problems are the file's own
                raise ImportRefused(f"{errors} row{'s have' if errors != 1 else ' has'} problems, so nothing was "
                                    "imported. Correct the file and import it again, or leave those rows out.")
            raise ImportRefused(f"{errors} rows have problems now (the data changed since the "
                                "preview); preview the file again.")
        writer.finish()
        batch.counts = found.counts | {"left_out": found.counts[ERROR] if leave_out else 0,
                                       "file_pence": found.file_pence, "import_pence": found.import_pence,
                                       "totals_row_pence": found.totals_row_pence,
                                       "years": (found.summary or {}).get("years", {})}
        batch.problems = found.problems
        batch.excluded_rows = found.error_rows if leave_out else []
        remember_mapping(draft, writer.undo)
        batch.undo = writer.undo
        batch.progress = batch.total_rows = found.counts["read"]
        batch.error = ""
        # committing -> committed only if nothing marked it failed meanwhile (a sweep that took this process for
        # gone): its draft is free again then, and these rows must not land beside a second commit of it.
        if not transitions.advance(batch, "committing", status="committed", committed_at=utcnow()):
            raise ImportRefused("This import was marked as interrupted while it was still running, so nothing was "
                                "saved. Import the file again.")
        audit.record(REALM, "create", batch, _summary_line(batch), None,
                     {"kind": batch.kind, "file": batch.filename, "sha256": batch.sha256, **batch.counts},
                     user_id=user_id)
        db.session.commit()
    except Exception as exc:
        try:
            checked.end_ledger_rows(exc)
        except Exception:  # the failure being reported is exc; the abandoned COPY's own error adds nothing
            pass
        db.session.rollback()
        message = _failure_sentence(exc)
        if not isinstance(exc, ImportRefused):
            current_app.logger.exception("Import %s failed", batch_id)
        failed = db.session.get(ImportBatch, batch_id)
        failed.status = "failed"
        failed.error = message
        if found is not None and draft.preview is None:
            # One pass (no preview kept them): the batch's page says which rows had which problems.
            failed.counts, failed.problems = found.counts, found.problems
        failed.progress = 0
        failed.draft_token = None  # the draft may be committed again
        db.session.commit()
        raise ImportRefused(message, 422, batch=failed) from None
    finally:
        writer.report.close()
        _progress.pop(batch_id, None)
        _forget_progress(batch_id)
    discard_draft(draft, keep_file=True)
    return batch


def commit(draft: Draft, *, leave_out: bool = False, user_id: int | None = None) -> ImportBatch:
    """Create the batch and write its rows now (the CLI, and small files on the web)."""
    batch = create_batch(draft, leave_out=leave_out, user_id=user_id)
    return run_commit(batch.id, draft, leave_out=leave_out, user_id=user_id)


def commit_in_one_pass(draft: Draft, *, leave_out: bool = False, user_id: int | None = None,
                       on_checked: Callable[[Pass], None] | None = None) -> ImportBatch:
    """Check every row and write it in the same pass and ONE transaction (``flask import
    --commit``, where nobody reads a preview first): reading and checking the file once, not twice, while
    PostgreSQL stores the lines already checked on its own core. The batch is claimed first, as for any commit,
    so every worker sees it and its progress. When the pass finds problems (and ``leave_out`` is not asked for)
    the rows' transaction is rolled back: no line is written, and the batch is failed with the problems found,
    so a scheduled load that failed is on the Imports page with its reasons; ``on_checked`` has been given them
    too."""
    batch = create_batch(draft, leave_out=leave_out, user_id=user_id, one_pass=True)
    return run_commit(batch.id, draft, leave_out=leave_out, user_id=user_id, on_checked=on_checked)


def commit_in_background(draft: Draft, *, leave_out: bool = False, user_id: int | None = None) -> ImportBatch:
    """Create the batch and have its rows written away from the request; the page polls its progress.

    Where it runs is IMPORT_QUEUE's choice, made here and nowhere else: "rq" puts the commit on the job queue (jobs.py,
    run by `flask worker`, so it outlives this web worker); "thread" (the default, nothing else to run) writes
    it in a thread of this process with its own app context and session."""
    if current_app.config.get("IMPORT_QUEUE") == "rq":
        from tracker.imports.jobs import enqueue_commit

        return enqueue_commit(draft, leave_out=leave_out, user_id=user_id)
    batch = create_batch(draft, leave_out=leave_out, user_id=user_id)
    app = current_app._get_current_object()
    batch_id = batch.id

    def work():
        with app.app_context():
            try:
                run_commit(batch_id, draft, leave_out=leave_out, user_id=user_id)
            except ImportRefused:
                pass
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, name=f"import-{batch_id}", daemon=True)
    thread.start()
    batch.thread = thread  # tests join it
    return batch


PROGRESS_EVERY = 2_000  # rows between looks at the clock for a progress report (IMPORT_PROGRESS_MS apart)


def _progress_file(batch_id: int) -> str:
    """The SQLite progress file's path relative to DATA_DIR (kept through tracker/files.py)."""
    return f"{FOLDER}/progress-{batch_id}.txt"


def report_progress(batch_id: int, done: int, connection=None) -> None:
    """Record how far a commit has gone where every worker can see it: on the batch row (PostgreSQL, through
    ``connection``: a ``ProgressReporter``'s, outside the commit's transaction); on SQLite, whose committing
    transaction holds the only write lock, in a small file beside the imports that every process on the (one)
    host reads.

    Progress is a hint for the bar, worthless after a crash: neither waits for the disk (the reporter's
    connection does not wait for its commits to be flushed; the file is not synced)."""
    if connection is not None:
        connection.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(progress=done))
        return
    folder, name = _progress_file(batch_id).split("/")
    files.write(folder, name, str(done).encode("ascii"), durable=False)


class ProgressReporter:
    """A commit's progress reports (``report_progress``): every ``PROGRESS_EVERY`` rows, at most one each
    IMPORT_PROGRESS_MS (half a second); on PostgreSQL through one connection of their own kept for the commit,
    so a report is one statement (a connection taken from the pool each time cost five round trips, each
    waiting for a server busy storing the lines).

    Why at most every half second: on PostgreSQL each report is a new version of the batch row that every
    imported line's foreign key check reads, and fifty reports for 100,000 lines made the server's work a fifth
    longer; the page asks only every second."""

    def __init__(self, batch_id: int) -> None:
        self.batch_id = batch_id
        self.connection = None
        self.apart = current_app.config.get("IMPORT_PROGRESS_MS", 500) / 1000
        self.next_at = time.monotonic() + self.apart  # the first report once the commit has run a while

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now < self.next_at:
            return
        self.next_at = now + self.apart
        if self.connection is None and db.engine.dialect.name == "postgresql":
            self.connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self.connection.exec_driver_sql("SET synchronous_commit TO OFF")
        report_progress(self.batch_id, done, self.connection)

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            connection.exec_driver_sql("RESET synchronous_commit")  # it goes back to the pool as it came
            connection.close()
        except Exception:  # a broken connection is not given back to the pool
            connection.invalidate()
            connection.close()


def progress_of(batch: ImportBatch) -> tuple[int, int]:
    """(rows written, rows in all) of a batch, from whichever worker is committing it."""
    done = batch.progress or 0
    if batch.status == "committing":
        try:
            done = max(done, int(files.read(_progress_file(batch.id)).strip() or 0))
        except (OSError, ValueError):
            pass
    return done, batch.total_rows or 0


def _forget_progress(batch_id: int) -> None:
    files.remove(_progress_file(batch_id))


class _Writer:
    """Takes the rows of the pass and writes them: bulk INSERTs in chunks for ledgers, ORM for the rest."""

    def __init__(self, batch: ImportBatch, draft: Draft) -> None:
        self.batch = batch
        self.batch_id = batch.id  # read once: the ORM attribute costs a call for every line
        self.draft = draft
        self.pending: list[list] = []
        self.done = 0
        self.undo: dict = {"updated": [], "created": {}, "leave_out": batch.undo.get("leave_out", False)}
        self.user_id = batch.created_by_id
        self._providers: dict[str, Provider] | None = None
        self.report = ProgressReporter(batch.id)

    def take(self, row: Row) -> None:
        if row.action == ADD and self.draft.kind == "ledger":
            self.add_ledger_values(checked.ledger_values(row.data))
            return
        self.done += 1
        if self.done % PROGRESS_EVERY == 0:
            self.report(self.done)
        if row.action == CHANGED and self.draft.kind == "ledger":
            checked.end_ledger_rows()  # the ORM's statements below may not run inside the ledger's COPY
        if row.action == ADD:
            getattr(self, f"_add_{self.draft.kind}")(row)
        elif row.action == CHANGED:
            getattr(self, f"_change_{self.draft.kind}")(row)

    def finish(self) -> None:
        self._flush_ledger()
        checked.end_ledger_rows()
        db.session.flush()

    def _created(self, model: str, obj_id: int) -> None:
        self.undo["created"].setdefault(model, []).append(obj_id)

    # ledger
    def add_ledger_values(self, values: list) -> None:
        """One added line, its values in ``checked.LEDGER_COLUMNS`` order (the preview's kept rows come here)."""
        self.done += 1
        if self.done % PROGRESS_EVERY == 0:
            self.report(self.done)
        values.append(self.batch_id)
        values.append(None)  # created_at: now
        self.pending.append(values)
        if len(self.pending) >= CHUNK:
            self._flush_ledger()

    def _flush_ledger(self) -> None:
        if self.pending:
            insert_ledger_chunk(self.pending)
            self.pending = []

    def _change_ledger(self, row: Row) -> None:
        line = db.session.get(LedgerTransaction, row.existing_id)
        # held_reason too: a new date may hold or release the line (below), and a withdrawal puts it back.
        before = _dump(line, {**row.data, "held_reason": None})
        self.undo["updated"].append({"model": "LedgerTransaction", "id": line.id, "before": before})
        for k, v in row.data.items():
            setattr(line, k, v)
        old, new = audit.diff(before, _dump(line, row.data))
        if old or new:
            audit.record(REALM, "change", line, f"Changed ledger line {line.reference} (import)", old, new,
                         user_id=self.user_id)
        if "posting_date" in new:
            recheck_holds(line_ids=[line.id])

    # commissions
    def _provider(self, name: str, data: dict) -> Provider:
        # One query for every provider, then a dict: a register names the same few providers row after row.
        if self._providers is None:
            self._providers = {provider_key(p.name): p for p in db.session.scalars(select(Provider))}
        provider = self._providers.get(provider_key(name))
        if provider is None:
            provider = create_provider({"name": name, "vcse": data.get("vcse", False), "sme": data.get("sme", False)},
                                       user_id=self.user_id, source="import", realm=REALM)
            self._providers[provider_key(name)] = provider
            self._created("Provider", provider.id)
            return provider
        flags = {f: data[f] for f in ("vcse", "sme") if f in data and getattr(provider, f) != data[f]}
        if flags:
            self.undo["updated"].append({"model": "Provider", "id": provider.id, "before": _dump(provider, flags)})
            for f, v in flags.items():
                setattr(provider, f, v)
        return provider

    def _commission_values(self, row: Row) -> dict:
        data = {k: v for k, v in row.data.items() if k not in ("provider", "vcse", "sme")}
        data["provider_id"] = self._provider(row.data["provider"], row.data).id
        return data

    def _add_commissions(self, row: Row) -> None:
        data = self._commission_values(row)
        line_id = data.pop("budget_line_id", None)
        data = {k: v for k, v in data.items() if v is not None or k == "review_date"}
        line = db.session.get(BudgetLine, line_id) if line_id else None
        # The analysis checked this row against the database a moment ago, in this transaction (checked=True).
        commission = create_commission(data, budget_line=line, user_id=self.user_id, source="import", realm=REALM,
                                       checked=True)
        self._created("Commission", commission.id)

    def _change_commissions(self, row: Row) -> None:
        data = self._commission_values(row)
        has_line = "budget_line_id" in data
        line_id = data.pop("budget_line_id", None)
        data = {k: v for k, v in data.items() if v is not None or k == "review_date"}
        commission = db.session.get(Commission, row.existing_id)
        before = _dump(commission, data)
        shares_before = [_dump(sh, SHARE_FIELDS) for sh in commission.funding_shares]
        for k, v in data.items():
            setattr(commission, k, v)
        after = _dump(commission, data)
        old, new = audit.diff(before, after)
        moved_line = has_line and line_id not in {sh.budget_line_id for sh in commission.funding_shares}
        if old or new or moved_line:
            self.undo["updated"].append({"model": "Commission", "id": commission.id, "before": before})
            audit.record(REALM, "change", commission, f"Changed commission {commission.reference} (import)",
                         old, new, user_id=self.user_id)
        if "status" in new:
            record_status_change(commission, old["status"], new["status"], note="Commissions register import.",
                                 user_id=self.user_id)
        if moved_line or any(k in new for k in ("value_pence", "start_date", "end_date")):
            # The register states the contract afresh: its shares follow the default split on the named line.
            line = db.session.get(BudgetLine, line_id) if line_id else None
            set_shares(commission, default_shares(commission.value_pence, commission.start_date,
                                                  commission.end_date, line))
            self.undo["updated"].append({"model": "FundingShares", "id": commission.id, "before": shares_before})
        if any(k in new for k in ("status", "start_date", "end_date")):
            recheck_holds(commission.id)  # awarded, or its dates moved: whether its lines count is decided again

    # budget
    def _add_budget(self, row: Row) -> None:
        line = BudgetLine(**row.data, original_amount_pence=row.data["amount_pence"])
        db.session.add(line)
        db.session.flush()
        self._created("BudgetLine", line.id)
        audit.record(REALM, "create", line, "Added budget line (import)", None, _dump(line, row.data),
                     user_id=self.user_id)

    def _change_budget(self, row: Row) -> None:
        line = db.session.get(BudgetLine, row.existing_id)
        before = _dump(line, row.data)
        self.undo["updated"].append({"model": "BudgetLine", "id": line.id, "before": before})
        for k, v in row.data.items():
            setattr(line, k, v)
        old, new = audit.diff(before, _dump(line, row.data))
        audit.record(REALM, "change", line, "Changed budget line (import)", old, new, user_id=self.user_id)


def insert_ledger_chunk(rows: list[list]) -> None:
    """One bulk INSERT of ledger lines (a module function so tests can make it fail part-way)."""
    checked.insert_ledger_rows(rows)


def _summary_line(batch: ImportBatch) -> str:
    c = batch.counts
    return (f"Imported {batch.filename} ({KIND_LABELS.get(batch.kind, batch.kind)}): {c.get(ADD, 0)} added, "
            f"{c.get(CHANGED, 0)} changed, {c.get(UNCHANGED, 0)} already present, {c.get('left_out', 0)} left out")
