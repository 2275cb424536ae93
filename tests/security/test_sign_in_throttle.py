"""Failed sign-ins are throttled per account and per address; only failures count; the lock has a clear message."""
from __future__ import annotations

from tests.conftest import PASSWORD
from tracker.extensions import db
from tracker.security import LOCKED_MESSAGE


def _try(client, email, password, address="10.0.0.1"):
    return client.post("/sign-in", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_five_wrong_passwords_lock_the_account_even_for_the_right_password(throttled_app, make):
    user = make.user(role="manager")
    other = make.user(role="finance")
    db.session.commit()
    client = throttled_app.test_client()
    for _ in range(5):
        response = _try(client, user.email, "wrong password!")
        assert response.status_code == 422
        assert "The email address or password is not right" in response.text
    locked = _try(client, user.email, PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
    assert '<main id="main"' in locked.text and "Sign in" in locked.text  # the sign-in page in the app's frame
    assert "Error: Sign in" in locked.text
    # The same address may still sign in to another account: the address limit is higher.
    assert _try(client, other.email, PASSWORD).status_code == 302


def test_an_unknown_email_gets_the_same_answer_and_is_locked_the_same_way(throttled_app, make):
    user = make.user(role="manager")
    db.session.commit()
    client = throttled_app.test_client()
    known = _try(client, user.email, "wrong password!")
    unknown = _try(client, "nobody@example.org", "wrong password!")
    assert known.status_code == unknown.status_code == 422
    assert known.text.replace(user.email, "X") == unknown.text.replace("nobody@example.org", "X")
    for _ in range(4):
        _try(client, "nobody@example.org", "wrong password!")
    assert _try(client, "nobody@example.org", "wrong password!").status_code == 429


def test_successful_sign_ins_do_not_count(throttled_app, make):
    user = make.user(role="viewer")
    db.session.commit()
    for _ in range(8):
        client = throttled_app.test_client()
        assert _try(client, user.email, PASSWORD).status_code == 302


def test_another_address_is_not_locked_by_guesses_at_the_same_account(throttled_app, make):
    """The main lock is per account and address: the owner, elsewhere, can still sign in after 5 guesses."""
    user = make.user(role="manager")
    db.session.commit()
    client = throttled_app.test_client()
    for _ in range(5):
        _try(client, user.email, "wrong password!", address="10.0.0.66")
    assert _try(client, user.email, PASSWORD, address="10.0.0.66").status_code == 429
    assert _try(client, user.email, PASSWORD, address="10.9.9.9").status_code == 302


def test_the_account_lock_holds_from_any_address_after_guesses_from_many(throttled_app, make):
    """Guessing one account from many addresses (4 each, under the pair limit) is stopped at 20 in all."""
    user = make.user(role="manager")
    db.session.commit()
    client = throttled_app.test_client()
    for n in range(20):
        _try(client, user.email, "wrong password!", address=f"10.0.1.{n // 4}")
    assert _try(client, user.email, PASSWORD, address="10.9.9.9").status_code == 429


def test_one_noisy_address_does_not_lock_everyone_behind_it(throttled_app, make):
    """A proxy's address: 20 failures there (4 each on 5 accounts) leave its other users signing in."""
    users = [make.user(role="manager") for _ in range(6)]
    db.session.commit()
    client = throttled_app.test_client()
    for user in users[:5]:
        for _ in range(4):
            assert _try(client, user.email, "wrong password!").status_code == 422
    assert _try(client, users[5].email, PASSWORD).status_code == 302


def test_the_address_limit_locks_every_account_from_that_address(throttled_app, make):
    users = [make.user(role="manager") for _ in range(26)]
    db.session.commit()
    client = throttled_app.test_client()
    # 100 failures spread over accounts (4 each, under the other limits) from one address.
    for user in users[:25]:
        for _ in range(4):
            assert _try(client, user.email, "wrong password!").status_code == 422
    assert _try(client, users[25].email, PASSWORD).status_code == 429
    # Another address is not affected.
    assert _try(client, users[25].email, PASSWORD, address="10.0.0.2").status_code == 302


def test_the_lock_message_is_in_words(throttled_app):
    assert "15 minutes" in LOCKED_MESSAGE


def test_throttle_is_off_when_disabled(app, client, make):
    user = make.user(role="manager")
    db.session.commit()
    for _ in range(7):
        _try(client, user.email, "wrong password!")
    assert _try(client, user.email, PASSWORD).status_code == 302
