"""Claim deadlines per stream and statutory documents follow their settings like every generated deadline."""
from datetime import date

from sqlalchemy import select

from tracker import settings
from tracker.extensions import db
from tracker.milestones.service import non_working_day
from tracker.models import Milestone


def _deadlines(prefix: str) -> dict[str, Milestone]:
    return {m.source_key: m for m in db.session.scalars(
        select(Milestone).where(Milestone.source_key.like(f"{prefix}%")))}


def test_each_stream_makes_its_own_claim_deadlines(make):
    year = make.year("2025-26")
    core = make.stream("Home Office VRU core grant", claim_due_days=20)
    svd = make.stream("Serious Violence Duty", claim_frequency="monthly", claim_due_days=10, final_claim_due_days=30)
    make.allocation(year=year, stream=core)
    make.allocation(year=year, stream=svd)
    db.session.commit()
    core_q1 = _deadlines(f"claim:{year.id}:{core.id}:1")[f"claim:{year.id}:{core.id}:1"]
    assert (core_q1.title, core_q1.due_date, core_q1.programme, core_q1.kind) == (
        "Home Office VRU core grant: Q1 (Apr-Jun) 2025-26 claim due", date(2025, 7, 20), "VRU grant", "grant claim")
    assert non_working_day(core_q1.due_date) == "Sunday"
    monthly = _deadlines(f"claim:{year.id}:{svd.id}:")
    assert len(monthly) == 12
    final = monthly[f"claim:{year.id}:{svd.id}:12"]
    assert (final.due_date, final.kind, final.programme) == (date(2026, 4, 30), "final claim", "Serious Violence Duty")
    assert monthly[f"claim:{year.id}:{svd.id}:1"].due_date == date(2025, 5, 10)


def test_a_claim_deadline_follows_its_stream_and_keeps_what_a_person_entered(make):
    year = make.year("2025-26")
    stream = make.stream(claim_due_days=20)
    make.allocation(year=year, stream=stream)
    db.session.commit()
    key = f"claim:{year.id}:{stream.id}:1"
    m = _deadlines(key)[key]
    owner = make.user(role="finance")
    m.owner_id = owner.id
    db.session.commit()
    stream.claim_due_days = 30
    db.session.commit()
    m = _deadlines(key)[key]
    assert (m.due_date, m.owner_id) == (date(2025, 7, 30), owner.id)
    assert len(_deadlines(key)) == 1


def test_statutory_documents_follow_their_settings_and_can_be_switched_off(make):
    year = make.year("2025-26")
    db.session.commit()
    keys = _deadlines(f"year:{year.id}:")
    response = keys[f"year:{year.id}:statutory:response_strategy"]
    assert (response.due_date, response.kind) == (date(2025, 3, 31), "statutory document")
    assert keys[f"year:{year.id}:annual-report"].due_date == date(2026, 6, 30)
    assert keys[f"year:{year.id}:statutory:svd_review"].programme == "Serious Violence Duty"
    settings.put("statutory_response_strategy", "false")
    settings.put("statutory_annual_report", "false")
    settings.put("needs_assessment_due_days", "120")
    db.session.commit()
    keys = _deadlines(f"year:{year.id}:")
    assert f"year:{year.id}:statutory:response_strategy" not in keys
    assert f"year:{year.id}:annual-report" not in keys
    assert keys[f"year:{year.id}:statutory:needs_assessment"].due_date == date(2024, 12, 2)
