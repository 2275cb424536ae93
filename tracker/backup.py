"""`flask backup PATH` and `flask restore PATH` for a SQLite database.

A backup uses SQLite's online backup API, so it is a consistent copy even while the app keeps writing.
A restore first checks the file (a SQLite database, intact, with our tables, at the latest migration),
then copies it over the live database with the same API, under SQLite's lock. On PostgreSQL use
pg_dump and pg_restore instead (the README says how).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy.engine import make_url

from tracker.extensions import db

POSTGRES_HINT = (
    "This database is PostgreSQL: use pg_dump and pg_restore, e.g.\n"
    "  pg_dump --format=custom --file=tracker.dump \"$DATABASE_URL\"\n"
    "  pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" tracker.dump"
)


class BackupError(Exception):
    """A backup or restore that cannot go ahead, with the reason for the operator."""


def live_database_path() -> Path:
    """The file of the app's SQLite database; BackupError for anything else."""
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        raise BackupError(POSTGRES_HINT)
    if not url.database or url.database == ":memory:":
        raise BackupError("The database is in memory: there is nothing to back up.")
    return Path(url.database)


def backup_to(target: Path) -> int:
    """Copy the live database to ``target`` (a new file); returns its size in bytes."""
    source_path = live_database_path()
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name.")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(source_path, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # One step (pages=-1): the copy is of a single moment, however busy the database is.
        source.backup(copy, pages=-1)
        copy.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal beside it
    finally:
        copy.close()
        source.close()
    problem = check_database(target, need_head=False)
    if problem:
        raise BackupError(f"The backup failed its check: {problem}")
    return target.stat().st_size


def head_revision() -> str | None:
    """The latest migration's revision id."""
    from alembic.script import ScriptDirectory

    migrate = current_app.extensions["migrate"]  # Flask-Migrate's config: the Migrate object and its folder
    config = migrate.migrate.get_config(migrate.directory)
    return ScriptDirectory.from_config(config).get_current_head()


def check_database(path: Path, need_head: bool = True) -> str | None:
    """Why ``path`` is not a usable copy of our database, or None when it is."""
    path = Path(path)
    if not path.is_file():
        return f"{path} is not a file"
    with path.open("rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            return f"{path} is not a SQLite database"
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return f"{path} cannot be opened: {exc}"
    try:
        result = con.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            return "the integrity check found problems: " + "; ".join(r[0] for r in result[:5])
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = sorted(set(db.metadata.tables) - tables)
        if missing:
            return "it lacks tables of VRU Tracker: " + ", ".join(missing[:10])
        if need_head:
            if "alembic_version" not in tables:
                return "it has no migration version (alembic_version)"
            versions = [r[0] for r in con.execute("SELECT version_num FROM alembic_version")]
            head = head_revision()
            if versions != [head]:
                return f"it is at migration {', '.join(versions) or 'none'}, not the latest ({head}); " \
                       "restore it with the version of the app that made it, then upgrade"
    except sqlite3.DatabaseError as exc:
        return f"{path} is damaged or not a database: {exc}"
    finally:
        con.close()
    return None


def restore_from(source: Path) -> None:
    """Check ``source``, then put it in place of the live database."""
    target_path = live_database_path()
    problem = check_database(Path(source))
    if problem:
        raise BackupError(f"Not restored: {problem}.")
    db.session.remove()
    db.engine.dispose()  # no pooled connection keeps the old data open
    copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    live = sqlite3.connect(target_path, timeout=30)
    try:
        copy.backup(live, pages=-1)
    finally:
        live.close()
        copy.close()


def init_app(app: Flask) -> None:
    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    def backup_command(path: Path):
        """Make a consistent copy of the live SQLite database at PATH (safe while the app runs)."""
        try:
            size = backup_to(path)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"Backed up to {path} ({size:,} bytes).")

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def restore_command(path: Path, yes: bool):
        """Check the backup at PATH and put it in place of the live SQLite database. Stop the app first."""
        try:
            live_database_path()
            if not yes:
                click.confirm(f"Replace the live database with {path}? Everything since that backup is lost", abort=True)
            restore_from(path)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"Restored from {path}.")
