"""``flask import --commit`` checks and writes every row in one pass (``commit_in_one_pass``), and ledger lines
reach PostgreSQL through COPY sent from a thread of its own (``checked._CopySender``): on both databases, what is
stored is what the preview would have promised, a file with problems writes no line, and text survives COPY's
escaping exactly."""
from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.imports import checked, committing, service
from tracker.models import ImportBatch, LedgerTransaction

HEADINGS = ["Transaction Ref", "Posting Date", "Supplier Name", "Narrative", "Net"]


def _ledger(path, rows) -> str:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADINGS)
        out.writerows(rows)
    return str(path)


def _lines() -> int:
    return db.session.scalar(select(func.count(LedgerTransaction.id)))


def test_one_pass_stores_what_the_preview_promises(app, make, runner, tmp_path):
    make.year("2025-26")
    db.session.commit()
    rows = [[f"R{i:05d}", "01/05/2025", "Acme", f"Sessions {i}", f"{i}.{i % 100:02d}"] for i in range(1, 301)]
    rows.append(["", "", "", "Total", "45,451.50"])  # a totals row: left out, as the preview leaves it out
    path = _ledger(tmp_path / "ledger.csv", rows)
    looked = runner.invoke(args=["import", path, "--kind", "ledger"])
    assert looked.exit_code == 0 and "300 to add" in looked.output and _lines() == 0
    result = runner.invoke(args=["import", path, "--kind", "ledger", "--commit"])
    assert result.exit_code == 0, result.output
    # The same summary as the preview printed, then the commit.
    assert looked.output.split("Rows:")[1].split("Preview only")[0] in result.output
    assert "Committed as import" in result.output
    batch = db.session.scalar(select(ImportBatch))
    assert batch.status == "committed" and batch.counts["add"] == 300 and batch.counts["totals"] == 1
    assert batch.total_rows == batch.progress == 300
    assert batch.counts["file_pence"] == sum(i * 100 + i % 100 for i in range(1, 301))
    assert _lines() == 300
    assert db.session.scalar(select(func.sum(LedgerTransaction.net_pence))) == batch.counts["import_pence"]


def test_a_file_with_problems_writes_no_line_and_the_batch_says_why(app, make, runner, tmp_path):
    make.year("2025-26")
    db.session.commit()
    rows = [[f"R{i:05d}", "01/05/2025", "Acme", "Sessions", "10.00"] for i in range(5_000)]
    rows[4_321][4] = "ten pounds"  # found after the first lines have gone to the database
    path = _ledger(tmp_path / "ledger.csv", rows)
    result = runner.invoke(args=["import", path, "--kind", "ledger", "--commit"])
    assert result.exit_code == 1, result.output
    assert "Problem: ledger, row 4323, Net: 'ten pounds' is not an amount" in result.output
    assert "Not imported: 1 row has problems, so nothing was imported" in result.output
    db.session.expire_all()
    assert _lines() == 0
    batch = db.session.scalar(select(ImportBatch))
    assert batch.status == "failed" and batch.error.startswith("1 row has problems")
    assert batch.counts["error"] == 1 and batch.counts["add"] == 4_999 and len(batch.problems) == 1
    # The file may be imported once it is put right, or now without that row.
    result = runner.invoke(args=["import", path, "--kind", "ledger", "--commit", "--leave-out-errors"])
    assert result.exit_code == 1 and "4999 added" in result.output
    assert _lines() == 4_999


def test_a_file_that_cannot_be_read_is_refused_with_status_2_and_leaves_no_batch(app, make, runner, tmp_path):
    make.year("2025-26")
    db.session.commit()
    path = _ledger(tmp_path / "ledger.csv", [])
    result = runner.invoke(args=["import", path, "--kind", "ledger", "--commit"])
    assert result.exit_code == 2 and "no rows of data" in result.output
    assert _lines() == 0


