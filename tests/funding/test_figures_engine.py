"""The figures engine, worked by hand: shares by year, commitments, forecast, variance, RAG, ledger periods.

Every figure here is the one the home page, the budget page, the budget download and the return show (the
agreement between them is tests/funding/test_figures_agree.py).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select, text

from tracker import figures
from tracker.commissions import service as commissions
from tracker.commissions.shares import ShareInput, default_shares, split_by_years
from tracker.extensions import db
from tracker.funding import service as funding
from tracker.models import AuditEvent, Commission, FundingShare, Variation
from tracker.periods import quarter_of_ledger_line, quarter_of_period


def test_thirty_thousand_over_a_calendar_year_splits_by_days_to_the_penny():
    assert split_by_years(30_000_00, date(2026, 1, 1), date(2026, 12, 31)) == [
        ("2025-26", 7_397_26), ("2026-27", 22_602_74)]
    # Rounding never loses a penny: the last share takes what is left.
    parts = split_by_years(1_00, date(2025, 4, 1), date(2028, 3, 31))
    assert [label for label, _ in parts] == ["2025-26", "2026-27", "2027-28"] and sum(p for _, p in parts) == 1_00
    assert split_by_years(5_000_00, date(2025, 5, 1), date(2025, 6, 30)) == [("2025-26", 5_000_00)]


def test_a_new_contract_is_split_and_its_later_share_waits_until_the_year_is_set_up(app, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=80_000_00)
    provider = make.provider()
    db.session.commit()
    c = commissions.create_commission(
        {"reference": "VRU-25-030", "title": "Mentoring", "provider_id": provider.id, "strand_id": line.strand_id,
         "funding_year_id": year.id, "value_pence": 30_000_00, "start_date": date(2026, 1, 1),
         "end_date": date(2026, 12, 31), "status": "live"}, budget_line=line)
    db.session.commit()
    shares = sorted(c.funding_shares, key=lambda s: s.year_label)
    assert [(s.year_label, s.amount_pence, s.budget_line_id) for s in shares] == [
        ("2025-26", 7_397_26, line.id), ("2026-27", 22_602_74, None)]
    assert shares[1].waiting and shares[1].funding_stream_id == line.funding_stream_id
    # 2025-26 counts only its own share as committed, not the whole £30,000.00.
    yf = figures.year_figures(year, 4)
    assert yf.lines[0][1].committed == 7_397_26 and not yf.lines[0][1].over_committed

    nxt = funding.create_year("2026-27")
    db.session.commit()
    assert shares[1].funding_year_id == nxt.id


def test_an_over_committed_line_forecasts_its_commitment_and_shows_red(app, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=80_000_00, description="Young Futures panel",
                            profile=(20_000_00, 20_000_00, 20_000_00, 20_000_00))
    a = make.commission(budget_line=line, value_pence=60_000_00)
    make.commission(budget_line=line, value_pence=42_950_00)
    make.ledger_line(posting_date=date(2025, 5, 20), net_pence=539_99, commission=a)
    db.session.commit()
    f = figures.year_figures(year, 1).lines[0][1]
    assert f.committed == 102_950_00 and f.actual_to_date == 539_99
    assert f.outstanding == 102_410_01  # committed less what was paid on it
    assert f.planned == 0  # the profile still to come (£60,000.00) is less than the outstanding commitment
    assert f.forecast == 102_950_00 and f.variance == 22_950_00 and f.rag == "R" and f.over_committed


def test_planned_spend_is_the_remaining_profile_less_outstanding_unless_finance_sets_it(app, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=80_000_00, profile=(20_000_00,) * 4)
    c = make.commission(budget_line=line, value_pence=30_000_00)
    make.ledger_line(posting_date=date(2025, 8, 1), net_pence=10_000_00, commission=c)
    make.ledger_line(posting_date=date(2025, 6, 1), net_pence=25_000_00, budget_line=line)  # not a contract
    db.session.commit()
    f = figures.year_figures(year, 2).lines[0][1]
    assert (f.actual_to_date, f.outstanding, f.planned) == (35_000_00, 20_000_00, 20_000_00)
    assert f.forecast == 75_000_00 and f.variance == -5_000_00
    funding.set_planned_override(line, 35_000_00, "Evaluation contract due in Q4")
    db.session.commit()
    f = figures.year_figures(year, 2).lines[0][1]
    assert f.planned == 35_000_00 and f.forecast == 90_000_00 and f.planned_overridden
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "BudgetLine")).all()[-1]
    assert "Evaluation contract due in Q4" in event.summary


def test_a_terminated_contract_commits_what_was_paid_and_has_nothing_remaining(app, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=50_000_00)
    c = make.commission(budget_line=line, value_pence=12_000_00, status="terminated")
    make.ledger_line(posting_date=date(2025, 6, 1), net_pence=3_000_00, commission=c)
    db.session.commit()
    yf = figures.year_figures(year, 4)
    share = yf.shares[0]
    assert share.committed == 3_000_00 and share.outstanding == 0 and share.remaining == 0
    assert yf.lines[0][1].committed == 3_000_00


def test_a_contract_split_across_two_streams_counts_in_each(app, make):
    year = make.year("2025-26")
    core = make.budget_line(year=year, stream=make.stream("Home Office VRU core grant"), amount_pence=40_000_00)
    svd = make.budget_line(year=year, stream=make.stream("Serious Violence Duty"), amount_pence=40_000_00)
    make.allocation(year=year, stream=core.funding_stream, pence=100_000_00)
    make.allocation(year=year, stream=svd.funding_stream, pence=60_000_00)
    make.commission(shares=[(year, core, 12_000_00), (year, svd, 8_000_00)], value_pence=20_000_00)
    db.session.commit()
    yf = figures.year_figures(year, 4)
    by_name = {f.name: f for f in yf.streams}
    assert by_name["Home Office VRU core grant"].committed == 12_000_00
    assert by_name["Serious Violence Duty"].committed == 8_000_00
    assert yf.total.committed == 20_000_00
    # Stream variance is against the revised allocation; the total is the sum of the streams.
    assert by_name["Serious Violence Duty"].target == 60_000_00
    assert yf.total.variance == sum(f.variance for f in yf.streams)


def test_shares_on_no_budget_line_and_unassigned_spend_make_their_own_row(app, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=10_000_00)
    make.commission(shares=[(year, None, 5_000_00)], value_pence=5_000_00)
    make.ledger_line(posting_date=date(2025, 7, 1), net_pence=1_234_56)
    make.ledger_line(posting_date=date(2025, 7, 1), net_pence=100_00, budget_line=line)
    db.session.commit()
    yf = figures.year_figures(year, 4)
    assert yf.not_on_a_line.name == figures.NOT_ON_A_LINE
    assert yf.not_on_a_line.committed == 5_000_00 and yf.not_on_a_line.actual_to_date == 1_234_56
    assert yf.total.actual_to_date == 1_334_56 and yf.total.committed == 5_000_00


def test_status_in_a_past_quarter_is_the_status_then(app, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year)
    c = make.commission(budget_line=line, value_pence=9_000_00, status="live")
    db.session.commit()
    # Terminated with effect from 15 November (Q3), whenever it was typed: the contract event's date counts.
    commissions.change_status(c, "terminated", c.version, effective_date=date(2025, 11, 15))
    db.session.commit()
    q2 = figures.year_figures(year, 2, today=date(2026, 5, 1)).shares[0]
    q3 = figures.year_figures(year, 3, today=date(2026, 5, 1)).shares[0]
    assert q2.status == "live" and q2.committed == 9_000_00
    assert q3.status == "terminated" and q3.committed == 0


def _backdate(summary_like: str, when: str, after_id: int = 0) -> None:
    ids = [e.id for e in db.session.scalars(select(AuditEvent).where(AuditEvent.summary.like(summary_like),
                                                                     AuditEvent.id > after_id))]
    assert ids, summary_like
    db.session.execute(text("UPDATE audit_events SET created_at = :t WHERE id IN (%s)" % ",".join(map(str, ids))),
                       {"t": when})
    db.session.commit()


def test_values_and_dates_in_a_past_quarter_are_those_of_then(app, make):
    """An edit after the quarter end is left out of that quarter's figures; a variation agreed before the quarter
    end counts even when recorded after it; a contract entered late counts as entered."""
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=90_000_00)
    late = make.commission(budget_line=line, value_pence=5_000_00)  # entered after Q2 ended: it still counts
    c = make.commission(budget_line=line, value_pence=20_000_00, end_date=date(2026, 3, 31))
    db.session.commit()
    commissions.update_commission(c, {**{k: getattr(c, k) for k in commissions.COMMISSION_FIELDS},
                                      "value_pence": 26_000_00, "end_date": date(2026, 3, 31)}, c.version,
                                  shares=[ShareInput("2025-26", 26_000_00, line.id, line.funding_stream_id)])
    db.session.commit()
    _backdate("%" + c.reference + "%", "2025-11-20 10:00:00")  # edited in Q3
    q2 = figures.year_figures(year, 2, today=date(2026, 5, 1))
    assert sorted(s.committed for s in q2.shares) == [5_000_00, 20_000_00]
    q3 = figures.year_figures(year, 3, today=date(2026, 5, 1))
    assert sorted(s.committed for s in q3.shares) == [5_000_00, 26_000_00]

    last = db.session.scalar(select(db.func.max(AuditEvent.id)))
    commissions.add_variation(c, date(2025, 12, 15), "Extra sessions", 4_000_00, None, c.version)
    db.session.commit()
    _backdate(f"%{c.reference}%", "2026-01-10 09:00:00", after_id=last)  # recorded in Q4 ...
    q3 = figures.year_figures(year, 3, today=date(2026, 5, 1))
    assert sorted(s.committed for s in q3.shares) == [5_000_00, 30_000_00]  # ... but the variation was agreed in Q3
    assert late.id in {s.share.commission_id for s in q2.shares}


def test_ledger_periods_count_in_their_quarter_and_adjustment_periods_in_q4():
    assert [quarter_of_period(p) for p in (1, 3, 4, 12, 13, 16)] == [1, 1, 2, 4, 4, 4]
    # A stored period a ledger never uses falls back to the posting month.
    assert quarter_of_ledger_line(0, 5) == 1 and quarter_of_ledger_line(99, 1) == 4
    assert quarter_of_ledger_line(None, None) == 4


def test_a_period_13_line_counts_in_q4_and_no_page_fails(client, auth, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year)
    make.ledger_line(posting_date=date(2026, 3, 31), net_pence=777_00, budget_line=line, period=13)
    db.session.commit()
    assert figures.year_figures(year, 4).total.actual_by_quarter == [0, 0, 0, 777_00]
    auth.login("viewer")
    for url in ("/", "/funding/budget?year=2025-26&quarter=4", "/returns/?year=2025-26&quarter=4"):
        assert client.get(url).status_code == 200, url


def test_corrupt_rows_already_in_the_database_never_make_a_page_fail(client, auth, make):
    """Values no form or import would write, put in directly: every page still answers."""
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=0, profile=(0, 0, 0, 0))
    c = make.commission(budget_line=line, value_pence=1_00)
    for period in (0, -3, 99, 2_000_000):
        make.ledger_line(posting_date=date(2025, 6, 1), net_pence=-5_00, budget_line=line, period=period)
    make.ledger_line(posting_date=date(2024, 1, 1), net_pence=10**15, commission=c, year=year)
    db.session.commit()
    db.session.execute(text("UPDATE commissions SET status = 'bogus' WHERE id = :i"), {"i": c.id})
    db.session.execute(text("UPDATE funding_shares SET amount_pence = -100"))
    db.session.commit()
    auth.login("admin")
    urls = ["/", "/funding/budget?year=2025-26&quarter=1", "/funding/budget?year=2025-26&quarter=4",
            "/returns/prepare?year=2025-26&quarter=4", "/exports/budget.csv?year=2025-26&quarter=4",
            "/exports/budget.xlsx?year=2025-26", f"/commissions/{c.id}", f"/commissions/{c.id}/edit",
            "/commissions/", "/returns/2025-26/q4/draft.xlsx", "/returns/2025-26/q4/issue", f"/funding/years/{year.id}", "/funding/years",
            f"/funding/years/{year.id}/roll-over", f"/funding/lines/{line.id}/planned", "/imports/unmatched",
            "/monitoring/", "/milestones/", "/milestones/timeline", "/providers/", "/exports/ledger.csv?year=2025-26",
            "/exports/commissions.xlsx", f"/commissions/{c.id}/outputs"]
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_rolling_over_copies_no_contract_and_attaches_the_waiting_shares(app, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year, description="Mentoring")
    c = make.commission(budget_line=line, value_pence=30_000_00, start_date=date(2026, 1, 1),
                        end_date=date(2026, 12, 31))
    db.session.commit()
    target, plan = funding.roll_over(year)
    db.session.commit()
    assert db.session.scalar(select(db.func.count(Commission.id))) == 1
    assert db.session.scalar(select(db.func.count(Variation.id))) == 0
    c = db.session.get(Commission, c.id)
    assert c.value_pence == 30_000_00 and c.reference.count("/") == 0
    later = next(s for s in c.funding_shares if s.year_label == "2026-27")
    assert later.funding_year_id == target.id and later.budget_line.description == "Mentoring"
    assert later.budget_line.funding_year_id == target.id and later.amount_pence == 22_602_74
    # Again: nothing new.
    funding.roll_over(year)
    db.session.commit()
    assert db.session.scalar(select(db.func.count(FundingShare.id))) == 2


def test_a_variation_proposes_the_new_shares_and_keeps_closed_years(app, make):
    closed = make.year("2024-25", status="closed")
    year = make.year("2025-26")
    old_line = make.budget_line(year=closed)
    line = make.budget_line(year=year)
    c = make.commission(shares=[(closed, old_line, 10_000_00), (year, line, 10_000_00)], value_pence=20_000_00,
                        year=closed, start_date=date(2024, 10, 1), end_date=date(2025, 9, 30))
    db.session.commit()
    proposal = commissions.proposed_shares(c, 26_000_00, date(2026, 3, 31))
    assert ShareInput("2024-25", 10_000_00, old_line.id, old_line.funding_stream_id) in proposal
    assert sum(s.amount_pence for s in proposal) == 26_000_00
    assert [s for s in proposal if s.year_label == "2025-26"][0].amount_pence == 16_000_00
    commissions.add_variation(c, date(2025, 9, 1), "Six more months", 6_000_00, date(2026, 3, 31), c.version)
    db.session.commit()
    assert c.value_pence == 26_000_00
    assert sorted((s.year_label, s.amount_pence) for s in c.funding_shares) == [("2024-25", 10_000_00), ("2025-26", 16_000_00)]


def test_shares_that_do_not_add_up_are_refused_with_the_difference(app, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year)
    c = make.commission(budget_line=line, value_pence=10_000_00)
    db.session.commit()
    try:
        commissions.update_commission(c, {**{k: getattr(c, k) for k in commissions.COMMISSION_FIELDS}}, c.version,
                                      shares=[ShareInput("2025-26", 9_000_00, line.id)])
    except commissions.FieldErrors as exc:
        assert "add up to £9,000.00, £1,000.00 less than the value (£10,000.00)" in exc.errors["funding_shares"]
    else:
        raise AssertionError("shares that do not add up were saved")
    db.session.rollback()
    assert db.session.get(Commission, c.id).funding_shares[0].amount_pence == 10_000_00


def test_default_shares_put_the_line_on_its_own_year_only(app, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year)
    shares = default_shares(20_000_00, date(2025, 10, 1), date(2026, 9, 30), line)
    assert [(s.year_label, s.budget_line_id) for s in shares] == [("2025-26", line.id), ("2026-27", None)]
    assert all(s.funding_stream_id == line.funding_stream_id for s in shares)
