"""Sign-out ends the session on the server; idle and absolute timeouts; every session of a user ends when the
password changes or the account is disabled; a re-enabled user gets a new calendar feed address (issue 12,
findings 3 and 15)."""
from __future__ import annotations

from datetime import timedelta

from tests.conftest import PASSWORD
from tracker.admin import service as admin
from tracker.extensions import db
from tracker.models import User, UserSession


def _copy(app, client):
    """A second browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_a_copied_cookie_stops_working_at_sign_out(app, client, auth):
    auth.login("manager")
    thief = _copy(app, client)
    assert thief.get("/").status_code == 200
    assert client.post("/sign-out").status_code == 302
    response = thief.get("/")
    assert response.status_code == 302 and "/sign-in" in response.location
    record = db.session.scalar(db.select(UserSession))
    assert record.ended_at is not None and record.ended_reason == "signed out"


def test_the_session_id_is_stored_only_as_a_hash(app, client, auth):
    auth.login("viewer")
    with client.session_transaction() as session:
        token = session["sid"]
    record = db.session.scalar(db.select(UserSession))
    assert record.token_hash != token and len(record.token_hash) == 64


def test_an_idle_session_ends_on_the_server(app, client, auth):
    auth.login("finance")
    thief = _copy(app, client)
    record = db.session.scalar(db.select(UserSession))
    record.last_seen_at -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.session.commit()
    assert client.get("/").status_code == 302
    db.session.expire_all()
    assert db.session.get(UserSession, record.id).ended_reason == "idle"
    assert thief.get("/").status_code == 302


def test_a_busy_session_still_ends_after_the_absolute_lifetime(app, client, auth):
    auth.login("finance")
    record = db.session.scalar(db.select(UserSession))
    record.created_at -= timedelta(hours=app.config["SESSION_MAX_HOURS"], minutes=1)
    db.session.commit()
    response = client.get("/")
    assert response.status_code == 302 and "/sign-in" in response.location
    db.session.expire_all()
    assert db.session.get(UserSession, record.id).ended_reason == "too old"


def test_the_cookie_itself_has_an_absolute_expiry(app, client, make):
    user = make.user()
    db.session.commit()
    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "Expires=" in cookie and "HttpOnly" in cookie
    later = client.get("/").headers.get("Set-Cookie", "")
    # However often it is re-sent, the expiry stays SESSION_MAX_HOURS after sign-in.
    if later:
        assert later.split("Expires=")[1].split(";")[0] == cookie.split("Expires=")[1].split(";")[0]


def test_disabling_a_user_ends_their_session_records(app, client, auth, make):
    user = auth.login("manager")
    admin.set_active(db.session.get(User, user.id), False)
    db.session.commit()
    assert db.session.scalar(db.select(UserSession).where(UserSession.ended_at.is_(None))) is None
    assert client.get("/").status_code == 302


def test_re_enabling_a_user_gives_a_new_calendar_feed_address(client, auth, make):
    user = make.user(role="manager", calendar_token="old-token-that-may-have-leaked-0123456789")
    make.user(role="admin")
    db.session.commit()
    admin.set_active(user, False)
    db.session.commit()
    admin.set_active(user, True)
    db.session.commit()
    assert user.calendar_token not in (None, "old-token-that-may-have-leaked-0123456789")
    assert client.get("/milestones/feed/old-token-that-may-have-leaked-0123456789.ics").status_code == 404
    assert client.get(f"/milestones/feed/{user.calendar_token}.ics").status_code == 200


def test_old_session_records_go_at_the_next_sign_in(app, client, auth, make):
    user = auth.login("viewer")
    client.post("/sign-out")
    record = db.session.scalar(db.select(UserSession))
    record.last_seen_at -= timedelta(days=31)
    old_hash = record.token_hash
    db.session.commit()
    assert client.post("/sign-in", data={"email": user.email, "password": PASSWORD}).status_code == 302
    db.session.expunge_all()
    assert db.session.scalar(db.select(UserSession.id).where(UserSession.token_hash == old_hash)) is None
    assert db.session.scalar(db.select(db.func.count(UserSession.id))) == 1
