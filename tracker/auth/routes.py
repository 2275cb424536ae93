"""Signing in and out, and changing one's own password."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from tracker import audit
from tracker.auth import sessions
from tracker.auth.forms import ChangePasswordForm, SignInForm
from tracker.auth.passwords import check_password, dummy_check, hash_password
from tracker.auth.roles import EVERYONE, public, roles_required
from tracker.extensions import db, login_manager
from tracker.models import User, utcnow
from tracker.security import locked_response, record_failed_sign_in, sign_in_locked
from tracker.web import render

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Sessions carry "id:version"; a bumped version (new password, disabled account) ends the session."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except (ValueError, AttributeError):
        return None
    # The user and this cookie's live session record in one query: signed out, idle, too old or ended
    # elsewhere, and the cookie no longer counts.
    found = sessions.load(user_id)
    if found is None:
        return None
    user, _record = found
    if user.session_version != version or not user.active:
        return None
    return user


def _safe_next(target: str | None) -> str:
    """Only a path on this site may be a redirect target after sign-in."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("main.home")


def find_user(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None; the same work is done either way."""
    user = db.session.scalar(db.select(User).where(User.email == email.strip().lower()))
    if user is None:
        dummy_check(password)
        return None
    if not check_password(user.password_hash, password) or not user.active:
        return None
    return user


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    """The sign-in page."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        user = find_user(form.email.data, form.password.data)
        if user is not None:
            session.clear()  # a fresh session on sign-in, so a planted session id is worthless
            login_user(user, remember=False)
            sessions.start(user)  # the server-side record; idle and absolute timeouts count from now
            user.last_sign_in_at = utcnow()
            db.session.commit()
            flash(f"Signed in as {user.name} ({user.role_label}).", "success")
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append("The email address or password is not right")
        status = 422
    elif request.method == "POST":
        status = 422
    return render("auth/sign_in.html", form=form, status=status)


@bp.route("/sign-out", methods=["POST"])
@roles_required(*EVERYONE)
def sign_out():
    """End the session, on the server too: a copy of the cookie no longer works."""
    sessions.end(sessions.current(), "signed out")
    db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("auth.sign_in"))


def _locked_out_of_password_change():
    """Too many wrong current passwords: the account is locked like a sign-in, and this session ends."""
    sessions.end(sessions.current(), "password guesses")
    db.session.commit()
    logout_user()
    session.clear()
    return locked_response()


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(*EVERYONE)
def change_password():
    """Change one's own password; every other session of the account ends."""
    form = ChangePasswordForm()
    status = 200
    if request.method == "POST" and sign_in_locked(current_user.email):
        return _locked_out_of_password_change()
    if form.validate_on_submit():
        if not check_password(current_user.password_hash, form.current_password.data):
            # A wrong current password is a failed sign-in: someone at an unlocked screen may be guessing.
            record_failed_sign_in(current_user.email)
            if sign_in_locked(current_user.email):
                return _locked_out_of_password_change()
            form.current_password.errors.append("Your current password is not right")
            status = 422
        else:
            user = current_user._get_current_object()
            user.password_hash = hash_password(form.new_password.data)
            user.session_version += 1
            sessions.end_all(user.id, "password changed", keep=sessions.current())
            audit.record("auth", "change", user, f"{user.email} changed their password")
            db.session.commit()
            login_user(user)  # keep this session, with the new version
            flash("Your password has been changed. Other sessions have been signed out.", "success")
            return redirect(url_for("main.home"))
    elif request.method == "POST":
        status = 422
    return render("auth/change_password.html", form=form, status=status)