def test_changed_lines_between_chunks_and_awkward_text_survive_the_bulk_insert(app, make, monkeypatch, tmp_path):
    """Lines go in chunks (COPY from a thread on PostgreSQL); a changed line between two chunks is written through
    the ORM, which must wait for the lines before it. Text with COPY's special characters is stored exactly."""
    make.year("2025-26")
    db.session.commit()
    monkeypatch.setattr(committing, "CHUNK", 50)
    first = _ledger(tmp_path / "first.csv", [["OLD1", "01/05/2025", "Acme", "Before", "10.00"]])
    with open(first, "rb") as fh:
        service.commit(service.start_draft(fh, "first.csv", kind="ledger"))
    awkward = ["tab\there", "two\nlines", "C:\\new\\table", "\\N", "", "£ é 😀 ñ", "back\\\\slash\\"]
    rows = [[f"R{i:04d}", "02/05/2025", "Acme", awkward[i % len(awkward)], "1.00"] for i in range(230)]
    rows.insert(120, ["OLD1", "01/05/2025", "Acme", "After", "10.00"])
    second = _ledger(tmp_path / "second.csv", rows)
    with open(second, "rb") as fh:
        batch = service.commit_in_one_pass(service.start_draft(fh, "second.csv", kind="ledger"))
    assert batch.status == "committed" and batch.counts["add"] == 230 and batch.counts["changed"] == 1
    db.session.expire_all()
    stored = dict(db.session.execute(select(LedgerTransaction.reference, LedgerTransaction.narrative)).all())
    assert stored["OLD1"] == "After"
    assert all(stored[f"R{i:04d}"] == awkward[i % len(awkward)] for i in range(230))
    assert db.session.scalar(select(func.count()).where(LedgerTransaction.import_batch_id == batch.id)) == 230


def test_copy_text_writes_copy_lines_and_escapes_only_what_needs_it():
    from datetime import datetime

    now = datetime(2026, 12, 3, 9, 30, 0, 123456)

    def line(**values):
        return [values.get(c, f"<{c}>") for c in checked.INSERT_COLUMNS]

    plain = line(period=2, funding_year_id=None, commission_id=7, budget_line_id=None, import_batch_id=3,
                 net_pence=-150, created_at=None)
    awkward = line(narrative="a\tb\nc\rd\\e", supplier_name="\\N", funding_year_id=1, commission_id=None,
                   budget_line_id=None, import_batch_id=3, created_at=now)
    unexpected = line(cost_centre=None, funding_year_id=1, commission_id=None, budget_line_id=None,
                      import_batch_id=3, created_at=now)
    text = checked.copy_text([plain, awkward, unexpected], now).decode()
    rows = [r.split("\t") for r in text.split("\n")]
    assert rows[-1] == [""] and all(len(r) == len(checked.INSERT_COLUMNS) for r in rows[:-1])
    first, second, third = (dict(zip(checked.INSERT_COLUMNS, r)) for r in rows[:3])
    assert (first["period"], first["funding_year_id"], first["commission_id"],
            first["budget_line_id"]) == ("2", "\\N", "7", "\\N")
    assert first["net_pence"] == "-150" and first["created_at"] == "2026-12-03 09:30:00.123456"
    assert first["reference"] == "<reference>"
    assert second["narrative"] == "a\\tb\\nc\\rd\\\\e"  # each special character escaped
    assert second["supplier_name"] == "\\\\N"  # the text \N, not an empty value
    assert second["commission_id"] == "\\N" and second["funding_year_id"] == "1"
    assert third["cost_centre"] == "\\N"  # never the text "None": the database refuses the empty value itself


@pytest.mark.parametrize("fail_at", [1, 3])
def test_a_refusal_from_the_database_part_way_rolls_everything_back(app, make, monkeypatch, tmp_path, fail_at):
    """The database refuses a chunk (on PostgreSQL, in the sending thread): the commit fails, nothing is stored,
    and the batch says so in a sentence."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite does not enforce a text column's length")
    make.year("2025-26")
    db.session.commit()
    monkeypatch.setattr(committing, "CHUNK", 40)
    real = committing.insert_ledger_chunk
    calls = []

    def one_too_long(rows):
        calls.append(1)
        if len(calls) == fail_at:
            rows[-1][0] = "X" * 500  # longer than the reference column: the database itself refuses it
        real(rows)

    monkeypatch.setattr(committing, "insert_ledger_chunk", one_too_long)
    path = _ledger(tmp_path / "ledger.csv", [[f"R{i:04d}", "01/05/2025", "Acme", "", "1.00"] for i in range(200)])
    with open(path, "rb") as fh:
        draft = service.start_draft(fh, "ledger.csv", kind="ledger")
    with pytest.raises(service.ImportRefused) as refused:
        service.commit_in_one_pass(draft)
    assert "does not fit the database" in refused.value.message
    db.session.expire_all()
    assert _lines() == 0
    assert db.session.get(ImportBatch, refused.value.batch.id).status == "failed"
