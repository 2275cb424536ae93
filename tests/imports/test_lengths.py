"""Values longer than their columns are located problems at the preview, never a database error at the commit;
narratives are capped at 2,000 characters (issue 12, finding 10)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.imports.helpers import draft_of, table_counts
from tests.imports.test_pipeline import ledger_csv
from tracker.extensions import db
from tracker.imports import service
from tracker.models import Commission


def test_over_long_ledger_cells_are_located_problems(app, make):
    make.year("2025-26")
    db.session.commit()
    before = table_counts()
    data = ledger_csv("R" * 61 + ",01/05/2025,S1,Acme,,Rent,1.00", "T2,01/05/2025,S1,Acme,," + "n" * 2001 + ",1.00",
                      "T3,01/05/2025,S1,Acme,," + "n" * 2000 + ",1.00")
    draft = draft_of("ledger.csv", data=data)
    p = service.preview(draft)
    assert p["counts"]["error"] == 2 and p["counts"]["add"] == 1
    texts = [service.problem_text(q) for q in p["problems"]]
    assert texts[0].startswith("ledger, row 2, Transaction Ref:") and "longer than 60 characters" in texts[0]
    assert texts[1].startswith("ledger, row 3, Narrative:") and "longer than 2000 characters" in texts[1]
    with pytest.raises(service.ImportRefused):
        service.commit(draft)
    db.session.rollback()
    assert table_counts() == before  # nothing imported


def test_an_over_long_commission_reference_is_a_problem_not_a_database_error(app, make):
    make.year("2025-26")
    make.strand("Serious Youth Violence")
    db.session.commit()
    data = ("Contract Ref,Service,Provider,Strand,Contract Value (£),Start Date,End Date\n"
            f"{'C' * 41},Mentoring,Acme,Serious Youth Violence,100.00,01/05/2025,31/03/2026\n"
            f"VRU-OK-1,{'t' * 201},Acme,Serious Youth Violence,100.00,01/05/2025,31/03/2026\n"
            f"VRU-OK-2,Mentoring,{'p' * 201},Serious Youth Violence,100.00,01/05/2025,31/03/2026\n"
            "VRU-OK-3,Mentoring,Acme,Serious Youth Violence,100.00,01/05/2025,31/03/2026\n").encode()
    draft = draft_of("register.csv", data=data, kind="commissions")
    p = service.preview(draft)
    assert p["counts"]["error"] == 3 and p["counts"]["add"] == 1
    messages = [q["message"] for q in p["problems"]]
    assert messages == ["is longer than 40 characters", "is longer than 200 characters", "is longer than 200 characters"]
    batch = service.commit(draft, leave_out=True)
    assert batch.status == "committed"
    assert db.session.scalar(select(func.count(Commission.id))) == 1
