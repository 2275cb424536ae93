"""Sweeping away uploads that were never imported: drafts refused at the preview, abandoned, or left by a
killed upload. A draft is two files under DATA_DIR/imports (the upload, kept under a generated name, and
``draft-<token>.json``); nothing of it is in the database. Files that an import batch keeps (its original,
downloadable from the history) are never touched.

Runs when the imports page opens and from cron as ``flask imports-sweep`` (safe to repeat, and safe while
people are importing: only files older than IMPORT_DRAFT_DAYS go).
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


def register_cli(cli) -> None:
    """Add ``flask imports-sweep`` to the app's command group (``tracker.cli.init_app``)."""
    import click

    @cli.command("imports-sweep")
    def imports_sweep():
        """Remove import drafts (uploads never imported) older than IMPORT_DRAFT_DAYS (default 7); for cron."""
        removed = sweep_drafts()
        click.echo(f"Removed {len(removed)} file{'s' if len(removed) != 1 else ''} of import drafts older than "
                   f"{_days()} days.")
