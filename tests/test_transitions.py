"""Races between two people on records with states (issue 26): a transparency file or a return issued twice at
once, a roll-over run twice, an import withdrawn while one of its lines is assigned, an allocation confirmed
twice. The loser gets a 409 that says what happened and links to the record; one transition, one audit entry,
no orphan file.

A race is made deterministic by letting the first request read what it needs and then, at a chosen function,
running the second request to the end (``race``): the first then writes over a state that has moved on, as it
would have if the two had been pressed at the same moment. Each request runs in its own app context and session
(conftest's IsolatedClient), on SQLite and PostgreSQL.
"""
from __future__ import annotations

import os
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tracker.extensions import db
from tracker.models import AuditEvent, PccReturn, Publication


def race(monkeypatch, owner, name: str, other):
    """Make ``owner.name`` run ``other()`` (the second person's whole request) the first time it is called."""
    original = getattr(owner, name)
    done = []

    def first_lets_the_other_in(*args, **kwargs):
        if not done:
            done.append(None)  # the other request calls this too: it must run through, not start a third
            done[0] = other()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, first_lets_the_other_in)
    return done


def second_person(app, make, role: str = "finance"):
    """A second signed-in client: another person at another desk."""
    other = app.test_client()
    user = make.user(role=role, password=PASSWORD)
    db.session.commit()
    assert other.post("/sign-in", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return other


def audits(object_type: str) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.object_type == object_type))


def stored(app, folder: str) -> list[str]:
    path = os.path.join(app.config["DATA_DIR"], folder)
    return sorted(n for n in os.listdir(path) if not n.startswith(".")) if os.path.isdir(path) else []


# --- transparency files -----------------------------------------------------------------------------------------

@pytest.fixture
def may_spend(make):
    make.ledger_line(posting_date=date(2025, 5, 2), net_pence=900_00, supplier_name="Exact Ltd", reference="TX-1")
    db.session.commit()


def test_two_issues_of_a_transparency_file_at_once_make_one_version_and_no_orphan_file(app, make, client, auth,
                                                                                        may_spend, monkeypatch):
    from tracker.procurement import transparency

    auth.login("finance")
    other = second_person(app, make)
    seen = race(monkeypatch, transparency, "build",
                lambda: other.post("/publications/spend-monthly/issue", data={"period": "2025-05", "latest": "0"}))
    lost = client.post("/publications/spend-monthly/issue", data={"period": "2025-05", "latest": "0"})
    assert seen[0].status_code == 303
    assert lost.status_code == 409
    assert "Someone else issued version 1" in lost.text and "See version 1 as it was issued" in lost.text
    pub = db.session.scalars(select(Publication)).one()
    assert pub.version == 1 and audits("Publication") == 1
    assert stored(app, transparency.FOLDER) == [pub.stored_path.rsplit("/", 1)[1]]


def test_an_issue_pressed_on_a_page_older_than_the_latest_version_is_a_409(app, make, client, auth, may_spend):
    auth.login("finance")
    assert client.post("/publications/spend-monthly/issue",
                       data={"period": "2025-05", "latest": "0"}).status_code == 303
    # A second tab, opened before version 1 was issued, sends its correction note: it corrected nothing it saw.
    stale = client.post("/publications/spend-monthly/issue",
                        data={"period": "2025-05", "latest": "0", "correction_note": "typo"})
    assert stale.status_code == 409 and "Version 1 of" in stale.text and "was issued while you were" in stale.text
    assert db.session.scalar(select(func.count(Publication.id))) == 1 and audits("Publication") == 1
    assert len(stored(app, "publications")) == 1


# --- returns ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("with_draft", [True, False], ids=["notes-saved-first", "no-draft-yet"])
def test_two_issues_of_a_return_at_once_make_one_version_and_no_orphan_file(app, make, client, auth, monkeypatch,
                                                                           with_draft):
    from tracker.returns import service

    make.commission()
    if with_draft:
        service.save_notes(make.year(), 2, "Our notes", None)
    db.session.commit()
    auth.login("finance")
    other = second_person(app, make, "manager")
    seen = race(monkeypatch, service, "_ensure_draft" if not with_draft else "save_notes",
                lambda: other.post("/returns/2025-26/q2/issue", data={"version": "1", "narrative": "Theirs"}))
    data = {"version": "1"} | ({"narrative": "Mine"} if with_draft else {})
    lost = client.post("/returns/2025-26/q2/issue", data=data)
    assert seen[0].status_code == 303
    assert lost.status_code == 409, lost.text
    assert "Someone else issued version 1 of the 2025-26 Q2 return" in lost.text
    record = db.session.scalars(select(PccReturn)).one()
    assert (record.status, record.version, record.narrative) == ("issued", 1, "Theirs")
    assert f"/returns/issued/{record.id}" in lost.text
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.object_type == "PccReturn", AuditEvent.summary.like("Issued%"))) == 1
    assert stored(app, service.RETURNS_FOLDER) == [record.stored_path.rsplit("/", 1)[1]]


