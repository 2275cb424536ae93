"""Users: create, change role, disable/enable (ending sessions), reset password, the last-admin rule, audit."""
from __future__ import annotations

from sqlalchemy import select

from tests.conftest import PASSWORD
from tracker.extensions import db
from tracker.models import AuditEvent, User

NEW_PASSWORD = "a-long-unusual-phrase-42"


def _events(user):
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "User", AuditEvent.object_id == user.id).order_by(AuditEvent.id)))


def _sign_in(client, user, password=PASSWORD):
    return client.post("/sign-in", data={"email": user.email, "password": password})


def test_admin_creates_a_user_who_can_sign_in(app, client, auth):
    auth.login("admin")
    response = client.post("/admin/users/new", data={
        "name": "Priya Shah", "email": "Priya.Shah@Example.org", "role": "finance",
        "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 303
    user = db.session.scalar(select(User).where(User.email == "priya.shah@example.org"))
    assert user.role == "finance" and user.active
    event = _events(user)[0]
    assert event.kind == "create" and event.after["role"] == "finance"
    assert NEW_PASSWORD not in str(event.before) + str(event.after) + event.summary
    other = app.test_client()
    assert _sign_in(other, user, NEW_PASSWORD).status_code == 302


def test_create_user_rejects_bad_input_with_messages_and_saves_nothing(client, auth, make):
    auth.login("admin")
    existing = make.user(role="viewer")
    db.session.commit()
    count = db.session.scalar(select(db.func.count()).select_from(User))
    cases = [
        ({"name": "", "email": "x@example.org", "role": "viewer", "password": NEW_PASSWORD,
          "confirm_password": NEW_PASSWORD}, "Enter the person&#39;s name"),
        ({"name": "X", "email": "not-an-email", "role": "viewer", "password": NEW_PASSWORD,
          "confirm_password": NEW_PASSWORD}, "Enter an email address like"),
        ({"name": "X", "email": "x@example.org", "role": "overlord", "password": NEW_PASSWORD,
          "confirm_password": NEW_PASSWORD}, "Not a valid choice"),
        ({"name": "X", "email": "x@example.org", "role": "viewer", "password": "short",
          "confirm_password": "short"}, "Use at least 12 characters"),
        ({"name": "X", "email": "x@example.org", "role": "viewer", "password": "password1234",
          "confirm_password": "password1234"}, "too common"),
        ({"name": "X", "email": "x@example.org", "role": "viewer", "password": NEW_PASSWORD,
          "confirm_password": NEW_PASSWORD + "x"}, "The passwords do not match"),
        ({"name": "X", "email": existing.email.upper(), "role": "viewer", "password": NEW_PASSWORD,
          "confirm_password": NEW_PASSWORD}, "There is already a user"),
    ]
    for data, message in cases:
        response = client.post("/admin/users/new", data=data)
        assert response.status_code == 422, data
        assert message in response.text, (message, data)
        assert "<title>Error: " in response.text
    htmx = client.post("/admin/users/new", data=cases[0][0], headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and "<html" not in htmx.text and 'id="new-user"' in htmx.text
    db.session.expire_all()
    assert db.session.scalar(select(db.func.count()).select_from(User)) == count


def test_disabling_a_user_ends_their_sessions_at_once(app, client, auth, make):
    auth.login("admin")
    victim = make.user(role="manager")
    db.session.commit()
    theirs = app.test_client()
    assert _sign_in(theirs, victim).status_code == 302
    assert theirs.get("/").status_code == 200
    response = client.post(f"/admin/users/{victim.id}/active", data={"active": "0"})
    assert response.status_code == 303
    ended = theirs.get("/")
    assert ended.status_code == 302 and "/sign-in" in ended.location
    assert _sign_in(theirs, victim).status_code == 422  # a disabled account cannot sign in
    db.session.expire_all()
    assert not db.session.get(User, victim.id).active
    event = _events(victim)[-1]
    assert event.before == {"active": True} and event.after == {"active": False} and event.kind == "negative"
    # Enabled again, they can sign in.
    assert client.post(f"/admin/users/{victim.id}/active", data={"active": "1"}).status_code == 303
    assert _sign_in(theirs, victim).status_code == 302


def test_resetting_a_password_ends_sessions_and_is_audited_without_the_password(app, client, auth, make):
    auth.login("admin")
    victim = make.user(role="finance")
    db.session.commit()
    theirs = app.test_client()
    assert _sign_in(theirs, victim).status_code == 302
    response = client.post(f"/admin/users/{victim.id}/password",
                           data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 303
    assert theirs.get("/").status_code == 302
    assert _sign_in(theirs, victim).status_code == 422
    assert _sign_in(theirs, victim, NEW_PASSWORD).status_code == 302
    event = _events(victim)[-1]
    assert NEW_PASSWORD not in str(event.before) + str(event.after) + event.summary
    bad = client.post(f"/admin/users/{victim.id}/password", data={"password": "qwerty", "confirm_password": "qwerty"})
    assert bad.status_code == 422 and "Use at least 12 characters" in bad.text


def test_an_admin_resetting_their_own_password_stays_signed_in(client, auth):
    me = auth.login("admin")
    response = client.post(f"/admin/users/{me.id}/password",
                           data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 303
    assert client.get("/admin/users").status_code == 200


def test_changing_a_role_is_audited_and_takes_effect(app, client, auth, make):
    auth.login("admin")
    user = make.user(role="viewer")
    db.session.commit()
    theirs = app.test_client()
    _sign_in(theirs, user)
    assert theirs.get("/admin/users").status_code == 403
    assert client.post(f"/admin/users/{user.id}/role", data={"role": "admin"}).status_code == 303
    assert theirs.get("/admin/users").status_code == 200
    event = _events(user)[-1]
    assert event.before == {"role": "viewer"} and event.after == {"role": "admin"}
    assert client.post(f"/admin/users/{user.id}/role", data={"role": "emperor"}).status_code == 422


def test_the_last_active_admin_cannot_be_demoted_or_disabled(client, auth, make):
    me = auth.login("admin")
    make.user(role="admin", active=False)  # a disabled admin does not count
    db.session.commit()
    demote = client.post(f"/admin/users/{me.id}/role", data={"role": "manager"})
    assert demote.status_code == 422 and "only active administrator" in demote.text
    disable = client.post(f"/admin/users/{me.id}/active", data={"active": "0"})
    assert disable.status_code == 422 and "only active administrator" in disable.text
    db.session.expire_all()
    me = db.session.get(User, me.id)
    assert me.role == "admin" and me.active
    # With a second active admin, it is allowed.
    make.user(role="admin")
    db.session.commit()
    assert client.post(f"/admin/users/{me.id}/role", data={"role": "manager"}).status_code == 303


def test_unknown_user_is_404(client, auth):
    auth.login("admin")
    assert client.get("/admin/users/99999").status_code == 404
    assert client.post("/admin/users/99999/active", data={"active": "0"}).status_code == 404


def test_users_list_and_page_show_people_and_history(client, auth, make, count_queries):
    admin = auth.login("admin")
    for _ in range(3):
        make.user(role="viewer")
    db.session.commit()
    page = client.get("/admin/users")
    assert page.status_code == 200 and admin.email in page.text
    with count_queries() as few:
        client.get("/admin/users")
    for _ in range(10):
        make.user(role="viewer")
    db.session.commit()
    with count_queries() as many:
        client.get("/admin/users")
    assert many.count == few.count
    client.post(f"/admin/users/{admin.id}/password", data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    detail = client.get(f"/admin/users/{admin.id}")
    assert "Reset the password of" in detail.text and "History" in detail.text
