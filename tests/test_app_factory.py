"""The app factory does the set-up; importing the package does none (no asserts, no process-wide listeners)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import event, text

from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path) -> dict:
    return {**{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'factory.db'}", "DATA_DIR": str(tmp_path / "files")}


def test_without_defusedxml_the_app_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)
    with pytest.raises(RuntimeError, match="defusedxml must be installed"):
        create_app(_config(tmp_path))


def test_the_defusedxml_check_survives_python_dash_o():
    script = ("import openpyxl; openpyxl.DEFUSEDXML = False\n"
              "from tracker import create_app\n"
              "try:\n    create_app({'TESTING': True})\nexcept RuntimeError as exc:\n    print('refused:', exc)\n")
    out = subprocess.run([sys.executable, "-O", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "TRACKER_ENV": "development"})
    assert out.stdout.startswith("refused: defusedxml must be installed"), out.stdout + out.stderr


def test_the_defusedxml_check_is_one_function_that_the_reader_also_calls(monkeypatch):
    """Importing the reader does nothing (it used to raise at import, a second copy of the check); opening a
    workbook outside the app runs the same check create_app runs."""
    from tracker.spreadsheets import reader

    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)
    with pytest.raises(RuntimeError, match="defusedxml must be installed"):
        reader.require_defusedxml()
    with pytest.raises(RuntimeError, match="defusedxml must be installed"):
        reader.open_workbook(b"ref,amount\nA1,1\n", "a.csv")
    script = ("import openpyxl; openpyxl.DEFUSEDXML = False\n"
              "import tracker.spreadsheets.reader, tracker.imports.routes, tracker.monitoring.routes\n"
              "print('imported')\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "imported", out.stdout + out.stderr


def test_importing_every_module_registers_no_listener_until_an_app_is_made(tmp_path):
    """Every module of the package, not only the blueprints: the listeners arrive with create_app and no sooner."""
    script = (
        "import importlib, pkgutil\n"
        "from sqlalchemy import event\n"
        "from sqlalchemy.engine import Engine\n"
        "from sqlalchemy.orm import Session\n"
        "import tracker\n"
        "from tracker.milestones import service\n"
        "for m in pkgutil.walk_packages(tracker.__path__, 'tracker.'): importlib.import_module(m.name)\n"
        "session_events = [('before_flush', service._before_flush), ('after_flush', service._after_flush),\n"
        "                  ('before_commit', service._before_commit), ('after_soft_rollback', service._after_rollback)]\n"
        "def listening(engine=Engine):\n"
        "    return [event.contains(engine, 'connect', tracker._sqlite_pragmas)]"
        " + [event.contains(Session, n, f) for n, f in session_events]\n"
        "print(*listening())\n"
        "from tracker.config import TestConfig\n"
        "config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}\n"
        f"config.update(SQLALCHEMY_DATABASE_URI='sqlite:///{tmp_path / 'f.db'}', DATA_DIR='{tmp_path / 'files'}')\n"
        "app = tracker.create_app(config)\n"
        "from tracker.extensions import db\n"
        "with app.app_context(): print(*listening(db.engine))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180)
    before, after = out.stdout.splitlines()[:2] if out.returncode == 0 else ("", "")
    assert before.split() == ["False"] * 5, out.stdout + out.stderr
    assert after.split() == ["True"] * 5, out.stdout + out.stderr


def test_the_app_sets_sqlite_pragmas_and_the_deadline_sync_on_its_own(tmp_path):
    from sqlalchemy.orm import Session

    import tracker
    from tracker.milestones import service

    app = create_app(_config(tmp_path))
    with app.app_context():
        assert event.contains(db.engine, "connect", tracker._sqlite_pragmas)
        assert event.contains(Session, "before_commit", service._before_commit)
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()


def test_every_command_is_registered_by_cli_py(tmp_path):
    app = create_app(_config(tmp_path))
    assert {"create-user", "seed-demo", "import", "export-return", "deadlines-digest", "deadlines-sync", "backup",
            "restore", "imports-sweep", "worker"} <= set(app.cli.list_commands(None))
