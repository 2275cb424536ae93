"""`flask backup` under concurrent writes gives a consistent copy; `flask restore` checks a file and puts it back."""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from tests.conftest import IsolatedClient
from tracker import create_app
from tracker.backup import BackupError, check_database, head_revision
from tracker.config import TestConfig
from tracker.extensions import db


@pytest.fixture
def file_app(tmp_path):
    """An app on its own SQLite file, at the latest migration, so a restore has something real to check."""
    path = tmp_path / "live.db"
    app = create_app({**{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "DATA_DIR": str(tmp_path / "files")})
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
        head = head_revision()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
            conn.exec_driver_sql("INSERT INTO alembic_version VALUES (?)", (head,))
        db.engine.dispose()
    return app, path


def _count(path, table="strands"):
    con = sqlite3.connect(path)
    try:
        return con.execute(f"SELECT count(*), coalesce(max(id), 0) FROM {table}").fetchone()
    finally:
        con.close()


def test_backup_under_concurrent_writes_then_restore(file_app, tmp_path):
    app, live = file_app
    stop = threading.Event()
    written = []

    def writer():
        con = sqlite3.connect(live, timeout=30)
        n = 0
        while not stop.is_set() or n < 50:
            n += 1
            with con:  # one transaction per row
                con.execute("INSERT INTO strands (name, description, sort_order, active) VALUES (?, '', 0, 1)",
                            (f"Strand {n}",))
            written.append(n)
        con.close()

    thread = threading.Thread(target=writer)
    thread.start()
    while len(written) < 20 and thread.is_alive():
        time.sleep(0.01)
    runner = app.test_cli_runner()
    target = tmp_path / "backups" / "copy.db"
    result = runner.invoke(args=["backup", str(target)])
    stop.set()
    thread.join()
    assert result.exit_code == 0, result.output
    assert "Backed up to" in result.output
    count, highest = _count(target)
    assert count == highest >= 20  # every row up to a moment, none torn or missing
    with app.app_context():
        assert check_database(target) is None
    assert _count(live)[0] > count or len(written) == count

    again = runner.invoke(args=["backup", str(target)])
    assert again.exit_code != 0 and "already exists" in again.output

    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert _count(live)[0] == count
    # The app works on the restored database.
    with app.app_context():
        from tests.factories import Factories

        user = Factories(db.session).user(role="admin")
        db.session.commit()
        email = user.email
    client = app.test_client()
    assert client.post("/sign-in", data={"email": email, "password": "correct-horse-battery-staple"}).status_code == 302
    assert "Strand 1" in client.get("/admin/strands").text


def test_restore_refuses_what_is_not_our_database(file_app, tmp_path):
    app, live = file_app
    runner = app.test_cli_runner()
    text_file = tmp_path / "notes.db"
    text_file.write_text("not a database")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE things (id INTEGER)").connection.commit()
    old = tmp_path / "old.db"
    assert runner.invoke(args=["backup", str(old)]).exit_code == 0
    con = sqlite3.connect(old)
    con.execute("UPDATE alembic_version SET version_num = 'abc123'")
    con.commit()
    con.close()
    for path, message in [(text_file, "not a SQLite database"), (other, "lacks tables"),
                          (old, "not the latest"), (tmp_path / "missing.db", "not a file")]:
        result = runner.invoke(args=["restore", str(path), "--yes"])
        assert result.exit_code != 0, path
        assert message in result.output, (path, result.output)
    corrupt = tmp_path / "corrupt.db"
    data = bytearray(live.read_bytes())
    data[4096:8192] = b"\xff" * 4096
    corrupt.write_bytes(bytes(data))
    with app.app_context():
        assert check_database(corrupt) is not None


def test_postgresql_is_told_to_use_pg_dump(tmp_path):
    app = create_app({**{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                      "DATA_DIR": str(tmp_path)})
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "x.db")])
    assert result.exit_code != 0 and "pg_dump" in result.output
    with app.app_context(), pytest.raises(BackupError):
        from tracker.backup import live_database_path

        live_database_path()