# --- roll-over ----------------------------------------------------------------------------------------------------

def test_two_roll_overs_at_once_make_the_next_year_once(app, make, client, auth, monkeypatch):
    from tracker.funding import service
    from tracker.models import Allocation, BudgetLine, FundingYear

    year = make.year("2025-26")
    make.allocation(year)
    make.budget_line(year)
    db.session.commit()
    auth.login("finance")
    other = second_person(app, make)
    url = f"/funding/years/{year.id}/roll-over"
    seen = race(monkeypatch, service, "create_year", lambda: other.post(url))
    lost = client.post(url)
    assert seen[0].status_code == 303
    assert lost.status_code == 409 and "Someone else rolled 2025-26 over into 2026-27" in lost.text
    target = db.session.scalars(select(FundingYear).where(FundingYear.label == "2026-27")).one()
    assert f"/funding/years/{target.id}" in lost.text
    assert db.session.scalar(select(func.count(Allocation.id)).where(Allocation.funding_year_id == target.id)) == 1
    assert db.session.scalar(select(func.count(BudgetLine.id)).where(BudgetLine.funding_year_id == target.id)) == 1
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.summary.like("Rolled 2025-26%"))) == 1


# --- an import withdrawn while a line of it is assigned -----------------------------------------------------------

def test_assigning_a_line_whose_import_is_withdrawn_at_that_moment_is_a_409(app, make, client, auth, monkeypatch):
    from tracker.imports import matching
    from tracker.models import ImportBatch, LedgerTransaction, SupplierAlias

    commission = make.commission()
    batch = make.import_batch(status="committed", undo={"updated": [], "created": {}})
    line_id = make.ledger_line(supplier_name="Acme Youth Ltd", import_batch_id=batch.id).id
    db.session.commit()
    auth.login("finance")
    other = second_person(app, make)
    seen = race(monkeypatch, matching, "assign", lambda: other.post(f"/imports/{batch.id}/withdraw"))
    lost = client.post("/imports/unmatched/assign",
                       data={"commission": commission.id, "lines": [line_id], "remember": "y", "confirm": "yes"})
    assert seen[0].status_code == 303
    assert lost.status_code == 409 and "their import was withdrawn at the same moment" in lost.text
    assert "/imports/unmatched" in lost.text
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).status == "withdrawn"
    assert db.session.get(LedgerTransaction, line_id) is None
    # Nothing of the assignment stayed: no remembered supplier, no audit entry saying the line was assigned.
    assert db.session.scalar(select(func.count(SupplierAlias.id))) == 0
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.summary.like("Assigned%"))) == 0
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.summary.like("Withdrew%"))) == 1


def test_a_second_withdrawal_of_the_same_import_is_refused_with_a_409(app, make, client, auth, monkeypatch):
    from tracker.imports import withdrawal
    from tracker.models import ImportBatch

    batch = make.import_batch(status="committed", undo={"updated": [], "created": {}})
    make.ledger_line(import_batch_id=batch.id)
    db.session.commit()
    auth.login("finance")
    other = second_person(app, make)
    # Both pressed Withdraw: each passed the check (the batch was committed) before either claimed it.
    check = withdrawal.withdraw_refusal
    seen = race(monkeypatch, withdrawal, "withdraw_refusal", lambda: other.post(f"/imports/{batch.id}/withdraw"))
    lost = client.post(f"/imports/{batch.id}/withdraw")
    assert seen[0].status_code == 303 and check is not withdrawal.withdraw_refusal
    assert lost.status_code == 409 and "Someone else has just withdrawn this import" in lost.text
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).status == "withdrawn"
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.summary.like("Withdrew%"))) == 1


# --- allocations: draft -> confirmed ------------------------------------------------------------------------------

def _confirming(amount: str, reference: str) -> dict:
    return {"amount": amount, "status": "confirmed", "reason": "Grant letter arrived", "shown_status": "draft",
            "grant_letter_date": "14/06/2025", "grant_letter_reference": reference}


def test_two_confirmations_of_a_draft_allocation_at_once_confirm_it_once(app, make, client, auth, monkeypatch):
    from tracker.funding import service
    from tracker.models import Allocation, AllocationRevision

    allocation = make.allocation(pence=100_000_00, status="draft")
    db.session.commit()
    auth.login("finance")
    other = second_person(app, make)
    url = f"/funding/allocations/{allocation.id}"
    seen = race(monkeypatch, service, "require_open_year", lambda: other.post(url, data=_confirming("90000", "HO-1")))
    lost = client.post(url, data=_confirming("95000", "HO-2"))
    assert seen[0].status_code == 303
    assert lost.status_code == 409 and "Someone else changed the allocation" in lost.text and url in lost.text
    db.session.expire_all()
    now = db.session.get(Allocation, allocation.id)
    assert (now.status, now.revised_pence, now.grant_letter_reference) == ("confirmed", 90_000_00, "HO-1")
    assert db.session.scalar(select(func.count(AllocationRevision.id))) == 1
    assert audits("Allocation") == 1


