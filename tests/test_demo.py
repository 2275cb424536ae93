"""The demo lives in the day it runs: the year containing that day open with its lines and spend to date, last
year closed with its Q4 return issued, next year a draft rolled over (so next year's contract shares sit on lines),
and nothing done, paid or spent after that day. Run as of two days years apart."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.models import BudgetLine, Commission, FundingShare, FundingYear, LedgerTransaction, Milestone, PccReturn
from tracker.models.claims import Claim


@pytest.mark.parametrize("today, last, this, following", [
    (date(2026, 12, 8), "2025-26", "2026-27", "2027-28"),
    (date(2031, 6, 15), "2030-31", "2031-32", "2032-33"),
])
def test_the_demo_is_built_around_the_day_it_runs(app, today, last, this, following):
    seed_demo(today)
    years = {y.label: y for y in db.session.scalars(select(FundingYear))}
    assert {label: y.status for label, y in years.items()} == {last: "closed", this: "open", following: "draft"}
    lines = lambda label: db.session.scalar(select(func.count(BudgetLine.id))
                                            .where(BudgetLine.funding_year_id == years[label].id))
    assert lines(this) >= 12 and lines(following) == lines(this) and lines(last) == lines(this)
    # Last year's Q4 return is issued (its file kept), and the year is closed.
    q4 = db.session.scalars(select(PccReturn).where(PccReturn.funding_year_id == years[last].id)).one()
    assert (q4.quarter, q4.status, q4.version) == (4, "issued", 1) and q4.sha256
    # Spend to date in the open year, none after today.
    spent = select(func.count(LedgerTransaction.id)).where(LedgerTransaction.funding_year_id == years[this].id)
    assert db.session.scalar(spent) > 50
    assert db.session.scalar(select(func.max(LedgerTransaction.posting_date))) <= today
    # Nothing done, submitted or paid in the future.
    assert db.session.scalar(select(func.max(Milestone.completed_date))) <= today
    assert all(c.submitted_on is None or c.submitted_on <= today for c in db.session.scalars(select(Claim)))
    # A contract running into next year has its share of it on one of next year's lines (from the roll-over).
    shares = db.session.scalars(select(FundingShare).join(Commission).where(
        FundingShare.funding_year_id == years[following].id)).all()
    assert shares and all(s.budget_line_id is not None for s in shares)
    # Running it again changes nothing.
    counts = lambda: (db.session.scalar(select(func.count(LedgerTransaction.id))),
                      db.session.scalar(select(func.count(Milestone.id))))
    before = counts()
    seed_demo(today)
    assert counts() == before


def test_the_demo_pages_open(client, auth):
    seed_demo(date(2026, 12, 8))
    auth.login("finance")
    for url in ("/", "/funding/budget?year=2026-27", "/funding/budget?year=2025-26", "/returns/", "/milestones/"):
        assert client.get(url).status_code == 200, url


def test_contract_dates_and_statuses_follow_the_day(app):
    seed_demo(date(2026, 12, 8))
    by_ref = {c.reference: c for c in db.session.scalars(select(Commission))}
    # The demo's 1 April to 31 March contracts run in the open year.
    assert (by_ref["VRU-25-001"].start_date, by_ref["VRU-25-001"].end_date) == (date(2026, 4, 1), date(2027, 3, 31))
    # A contract that ends in January of the open year has not ended on 8 December: it is still live.
    assert by_ref["VRU-25-020"].end_date == date(2027, 1, 31) and by_ref["VRU-25-020"].status == "live"
    assert by_ref["VRU-25-016"].status == "live"  # ends 31 December 2026
    assert by_ref["VRU-25-017"].status == "ended"  # ended 30 September 2026
