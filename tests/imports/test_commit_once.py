"""A draft commits at most once, the same file cannot land twice even while the first import is still
committing, budget lines are unique per natural key, and a clash shows a sentence (issue 12, finding 1)."""
from __future__ import annotations

import hashlib
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.imports.helpers import BUDGET, LEDGER, draft_of, upload
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.imports import committing, service
from tracker.models import BudgetLine, ImportBatch, LedgerTransaction


@pytest.fixture
def finance(app, auth):
    seed_demo(DEMO_TODAY)
    db.session.commit()
    return auth.login("finance")


def _draft_url(client, path, **fields) -> str:
    response = upload(client, path, **fields)
    assert response.status_code == 303, response.text
    mapping = response.location
    token = mapping.split("/drafts/")[1].split("/")[0]
    assert client.get(f"/imports/drafts/{token}").status_code == 200  # the preview
    return f"/imports/drafts/{token}"


def _budget_total(year_label="2025-26") -> int:
    from tracker.models import FundingYear

    return db.session.scalar(select(func.coalesce(func.sum(BudgetLine.amount_pence), 0)).join(FundingYear)
                             .where(FundingYear.label == year_label))


def test_a_second_commit_of_the_same_draft_goes_to_the_first_import(client, finance):
    draft = _draft_url(client, BUDGET, year="2025-26")
    before = _budget_total()
    first = client.post(draft + "/commit")
    assert first.status_code == 303
    after_one = _budget_total()
    second = client.post(draft + "/commit")
    assert second.status_code == 303 and second.location == first.location
    page = client.get(second.location)
    assert "already committed as import" in page.text
    db.session.expire_all()
    assert db.session.scalar(select(func.count(ImportBatch.id)).where(ImportBatch.status == "committed")) == 1
    assert _budget_total() == after_one