def test_a_revision_from_a_form_shown_before_the_allocation_was_confirmed_is_a_409(app, make, client, auth):
    from tracker.models import Allocation

    allocation = make.allocation(pence=100_000_00, status="draft")
    db.session.commit()
    auth.login("finance")
    url = f"/funding/allocations/{allocation.id}"
    assert client.post(url, data=_confirming("90000", "HO-1")).status_code == 303
    # The second tab still shows a draft: leaving its status at draft would put the confirmation back.
    stale = client.post(url, data={**_confirming("80000", "HO-1"), "status": "draft"})
    assert stale.status_code == 409
    db.session.expire_all()
    now = db.session.get(Allocation, allocation.id)
    assert (now.status, now.revised_pence) == ("confirmed", 90_000_00) and audits("Allocation") == 1


# --- the sweep: issued files no record keeps ----------------------------------------------------------------------

def test_the_sweep_removes_issued_files_no_record_keeps_once_an_hour_old(app, make, client, auth, runner, may_spend):
    import time

    from tracker import files
    from tracker.imports.sweep import sweep_orphans

    auth.login("finance")
    assert client.post("/publications/spend-monthly/issue", data={"period": "2025-05"}).status_code == 303
    kept = db.session.scalars(select(Publication)).one().stored_path
    # What an issue killed between writing its file and committing leaves behind, in each folder of issued files.
    orphans = [files.write(folder, files.generated_name("csv"), b"x").path
               for folder in ("publications", "returns", "claims")]
    fresh = files.write("publications", files.generated_name("csv"), b"x").path  # an issue still running
    hour_ago = time.time() - 3_700
    for path in [*orphans, kept]:
        os.utime(files.locate(path), (hour_ago, hour_ago))
    assert sorted(sweep_orphans()) == sorted(orphans)
    assert files.exists(kept) and files.exists(fresh)
    assert client.get(f"/publications/issued/{db.session.scalars(select(Publication)).one().id}.csv").status_code == 200
    result = runner.invoke(args=["imports-sweep"])
    assert result.exit_code == 0 and "Removed 0 issued files that no record keeps" in result.output


# --- an import's commit against the sweep of interrupted ones -----------------------------------------------------

def test_the_sweep_leaves_a_batch_whose_commit_finished_after_it_looked(app, make):
    from sqlalchemy import update

    from tracker.imports.committing import INTERRUPTED, mark_failed
    from tracker.models import ImportBatch

    batch = make.import_batch(status="committing", draft_token="t-1")
    db.session.commit()
    # The sweep read it as committing; the commit then finished in its own process and transaction.
    with db.engine.begin() as other:
        other.execute(update(ImportBatch).where(ImportBatch.id == batch.id).values(status="committed"))
    assert mark_failed(batch, INTERRUPTED) is False
    db.session.commit()
    assert (batch.status, batch.draft_token) == ("committed", "t-1") and audits("ImportBatch") == 0
    # A batch still committing is marked failed, once, and its draft freed to be committed again.
    stuck = make.import_batch(status="committing", draft_token="t-2")
    db.session.commit()
    assert mark_failed(stuck, INTERRUPTED) is True and mark_failed(stuck, INTERRUPTED) is False
    db.session.commit()
    assert (stuck.status, stuck.draft_token) == ("failed", None) and audits("ImportBatch") == 1


# --- funding years: open, closed, reopened ------------------------------------------------------------------------

def test_two_closes_of_a_year_at_once_close_it_once(app, make, client, auth, monkeypatch):
    from tracker.funding import service
    from tracker.models import FundingYear

    year = make.year("2025-26")
    db.session.commit()
    auth.login("finance")
    other = second_person(app, make)
    url = f"/funding/years/{year.id}/close"
    seen = race(monkeypatch, service, "require_open_year", lambda: other.post(url))
    lost = client.post(url)
    assert seen[0].status_code == 303
    assert lost.status_code == 409 and "so it was not closed again" in lost.text
    assert f"/funding/years/{year.id}" in lost.text
    db.session.expire_all()
    assert db.session.get(FundingYear, year.id).status == "closed"
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.summary.like("%2025-26 closed"))) == 1


def test_an_issue_from_a_return_page_shown_before_the_last_version_is_a_409_linking_to_it(app, make, client, auth):
    make.commission()
    db.session.commit()
    auth.login("finance")
    assert client.post("/returns/2025-26/q2/issue", data={"version": "1"}).status_code == 303
    stale = client.post("/returns/2025-26/q2/issue", data={"version": "1", "correction_reason": "typo"})
    record = db.session.scalars(select(PccReturn)).one()
    assert stale.status_code == 409 and "Version 1 of this return was issued while you were checking it" in stale.text
    assert f"/returns/issued/{record.id}" in stale.text and len(stored(app, "returns")) == 1
