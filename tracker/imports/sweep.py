"""Sweeping away uploads that were never imported: drafts refused at the preview, abandoned, or left by a
killed upload. A draft is two files under DATA_DIR/imports (the upload, kept under a generated name, and
``draft-<token>.json``); nothing of it is in the database. Files that an import batch keeps (its original,
downloadable from the history) are never touched.

Runs when the imports page opens and from cron as ``flask imports-sweep`` (safe to repeat, and safe while
people are importing: only files older than IMPORT_DRAFT_DAYS go).

The same sweep removes issued-file orphans: a transparency file, return or claim schedule written by an issue
whose transaction then failed (the process killed between writing the file and committing). No record names
such a file, and no download can reach it; it goes once it is an hour old, long after any issue has finished.
"""
from __future__ import annotations

import os
import time

from flask import current_app
from sqlalchemy import select

from tracker import files
from tracker.extensions import db
from tracker.models import ImportBatch


def _days() -> int:
    return max(1, int(current_app.config.get("IMPORT_DRAFT_DAYS") or 7))


def sweep_drafts(now: float | None = None) -> list[str]:  # float ok: a time in seconds
    """Remove every draft (and stray upload) older than IMPORT_DRAFT_DAYS; returns the file names removed."""
    from tracker.imports.service import FOLDER, imports_dir

    folder = imports_dir()
    cutoff = (now or time.time()) - _days() * 86_400
    kept = {os.path.basename(p) for p in db.session.scalars(
        select(ImportBatch.stored_path).where(ImportBatch.stored_path.like("imports/%")))}
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        path = os.path.join(folder, name)
        if name in kept or not os.path.isfile(path):
            continue
        try:
            if os.path.getmtime(path) >= cutoff:
                continue
            files.remove(f"{FOLDER}/{name}")
        except OSError:  # gone already (another sweep, or the draft was committed meanwhile)
            continue
        removed.append(name)
    return removed


ORPHAN_GRACE_SECONDS = 3_600  # an issue writes its file and commits within one request: seconds, not an hour


def _issued_folders() -> list[tuple[str, object]]:
    """Each folder of issued files and the column of the records that keep them."""
    from tracker.claims.service import CLAIMS_FOLDER
    from tracker.models import PccReturn, Publication
    from tracker.models.claims import ClaimSubmission
    from tracker.procurement.transparency import FOLDER as PUBLICATIONS
    from tracker.returns.service import RETURNS_FOLDER

    return [(PUBLICATIONS, Publication.stored_path), (RETURNS_FOLDER, PccReturn.stored_path),
            (CLAIMS_FOLDER, ClaimSubmission.stored_path)]


def sweep_orphans(now: float | None = None) -> list[str]:  # float ok: a time in seconds
    """Remove issued files (publications, returns, claim schedules) that no record keeps and that are older than
    an hour; returns their paths relative to DATA_DIR."""
    cutoff = (now or time.time()) - ORPHAN_GRACE_SECONDS
    removed: list[str] = []
    for folder, column in _issued_folders():
        try:
            names = os.listdir(files.locate(folder))
        except (OSError, files.OutsideDataDir):
            continue
        kept = set(db.session.scalars(select(column).where(column.like(f"{folder}/%"))))
        for name in names:
            relative = f"{folder}/{name}"
            path = files.locate(relative)
            # A dot file is a write still in progress (files.write's ".part"): never the sweep's.
            if relative in kept or name.startswith(".") or not path.is_file():
                continue
            try:
                if path.stat().st_mtime >= cutoff:
                    continue
                files.remove(relative)
            except OSError:
                continue
            removed.append(relative)
    return removed


def register_cli(cli) -> None:
    """Add ``flask imports-sweep`` to the app's command group (``tracker.cli.init_app``)."""
    import click

    @cli.command("imports-sweep")
    def imports_sweep():
        """Remove import drafts (uploads never imported) older than IMPORT_DRAFT_DAYS (default 7), and issued files
        no record keeps (an issue that failed after writing its file); for cron."""
        removed = sweep_drafts()
        click.echo(f"Removed {len(removed)} file{'s' if len(removed) != 1 else ''} of import drafts older than "
                   f"{_days()} days.")
        orphans = sweep_orphans()
        click.echo(f"Removed {len(orphans)} issued file{'s' if len(orphans) != 1 else ''} that no record keeps.")