def test_two_commits_at_once_write_once(app, client, finance):
    """Two tabs press Import at the same moment: one batch, the budget counted once, both answered 303."""
    draft = _draft_url(client, BUDGET, year="2025-26")
    cookie = client.get_cookie("session").value
    other = app.test_client()
    other.set_cookie("session", cookie)
    start = threading.Barrier(2)
    answers = []

    def press(c):
        start.wait()
        answers.append(c.post(draft + "/commit"))

    threads = [threading.Thread(target=press, args=(c,)) for c in (client, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(r.status_code for r in answers) == [303, 303], [r.text[:3000] for r in answers if r.status_code != 303]
    assert len({r.location for r in answers}) == 1
    db.session.expire_all()
    committed = db.session.scalars(select(ImportBatch).where(ImportBatch.kind == "budget")).all()
    assert [b.status for b in committed] == ["committed"]
    lines = db.session.execute(select(BudgetLine.funding_stream_id, BudgetLine.category_id, BudgetLine.strand_id,
                                      func.count()).group_by(BudgetLine.funding_stream_id, BudgetLine.category_id,
                                                             BudgetLine.strand_id, BudgetLine.funding_year_id)).all()
    assert all(n == 1 for *_, n in lines)


def _blind_once(real):
    calls = []

    def check(value):
        calls.append(value)
        return None if len(calls) == 1 else real(value)

    return check


def test_the_claim_holds_when_both_requests_passed_the_check(app, finance, monkeypatch):
    """The race itself: the other request inserted its batch after this one looked. The unique draft token
    makes this one's insert fail, and it is sent to the other's batch instead of importing again."""
    draft = draft_of(LEDGER)
    service.preview(draft)
    lines = db.session.scalar(select(func.count(LedgerTransaction.id)))
    other = service.create_batch(draft, leave_out=False, user_id=None)
    for name in ("batch_of_draft", "earlier_batch"):  # each check looks before the other request's insert
        monkeypatch.setattr(committing, name, _blind_once(getattr(committing, name)))
    with pytest.raises(service.AlreadyCommitted) as refused:
        service.commit(draft, user_id=None)
    assert refused.value.batch.id == other.id
    assert db.session.scalar(select(func.count(ImportBatch.id))) == 1
    assert db.session.scalar(select(func.count(LedgerTransaction.id))) == lines


def test_a_file_still_committing_counts_as_already_imported(client, finance, make):
    sha = hashlib.sha256(LEDGER.read_bytes()).hexdigest()
    running = make.import_batch(status="committing", sha256=sha, worker=service.this_worker())
    service._progress[running.id] = 0  # this process is at work on it, so it is not taken as interrupted
    db.session.commit()
    try:
        response = upload(client, LEDGER)
    finally:
        service._progress.pop(running.id, None)
    assert response.status_code == 409
    assert f"being imported now (import {running.id}" in response.text


def test_two_drafts_of_one_file_cannot_both_be_active(app, finance):
    """The database itself refuses a second committing/committed batch of the same file."""
    first = draft_of(LEDGER)
    second = draft_of(LEDGER)
    service.preview(first)
    service.create_batch(first, leave_out=False, user_id=None)
    service.preview(second)
    with pytest.raises(service.ImportRefused) as refused:
        service.create_batch(second, leave_out=False, user_id=None)
    assert refused.value.status == 409 and "being imported now" in refused.value.message
    with pytest.raises(IntegrityError):
        db.session.add(ImportBatch(kind="ledger", filename="x.xlsx", sha256=first.sha256, status="committed"))
        db.session.flush()
    db.session.rollback()


def test_budget_lines_are_unique_per_year_stream_category_and_strand(app, make):
    line = make.budget_line()
    with pytest.raises(IntegrityError):
        make.budget_line(year=line.funding_year, stream=line.funding_stream, category=line.category,
                         strand=line.strand)
    db.session.rollback()


def test_the_budget_line_form_says_the_line_exists(client, auth, make):
    line = make.budget_line(description="Mentoring")
    db.session.commit()
    auth.login("finance")
    response = client.post(f"/funding/years/{line.funding_year_id}/lines/new", data={
        "funding_stream_id": line.funding_stream_id, "category_id": line.category_id, "strand_id": line.strand_id,
        "description": "Again", "amount": "100", "q1": "25", "q2": "25", "q3": "25", "q4": "25"})
    assert response.status_code == 422
    assert "already has a budget line for" in response.text and "change that line instead" in response.text
    assert db.session.scalar(select(func.count(BudgetLine.id))) == 1


def test_a_ledger_clash_at_commit_is_a_sentence(client, finance, monkeypatch):
    """Another import saved one of the same lines while this one ran: a sentence, not IntegrityError text."""
    draft = _draft_url(client, LEDGER)
    lines = db.session.scalar(select(func.count(LedgerTransaction.id)))
    real = service.insert_ledger_chunk

    def someone_else_first(rows):
        from datetime import date, datetime

        from sqlalchemy import insert

        from tracker.imports.checked import INSERT_COLUMNS

        first = dict(zip(INSERT_COLUMNS, rows[0]))
        first = {k: v for k, v in first.items() if k not in ("import_batch_id", "created_at")}
        if isinstance(first.get("posting_date"), str):
            first["posting_date"] = date.fromisoformat(first["posting_date"])
        with db.engine.begin() as other:
            other.execute(insert(LedgerTransaction), [{**first, "created_at": datetime(2025, 1, 1)}])
        real(rows)

    monkeypatch.setattr(committing, "insert_ledger_chunk", someone_else_first)
    response = client.post(draft + "/commit")
    assert response.status_code == 303
    page = client.get(response.location)
    assert "were saved by another import while this one ran, so nothing was saved" in page.text
    for raw in ("IntegrityError", "UNIQUE constraint", "duplicate key", "psycopg", "sqlite3"):
        assert raw not in page.text
    db.session.expire_all()
    assert db.session.scalar(select(func.count(LedgerTransaction.id))) == lines + 1


def test_a_withdrawal_racing_another_is_refused(app, finance):
    """Two Withdraw presses at once: the second finds the import already claimed and changes nothing."""
    batch = service.commit(draft_of(LEDGER))
    lines = db.session.scalar(select(func.count(LedgerTransaction.id)))
    stale = db.session.get(ImportBatch, batch.id)  # this request read it while it was committed ...
    from sqlalchemy import update

    with db.engine.begin() as other:  # ... and another withdrew it first
        other.execute(update(ImportBatch).where(ImportBatch.id == batch.id).values(status="withdrawn"))
    assert stale.status == "committed"
    with pytest.raises(service.ImportRefused, match="Someone else has just withdrawn"):
        service.withdraw(stale)
    db.session.rollback()
    assert db.session.scalar(select(func.count(LedgerTransaction.id))) == lines
