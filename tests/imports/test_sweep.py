"""Drafts refused at the preview, abandoned or left by a killed upload are swept away after IMPORT_DRAFT_DAYS,
by `flask imports-sweep` and when the imports page opens; files that imports keep are never touched (issue 12,
finding 11)."""
from __future__ import annotations

import os
import time

from tests.imports.helpers import LEDGER, draft_of
from tracker.extensions import db
from tracker.imports import service
from tracker.imports.sweep import sweep_drafts


def _age(path, days):
    old = time.time() - days * 86_400
    os.utime(path, (old, old))


def _stale_draft(days=8):
    draft = draft_of(LEDGER)
    for path in (draft.path, os.path.join(service.imports_dir(), service._draft_json(draft.token))):
        _age(path, days)
    return draft


def test_old_drafts_and_stray_uploads_go_and_kept_files_stay(app, make):
    make.year("2025-26")
    db.session.commit()
    stale = _stale_draft()
    fresh = draft_of(LEDGER)
    stray = os.path.join(service.imports_dir(), "upload-killedmidway0000.part")
    with open(stray, "wb") as fh:
        fh.write(b"half a file")
    _age(stray, 30)
    committed = service.commit(_stale_draft())
    kept = service.stored_file(committed)
    _age(kept, 30)
    removed = sweep_drafts()
    assert not os.path.exists(stale.path) and service.load_draft(stale.token) is None
    assert not os.path.exists(stray)
    assert os.path.exists(fresh.path) and service.load_draft(fresh.token) is not None
    assert os.path.exists(kept), "an import's original stays downloadable"
    assert len(removed) == 3
    assert sweep_drafts() == []  # safe to repeat


def test_the_command_and_the_imports_page_sweep(app, client, auth, runner, make):
    stale = _stale_draft()
    result = runner.invoke(args=["imports-sweep"])
    assert result.exit_code == 0 and "Removed 2 files" in result.output
    assert not os.path.exists(stale.path)
    again = _stale_draft()
    auth.login("finance")
    assert client.get("/imports/").status_code == 200
    assert not os.path.exists(again.path)


def test_the_age_is_a_setting(app):
    app.config["IMPORT_DRAFT_DAYS"] = 30
    draft = _stale_draft(days=8)
    assert sweep_drafts() == []
    assert os.path.exists(draft.path)
