"""Generated deadlines: made from years and commissions, following them, never duplicated; grouping and marking."""
from datetime import date

from sqlalchemy import func, select

from tracker import settings
from tracker.extensions import db
from tracker.milestones import service
from tracker.models import Milestone


def _generated():
    return {m.source_key: m for m in db.session.scalars(select(Milestone).where(Milestone.source_key.is_not(None)))}


def test_a_year_makes_its_returns_final_claim_and_annual_report(make):
    year = make.year("2025-26")
    db.session.commit()
    got = _generated()
    assert got[f"year:{year.id}:q1-return"].due_date == date(2025, 7, 30)  # 30 June + 30 days
    assert got[f"year:{year.id}:q3-return"].due_date == date(2026, 1, 30)
    assert got[f"year:{year.id}:q4-return"].due_date == date(2026, 4, 30)
    assert got[f"year:{year.id}:final-claim"].due_date == date(2026, 5, 15)  # 31 March + 45
    assert got[f"year:{year.id}:annual-report"].due_date == date(2026, 6, 30)
    assert got[f"year:{year.id}:q1-return"].kind == "quarterly return"


def test_a_commission_makes_its_end_and_review_deadlines(make):
    c = make.commission(end_date=date(2026, 3, 31), review_date=date(2025, 10, 1))
    db.session.commit()
    got = _generated()
    assert got[f"commission:{c.id}:end"].due_date == date(2026, 3, 31)
    assert got[f"commission:{c.id}:review"].due_date == date(2025, 10, 1)
    assert got[f"commission:{c.id}:end"].commission_id == c.id


def test_an_edited_end_date_moves_its_deadline_and_nothing_duplicates(make):
    c = make.commission(end_date=date(2026, 3, 31))
    db.session.commit()
    before = db.session.scalar(select(func.count(Milestone.id)))
    deadline = _generated()[f"commission:{c.id}:end"]
    deadline.status, deadline.evidence = "in progress", "Extension being discussed"
    db.session.commit()

    c.end_date = date(2026, 9, 30)
    c.title = "Renamed service"
    db.session.commit()
    db.session.expire_all()
    moved = _generated()[f"commission:{c.id}:end"]
    assert moved.id == deadline.id
    assert moved.due_date == date(2026, 9, 30)
    assert "Renamed service" in moved.title
    assert (moved.status, moved.evidence) == ("in progress", "Extension being discussed")  # what a person entered stays
    assert db.session.scalar(select(func.count(Milestone.id))) == before
    for _ in range(3):
        service.sync_deadlines()
        db.session.commit()
    assert db.session.scalar(select(func.count(Milestone.id))) == before


def test_a_cleared_review_date_removes_its_untouched_deadline(make):
    c = make.commission(review_date=date(2025, 10, 1))
    db.session.commit()
    c.review_date = None
    db.session.commit()
    assert f"commission:{c.id}:review" not in _generated()


def test_a_deleted_commission_takes_its_untouched_deadlines_and_keeps_recorded_ones(make):
    c = make.commission(review_date=date(2025, 10, 1))
    db.session.commit()
    review = _generated()[f"commission:{c.id}:review"]
    review.status, review.completed_date, review.evidence = "done", date(2025, 10, 1), "Review held"
    db.session.commit()
    review_id = review.id
    db.session.delete(c)
    db.session.commit()
    db.session.expire_all()
    assert f"commission:{c.id}:end" not in _generated()
    kept = db.session.get(Milestone, review_id)
    assert kept is not None and kept.source_key is None and kept.commission_id is None
    assert kept.evidence == "Review held"


def test_a_changed_setting_moves_return_deadlines(make):
    year = make.year("2025-26")
    db.session.commit()
    settings.put("return_due_days", 21)
    db.session.commit()
    assert _generated()[f"year:{year.id}:q1-return"].due_date == date(2025, 7, 21)


def test_a_closed_year_is_left_alone(make):
    year = make.year("2024-25", status="closed")
    db.session.commit()
    assert not [k for k in _generated() if k.startswith(f"year:{year.id}:")]


