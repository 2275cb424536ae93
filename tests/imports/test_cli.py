"""``flask import``: preview by default, --commit writes, exit status says whether there were problems."""
from __future__ import annotations

from sqlalchemy import func, select

from tests.imports.helpers import BAD, LEDGER, table_counts
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.models import ImportBatch, LedgerTransaction


def count() -> int:
    return db.session.scalar(select(func.count(LedgerTransaction.id)))


def test_preview_only_writes_nothing(app, runner):
    seed_demo(DEMO_TODAY)
    db.session.commit()
    before = table_counts()
    result = runner.invoke(args=["import", str(LEDGER), "--kind", "ledger"])
    assert result.exit_code == 0, result.output
    assert "420 to add" in result.output and "Preview only" in result.output
    assert "totals row left out" in result.output
    assert table_counts() == before


def test_commit_imports_and_the_same_file_again_is_refused(app, runner):
    seed_demo(DEMO_TODAY)
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


ODD = "Ref X,When,Who,How much\n"


def test_map_chooses_columns_from_the_command_line(app, runner, make, tmp_path):
    make.year("2025-26", status="open")
    db.session.commit()
    path = tmp_path / "odd.csv"
    path.write_text(ODD + "T1,01/05/2025,Acme,10.50\nT2,02/05/2025,,-1\n")
    plain = runner.invoke(args=["import", str(path), "--kind", "ledger"])
    assert plain.exit_code == 2 and "no column chosen for" in plain.output
    result = runner.invoke(args=["import", str(path), "--kind", "ledger", "--map", "reference=Ref X",
                                 "--map", "Posting date=when", "--map", "net=How much", "--map", "supplier_name=Who",
                                 "--commit"])
    assert result.exit_code == 0, result.output
    assert "chosen mapping" in result.output and "Net                      <- How much" in result.output
    assert count() == 2


def test_bad_map_choices_are_refused_with_status_2(app, runner, make, tmp_path):
    make.year("2025-26", status="open")
    db.session.commit()
    path = tmp_path / "odd.csv"
    path.write_text(ODD + "T1,01/05/2025,Acme,10.50\n")
    for args, message in ((["--map", "nonsense"], "say FIELD=Column heading"),
                          (["--map", "colour=Who"], "say FIELD=Column heading"),
                          (["--map", "net=Nope"], "no column headed 'Nope'"),
                          (["--map", "net=Who", "--map", "supplier_name=Who"], "")):
        result = runner.invoke(args=["import", str(path), "--kind", "ledger", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
    assert count() == 0


def test_a_mapping_saved_from_the_web_is_used_by_the_command_line(app, client, auth, runner, make, tmp_path):
    from tests.imports.helpers import upload

    make.year("2025-26", status="open")
    auth.login("finance")
    first = tmp_path / "may.csv"
    first.write_text(ODD + "T1,01/05/2025,Acme,10.50\n")
    response = upload(client, first, kind="ledger")
    token = response.location.split("/drafts/")[1].split("/")[0]
    chosen = {"field-reference": "0", "field-posting_date": "1", "field-supplier_name": "2", "field-net": "3"}
    assert client.post(f"/imports/drafts/{token}/mapping", data=chosen).status_code == 303
    assert client.post(f"/imports/drafts/{token}/commit").status_code == 303
    second = tmp_path / "june.csv"
    second.write_text(ODD + "T2,01/06/2025,Acme,20.00\n")
    result = runner.invoke(args=["import", str(second), "--kind", "ledger", "--commit"])
    assert result.exit_code == 0, result.output
    assert "remembered mapping" in result.output and count() == 2


def test_headings_mapped_on_the_web_are_recognised_without_kind(app, client, auth, runner, make, tmp_path):
    """Headings no synonym knows, once mapped on the web, are found again by a scheduled load that does not say
    --kind, below a title row too; headings nobody mapped are still refused with the reason."""
    from tests.imports.helpers import upload

    make.year("2025-26", status="open")
    auth.login("finance")
    unknown = tmp_path / "other.csv"
    unknown.write_text("Colour,Shape\nred,round\n")
    refused = runner.invoke(args=["import", str(unknown)])
    assert refused.exit_code == 2 and "None of the column headings were recognised" in refused.output
    first = tmp_path / "may.csv"
    first.write_text(ODD + "T1,01/05/2025,Acme,10.50\n")
    token = upload(client, first, kind="ledger").location.split("/drafts/")[1].split("/")[0]
    chosen = {"field-reference": "0", "field-posting_date": "1", "field-supplier_name": "2", "field-net": "3"}
    assert client.post(f"/imports/drafts/{token}/mapping", data=chosen).status_code == 303
    assert client.post(f"/imports/drafts/{token}/commit").status_code == 303
    second = tmp_path / "june.csv"
    second.write_text("June ledger extract\n" + ODD + "T2,01/06/2025,Acme,20.00\n")
    result = runner.invoke(args=["import", str(second), "--commit"])
    assert result.exit_code == 0, result.output
    assert "remembered mapping" in result.output and count() == 2
    line = db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.reference == "T2"))
    assert (line.supplier_name, line.net_pence) == ("Acme", 20_00)
