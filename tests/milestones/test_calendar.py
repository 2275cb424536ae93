"""Calendar feed and download: valid iCalendar, stable UIDs, and a token only its owner can make or reset."""
from datetime import date

from icalendar import Calendar
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import Milestone, User


def _events(body: bytes):
    cal = Calendar.from_ical(body)
    assert cal["VERSION"] == "2.0" and cal["PRODID"]
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def _token(client) -> str:
    response = client.post("/milestones/calendar/token", data={"action": "create"})
    assert response.status_code == 303
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.calendar_token.is_not(None)).order_by(User.id.desc())).calendar_token


def test_feed_is_valid_icalendar_with_all_day_events_and_stable_uids(client, auth, make):
    user = auth.login("viewer")
    c = make.commission(end_date=date(2026, 3, 31))
    mine = make.milestone("Panel on Christmas Day", due_date=date(2025, 12, 25), owner_id=user.id)
    db.session.commit()
    token = _token(client)
    client.post("/sign-out")

    body = client.get(f"/milestones/feed/{token}.ics")
    assert body.status_code == 200 and body.mimetype == "text/calendar"
    text = body.data.decode()
    assert "DTSTART;VALUE=DATE:20251225" in text and "DTSTAMP:" in text
    events = _events(body.data)
    event = events[f"milestone-{mine.id}@vru-tracker"]
    assert event.decoded("DTSTART") == date(2025, 12, 25) and event.decoded("DTEND") == date(2025, 12, 26)
    assert "Christmas Day" in str(event["DESCRIPTION"])

    end = db.session.scalar(select(Milestone).where(Milestone.source_key == f"commission:{c.id}:end"))
    uid = f"milestone-{end.id}@vru-tracker"
    assert uid in events
    c.end_date = date(2026, 6, 30)
    db.session.commit()
    again = _events(client.get(f"/milestones/feed/{token}.ics").data)
    assert len(again) == len(events)  # the moved deadline replaces its event: same UID, no second event
    assert again[uid].decoded("DTSTART") == date(2026, 6, 30)


def test_wrong_or_revoked_tokens_get_404(client, auth):
    auth.login("manager")
    assert client.get("/milestones/feed/nonsense.ics").status_code == 404
    token = _token(client)
    assert client.get(f"/milestones/feed/{token}.ics").status_code == 200
    assert client.post("/milestones/calendar/token", data={"action": "regenerate"}).status_code == 303
    assert client.get(f"/milestones/feed/{token}.ics").status_code == 404
    db.session.expire_all()
    new = db.session.scalar(select(User).where(User.calendar_token.is_not(None))).calendar_token
    assert new != token and client.get(f"/milestones/feed/{new}.ics").status_code == 200
    client.post("/milestones/calendar/token", data={"action": "revoke"})
    assert client.get(f"/milestones/feed/{new}.ics").status_code == 404
    assert client.post("/milestones/calendar/token", data={"action": "steal"}).status_code == 422


def test_one_user_cannot_reach_or_reset_anothers_token(client, auth, make):
    other = make.user("manager", calendar_token="a" * 43)
    db.session.commit()
    me = auth.login("viewer")
    page = client.get("/milestones/calendar")
    assert "a" * 43 not in page.text
    # Whatever names the other user, the token changed is always the signed-in user's own.
    client.post("/milestones/calendar/token", data={"action": "revoke", "user_id": other.id, "id": other.id})
    client.post(f"/milestones/calendar/token?user_id={other.id}", data={"action": "regenerate", "user_id": other.id})
    db.session.expire_all()
    assert db.session.get(User, other.id).calendar_token == "a" * 43
    assert db.session.get(User, me.id).calendar_token not in (None, "a" * 43)


def test_feed_of_a_disabled_account_is_404(client, make):
    make.user("manager", calendar_token="b" * 43, active=False)
    db.session.commit()
    assert client.get(f"/milestones/feed/{'b' * 43}.ics").status_code == 404


def test_personal_feed_has_own_and_unowned_deadlines_all_scope_has_everyones(client, make):
    me = make.user("manager", calendar_token="c" * 43)
    someone = make.user("manager")
    mine, theirs, nobodys = (make.milestone("Mine", owner_id=me.id, due_date=date.today()),
                             make.milestone("Theirs", owner_id=someone.id, due_date=date.today()),
                             make.milestone("Nobody's", due_date=date.today()))
    db.session.commit()
    personal = _events(client.get(f"/milestones/feed/{'c' * 43}.ics").data)
    assert f"milestone-{mine.id}@vru-tracker" in personal and f"milestone-{nobodys.id}@vru-tracker" in personal
    assert f"milestone-{theirs.id}@vru-tracker" not in personal
    everything = _events(client.get(f"/milestones/feed/{'c' * 43}.ics?scope=all").data)
    assert f"milestone-{theirs.id}@vru-tracker" in everything


def test_download_of_a_filtered_list(client, auth, make):
    auth.login("viewer")
    make.milestone("Panel", programme="Young Futures")
    make.milestone("Claim", programme="VRU grant")
    db.session.commit()
    response = client.get("/milestones/deadlines.ics?programme=Young+Futures")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    events = _events(response.data)
    assert [str(e["SUMMARY"]) for e in events.values()] == ["Panel"]


def test_calendar_page_htmx_swaps_the_feed_block(client, auth):
    auth.login("viewer")
    response = client.post("/milestones/calendar/token", data={"action": "create"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="calendar-feed"' in response.text and "<html" not in response.text
    assert "/milestones/feed/" in response.text