def test_a_terminated_commission_has_no_deadlines(make):
    c = make.commission(status="terminated")
    db.session.commit()
    assert not [k for k in _generated() if k.startswith(f"commission:{c.id}:")]


def test_sync_is_idempotent(make):
    make.year("2025-26")
    make.commission(review_date=date(2025, 9, 1))
    db.session.commit()
    result = service.sync_deadlines()
    assert not result.changed


def _m(due, status="not started"):
    return Milestone(title="x", due_date=due, status=status)


def test_grouping_by_a_fixed_today():
    today = date(2025, 11, 10)
    items = [_m(date(2025, 11, 9)), _m(date(2025, 11, 10)), _m(date(2025, 12, 10)), _m(date(2025, 12, 11)),
             _m(date(2025, 1, 1), "done"), _m(date(2025, 2, 1), "missed"), _m(date(2026, 1, 1), "in progress")]
    groups = service.grouped(items, today)
    assert [m.due_date for m in groups["overdue"]] == [date(2025, 11, 9)]
    assert [m.due_date for m in groups["soon"]] == [date(2025, 11, 10), date(2025, 12, 10)]
    assert [m.due_date for m in groups["later"]] == [date(2025, 12, 11), date(2026, 1, 1)]
    assert [m.status for m in groups["closed"]] == ["missed", "done"]  # most recent first


def test_weekends_and_england_and_wales_bank_holidays_are_marked():
    assert "Christmas Day" in service.non_working_day(date(2025, 12, 25))
    assert "Boxing Day" in service.non_working_day(date(2025, 12, 26))
    assert "bank holiday" in service.non_working_day(date(2025, 8, 25))  # August bank holiday (England and Wales)
    assert service.non_working_day(date(2025, 8, 4)) is None  # Scotland's summer holiday is not ours
    assert service.non_working_day(date(2025, 8, 23)) == "Saturday"
    assert service.non_working_day(date(2025, 8, 26)) is None


def test_timeline_has_every_month_between_first_and_last():
    months = service.timeline([_m(date(2025, 7, 31)), _m(date(2025, 10, 31)), _m(date(2025, 10, 1))])
    assert list(months) == [date(2025, 7, 1), date(2025, 8, 1), date(2025, 9, 1), date(2025, 10, 1)]
    assert len(months[date(2025, 10, 1)]) == 2 and months[date(2025, 8, 1)] == []


def test_commission_ending_soon_without_a_decision_is_flagged(make):
    c = make.commission(end_date=date(2026, 2, 1))
    db.session.commit()
    end = _generated()[f"commission:{c.id}:end"]
    assert service.needs_end_decision(end, date(2025, 12, 1), 90)
    assert not service.needs_end_decision(end, date(2025, 10, 1), 90)  # more than 90 days away
    c.end_decision = "extend"
    db.session.commit()
    assert not service.needs_end_decision(end, date(2025, 12, 1), 90)


def test_changing_one_commission_syncs_only_its_own_deadlines_and_a_year_change_syncs_all(make):
    # A commit that changed one commission must not read every commission (it held SQLite's write lock for most
    # of a second on 5,000 commissions under bench/load.py); a commission changed behind the session's back
    # (bulk SQL) is therefore only caught by a full sync, which a year change still runs.
    from sqlalchemy import update

    from tracker.models import Commission

    one, other = make.commission(end_date=date(2026, 3, 31)), make.commission(end_date=date(2026, 3, 31))
    db.session.commit()
    db.session.execute(update(Commission).where(Commission.id == other.id).values(end_date=date(2026, 6, 30)))
    one.end_date = date(2026, 9, 30)
    db.session.commit()
    db.session.expire_all()
    got = _generated()
    assert got[f"commission:{one.id}:end"].due_date == date(2026, 9, 30)
    assert got[f"commission:{other.id}:end"].due_date == date(2026, 3, 31)  # not read by the one-commission sync

    year = make.year("2030-31")
    db.session.commit()
    db.session.expire_all()
    got = _generated()
    assert got[f"commission:{other.id}:end"].due_date == date(2026, 6, 30)
    assert f"year:{year.id}:q1-return" in got
