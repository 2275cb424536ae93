"""The import pipeline shared by the web pages and ``flask import``: detect, map, validate, preview, commit, withdraw.

An upload becomes a *draft* (the file kept under DATA_DIR/imports with a generated name, and a small JSON file
beside it holding the kind, sheet, header row, mapping and preview): nothing is written to the database until
the user commits, so a file that is refused at any step leaves the database exactly as it was. Committing
creates the ImportBatch and writes every row in ONE transaction; the batch keeps who, when, the file, its hash,
the mapping, the counts, the problems, the rows left out and the values it replaced (for withdrawal).

Every kind of import reads its rows through one ``analyse`` pass (``_Ledger``, ``_Commissions``, ``_Budget``
classify each row as add / unchanged / changed / error with located problems). The preview and the commit run
the same pass, so what the preview promised is what the commit does (re-checked against the database as it is
at commit time).

The pipeline is one module per step, and this module is its front door (the pages, the command and the sweep
use only it):

- ``drafts``: the upload kept as a draft, its table found, the column mapping chosen and remembered;
- ``analysis``: the one pass that reads a file and classifies every row, and the preview;
- ``kinds/``: one module per kind of import (ledger, commissions register, budget) with its checks;
- ``committing``: the batch (claimed once), the one-transaction write, progress, interrupted batches;
- ``withdrawal``: when a committed import may be taken back out, what that changes, and doing it;
- ``problems``: located problems, the refusal, and the problems workbook.
"""
from __future__ import annotations

from sqlalchemy import select

from tracker import files
from tracker.extensions import db
from tracker.imports.analysis import ADD, CHANGED, ERROR, UNCHANGED, Pass, Row, analyse, preview
from tracker.imports.committing import (
    CHUNK, INTERRUPTED, PROGRESS_EVERY, STALE_AFTER_HOURS, AlreadyCommitted, _progress, _summary_line, commit,
    commit_in_background, commit_in_one_pass, create_batch, fail_interrupted_batches, insert_ledger_chunk, progress_of,
    report_progress, run_commit, this_worker,
)
from tracker.imports.drafts import (
    FOLDER, KINDS, REALM, Draft, _draft_json, batch_of_draft, discard_draft, earlier_batch, find_year, imports_dir,
    load_draft, map_columns, mapping_choices, remember_mapping, set_mapping, start_draft,
)
from tracker.imports.problems import SHOWN_PROBLEMS, ImportRefused, problem, problem_text, problems_workbook
from tracker.imports.withdrawal import withdraw, withdraw_effects, withdraw_refusal
from tracker.models import ImportBatch

__all__ = [
    "ADD", "CHANGED", "CHUNK", "ERROR", "FOLDER", "INTERRUPTED", "KINDS", "PROGRESS_EVERY", "REALM",
    "SHOWN_PROBLEMS", "STALE_AFTER_HOURS", "UNCHANGED", "AlreadyCommitted", "Draft", "ImportRefused", "Pass", "Row",
    "analyse", "batch_of_draft", "batches", "commit", "commit_in_background", "commit_in_one_pass", "create_batch",
    "discard_draft",
    "earlier_batch", "fail_interrupted_batches", "find_year", "get_batch_or_404", "imports_dir",
    "insert_ledger_chunk", "load_draft", "map_columns", "mapping_choices", "preview", "problem", "problem_text",
    "problems_workbook", "progress_of", "record_over_budget", "remember_mapping", "report_progress", "run_commit",
    "set_mapping",
    "start_draft", "stored_file", "this_worker", "withdraw", "withdraw_effects", "withdraw_refusal",
    "_draft_json", "_progress", "_summary_line",
]


# --- the over-budget question ----------------------------------------------------------------------------------

def record_over_budget(batch: ImportBatch, warnings: list[str], user_id: int | None = None) -> None:
    """Keep the person's confirmation that the import takes these budget lines over their budgets in the audit
    trail (as the commission form's does); the caller commits."""
    from tracker import audit

    if warnings:
        audit.record(REALM, "change", batch, f"Import {batch.id}: budget lines taken over budget, confirmed: "
                     + "; ".join(warnings), None, {"over_budget_confirmed": list(warnings)}, user_id=user_id)


# --- reading back -------------------------------------------------------------------------------------------

def get_batch_or_404(batch_id: int) -> ImportBatch:
    from tracker.errors import abort_with, get_or_404

    batch = get_or_404(ImportBatch, batch_id, "There is no import with that number.")
    if batch.kind not in KINDS:  # monitoring returns are batches too, but have their own pages
        abort_with(404, "There is no import with that number.")
    return batch


def batches() -> list[ImportBatch]:
    from sqlalchemy.orm import joinedload

    return list(db.session.scalars(
        select(ImportBatch).where(ImportBatch.kind.in_(KINDS))
        .options(joinedload(ImportBatch.created_by), joinedload(ImportBatch.withdrawn_by))
        .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())))


def stored_file(batch: ImportBatch) -> str:
    try:
        return str(files.locate(batch.stored_path))
    except files.OutsideDataDir:
        raise FileNotFoundError(batch.stored_path) from None
