"""``flask import``: preview by default, --commit writes, exit status says whether there were problems."""
from __future__ import annotations

from sqlalchemy import func, select

from tests.imports.helpers import BAD, LEDGER, table_counts
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.models import ImportBatch, LedgerTransaction


def count() -> int:
    return db.session.scalar(select(func.count(LedgerTransaction.id)))


def test_preview_only_writes_nothing(app, runner):
    seed_demo()
    db.session.commit()
    before = table_counts()
    result = runner.invoke(args=["import", str(LEDGER), "--kind", "ledger"])
    assert result.exit_code == 0, result.output
    assert "420 to add" in result.output and "Preview only" in result.output
    assert "totals row left out" in result.output
    assert table_counts() == before


def test_commit_imports_and_the_same_file_again_is_refused(app, runner):
    seed_demo()
    db.session.commit()
    before = count()
    result = runner.invoke(args=["import", str(LEDGER), "--kind", "ledger", "--commit"])
    assert result.exit_code == 0, result.output
    assert "Committed as import" in result.output
    assert count() == before + 420
    batch = db.session.scalar(select(ImportBatch))
    assert batch.created_by_id is None and batch.status == "committed"
    again = runner.invoke(args=["import", str(LEDGER), "--kind", "ledger", "--commit"])
    assert again.exit_code == 2 and "already been imported" in again.output


def test_problems_are_printed_and_give_a_non_zero_status(app, runner, tmp_path, make):
    make.year("2025-26")
    db.session.commit()
    path = tmp_path / "ledger.csv"
    path.write_text("Transaction Ref,Posting Date,Supplier Name,Net\nT1,01/05/2025,Acme,\"£1,2,3\"\n"
                    "T2,01/05/2025,Acme,10\n")
    result = runner.invoke(args=["import", str(path), "--commit"])
    assert result.exit_code == 1
    assert "Problem: ledger, row 2, Net: '£1,2,3' is not an amount" in result.output
    assert count() == 0
    result = runner.invoke(args=["import", str(path), "--commit", "--leave-out-errors"])
    assert result.exit_code == 1 and "Committed" in result.output
    assert count() == 1


def test_a_bad_file_is_refused_with_status_2(app, runner):
    before = table_counts()
    result = runner.invoke(args=["import", str(BAD / "zip-bomb.xlsx"), "--kind", "ledger"])
    assert result.exit_code == 2 and "too large to import safely" in result.output
    assert table_counts() == before
