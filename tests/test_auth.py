"""Signing in and out, passwords, sessions, CSRF and the production secret-key check."""
from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tracker import create_app
from tracker.config import Config, TestConfig
from tracker.extensions import db
from tracker.models import AuditEvent, User


def test_sign_in_page_and_success(client, make):
    user = make.user(role="finance", email="fran@example.org")
    db.session.commit()
    page = client.get("/sign-in")
    assert page.status_code == 200 and "Sign in" in page.text
    response = client.post("/sign-in?next=/account/password", data={"email": " FRAN@example.org ", "password": PASSWORD})
    assert response.status_code == 302 and response.location == "/account/password"
    home = client.get("/")
    assert home.status_code == 200 and user.name in home.text and "Finance" in home.text


@pytest.mark.parametrize("email, password", [("nobody@example.org", PASSWORD), ("known@example.org", "wrong-password-here")])
def test_unknown_email_and_wrong_password_get_the_same_answer(client, make, email, password):
    make.user(email="known@example.org")
    db.session.commit()
    response = client.post("/sign-in", data={"email": email, "password": password})
    assert response.status_code == 422
    assert "The email address or password is not right" in response.text
    assert "Error: Sign in" in response.text
    assert client.get("/").status_code == 302


def test_empty_sign_in_form_shows_errors_at_fields(client):
    response = client.post("/sign-in", data={})
    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert 'href="#email"' in response.text and "Enter your email address" in response.text


def test_next_must_stay_on_this_site(client, make):
    user = make.user()
    db.session.commit()
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        response = client.post(f"/sign-in?next={target}", data={"email": user.email, "password": PASSWORD})
        assert response.location == "/", target
        client.post("/sign-out")


def test_disabled_user_cannot_sign_in_and_is_signed_out(client, make, auth):
    user = auth.login("manager")
    assert client.get("/").status_code == 200
    user.active = False
    user.session_version += 1
    db.session.commit()
    assert client.get("/").status_code == 302
    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 422


def test_sign_out_ends_the_session(client, auth):
    auth.login("viewer")
    response = client.post("/sign-out")
    assert response.status_code == 302 and response.location.endswith("/sign-in")
    assert client.get("/").status_code == 302


def test_sign_out_needs_post(client, auth):
    auth.login("viewer")
    assert client.get("/sign-out").status_code == 405


def test_change_password_rules_and_other_sessions_end(app, client, auth):
    user = auth.login("finance")
    other = app.test_client()
    assert other.post("/sign-in", data={"email": user.email, "password": PASSWORD}).status_code == 302
    short = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "short",
                                                   "confirm_password": "short"})
    assert short.status_code == 422 and "at least 12 characters" in short.text
    common = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "password1234",
                                                    "confirm_password": "password1234"})
    assert common.status_code == 422 and "too common" in common.text
    wrong = client.post("/account/password", data={"current_password": "not-my-password", "new_password": "a-new-long-passphrase",
                                                   "confirm_password": "a-new-long-passphrase"})
    assert wrong.status_code == 422 and "current password is not right" in wrong.text
    mismatch = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "a-new-long-passphrase",
                                                      "confirm_password": "another-long-phrase"})
    assert mismatch.status_code == 422 and "do not match" in mismatch.text
    ok = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "a-new-long-passphrase",
                                                "confirm_password": "a-new-long-passphrase"})
    assert ok.status_code == 302
    assert client.get("/").status_code == 200, "this session stays signed in"
    assert other.get("/").status_code == 302, "the other session ended"
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash.startswith("pbkdf2")
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.object_type == "User")) is not None


def test_session_cookie_flags(app, client, make):
    user = make.user()
    db.session.commit()
    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))
    assert Config.SESSION_COOKIE_SECURE is True


def _age_sessions(**ago):
    """Move every session record's times back, as if that much time had passed (no sleeping in tests)."""
    from datetime import timedelta

    from tracker.models import UserSession

    for record in db.session.scalars(db.select(UserSession)):
        record.last_seen_at -= timedelta(**ago)
        record.created_at -= timedelta(**ago)
    db.session.commit()


def test_idle_sessions_expire(app, client, auth):
    auth.login("manager")
    assert client.get("/").status_code == 200
    _age_sessions(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    response = client.get("/")
    assert response.status_code == 302 and "/sign-in" in response.location
    assert "inactivity" in client.get(response.location).text


def test_post_without_csrf_token_is_refused(app, client, make):
    app.config["WTF_CSRF_ENABLED"] = True
    user = make.user()
    db.session.commit()
    refused = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    assert refused.status_code == 400 and "form expired" in refused.text
    page = client.get("/sign-in")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    accepted = client.post("/sign-in", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert accepted.status_code == 302
    # HTMX sends the token in a header taken from <body hx-headers>.
    home = client.get("/")
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', home.text).group(1)
    assert client.post("/sign-out", headers={"HX-Request": "true"}).status_code == 400
    assert client.post("/sign-out", headers={"HX-Request": "true", "X-CSRFToken": header_token}).status_code == 302


def test_production_refuses_a_missing_or_default_secret_key(monkeypatch):
    base = {k: getattr(Config, k) for k in dir(Config) if k.isupper()}
    for key in ("", "dev-only-not-secret", "short"):
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            create_app({**base, "SECRET_KEY": key, "ENV_NAME": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    app = create_app({**base, "SECRET_KEY": "x" * 40, "ENV_NAME": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_errors_use_the_page_frame(client, auth):
    auth.login("viewer")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.text and 'id="main"' in response.text and "Skip to main content" in response.text


def test_base_layout_landmarks(client, auth):
    auth.login("manager")
    page = client.get("/").text
    assert '<a class="skip-link" href="#main">' in page
    assert '<main id="main"' in page and 'aria-label="Main"' in page
    assert "htmx.min.js" in page and "https://" not in page.split("<body")[0]
    assert TestConfig.TESTING


def test_a_missing_record_says_what_is_missing(client, auth):
    auth.login("admin")
    for url, words in (("/funding/years/999999", "no such funding year"), ("/commissions/999999", "no commission with that number"),
                       ("/admin/users/999999", "no user with that number")):
        page = client.get(url)
        assert page.status_code == 404 and words in page.text, url
