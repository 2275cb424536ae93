"""The admin area: users and roles, strands and categories, settings, and the audit trail (read only)."""
from __future__ import annotations

from flask import Blueprint, flash, request, url_for
from flask_login import current_user

from tracker import audit as audit_trail
from tracker import settings as settings_module
from tracker.admin import service
from tracker.admin.forms import (
    ActiveForm, CategoryForm, NewUserForm, ResetPasswordForm, RoleForm, SettingForm, StrandForm,
)
from tracker.auth.roles import ADMIN, roles_required
from tracker.errors import abort_with
from tracker.extensions import db
from tracker.models import Category, Strand
from tracker.web import render, see_other

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE_SIZE = 50


@bp.route("/")
@roles_required(ADMIN)
def index():
    """The admin area's front page."""
    return render("admin/index.html")


# --- Users -------------------------------------------------------------------------------------------------

@bp.route("/users")
@roles_required(ADMIN)
def users():
    """Everyone who can sign in, with their role and whether the account is enabled."""
    return render("admin/users.html", users=service.users_list())


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(ADMIN)
def create_user():
    """Add a user with a role and an initial password."""
    form = NewUserForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = service.create_user(form.name.data, form.email.data, form.role.data, form.password.data)
        except service.AdminRuleError as exc:
            db.session.rollback()
            (form.email if "e-mail" in str(exc) else form.password).errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"{user.name} can now sign in as {user.role_label}.", "success")
            return see_other(url_for("admin.user", user_id=user.id))
    if request.method == "POST":
        status = 422
    return render("admin/new_user.html", "form", form=form, status=status)


def _user_page(user, status=200, role_form=None, active_form=None, password_form=None):
    return render(
        "admin/user.html", "content", status=status, user=user,
        role_form=role_form or RoleForm(formdata=None, role=user.role),
        active_form=active_form or ActiveForm(formdata=None, active="1" if user.active else "0"),
        password_form=password_form or ResetPasswordForm(formdata=None),
        history=audit_trail.history(user),
    )


@bp.route("/users/<int:user_id>")
@roles_required(ADMIN)
def user(user_id: int):
    """One user: their role, their account, a new password, and the history of those."""
    return _user_page(service.get_user_or_404(user_id))


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@roles_required(ADMIN)
def change_role(user_id: int):
    """Give a user another role."""
    user = service.get_user_or_404(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            changed = service.change_role(user, form.role.data)
        except service.AdminRuleError as exc:
            db.session.rollback()
            form.role.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"{user.name} is now {user.role_label}." if changed else "The role was not changed.", "success")
            return see_other(url_for("admin.user", user_id=user.id))
    return _user_page(user, 422, role_form=form)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@roles_required(ADMIN)
def set_active(user_id: int):
    """Disable an account (every session of it ends at once) or enable it again."""
    user = service.get_user_or_404(user_id)
    form = ActiveForm()
    if form.validate_on_submit():
        try:
            changed = service.set_active(user, form.active.data == "1")
        except service.AdminRuleError as exc:
            db.session.rollback()
            form.active.errors.append(str(exc))
        else:
            db.session.commit()
            if changed:
                flash(f"{user.name}'s account is {'enabled' if user.active else 'disabled; they have been signed out'}.",
                      "success")
            return see_other(url_for("admin.user", user_id=user.id))
    return _user_page(user, 422, active_form=form)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required(ADMIN)
def reset_password(user_id: int):
    """Set a new password for a user who has forgotten theirs; their sessions end."""
    user = service.get_user_or_404(user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            from tracker.auth import sessions

            service.reset_password(user, form.password.data,
                                   keep=sessions.current() if user.id == current_user.id else None)
        except service.AdminRuleError as exc:
            db.session.rollback()
            form.password.errors.append(str(exc))
        else:
            db.session.commit()
            if user.id == current_user.id:
                from flask_login import login_user

                login_user(user)  # keep the admin's own session, with the new version
            flash(f"{user.name}'s password has been reset and their sessions ended. Tell them the new password "
                  "in person.", "success")
            return see_other(url_for("admin.user", user_id=user.id))
    return _user_page(user, 422, password_form=form)


# --- Strands and categories --------------------------------------------------------------------------------

KINDS = {
    "strands": (Strand, StrandForm, "Strands", "strand"),
    "categories": (Category, CategoryForm, "Budget categories", "category"),
}


def _reference_list(kind: str, form=None, status: int = 200):
    model, form_class, title, noun = KINDS[kind]
    return render("admin/reference.html", "content", status=status, kind=kind, title=title, noun=noun,
                  items=service.reference_list(model), form=form or form_class(formdata=None))


def _create_reference(kind: str):
    model, form_class, _title, _noun = KINDS[kind]
    form = form_class()
    if form.validate_on_submit():
        try:
            item = service.save_reference(model, None, form.data)
        except service.AdminRuleError as exc:
            db.session.rollback()
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Added {item.name}.", "success")
            return see_other(url_for(f"admin.{kind}"))
    return _reference_list(kind, form, 422)


def _edit_reference(kind: str, item_id: int):
    model, form_class, title, noun = KINDS[kind]
    item = service.get_reference_or_404(model, item_id)
    form = form_class(obj=item)
    status = 200
    if form.validate_on_submit():
        try:
            service.save_reference(model, item, form.data)
        except service.AdminRuleError as exc:
            db.session.rollback()
            item = service.get_reference_or_404(model, item_id)
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Saved {item.name}.", "success")
            return see_other(url_for(f"admin.{kind}"))
    if request.method == "POST":
        status = 422
    return render("admin/reference_edit.html", "form", status=status, kind=kind, title=title, noun=noun,
                  item=item, form=form, history=audit_trail.history(item))


@bp.route("/strands", methods=["GET", "POST"])
@roles_required(ADMIN)
def strands():
    """The strategy's strands: add one, or choose one to rename or take out of use."""
    if request.method == "POST":
        return _create_reference("strands")
    return _reference_list("strands")


@bp.route("/strands/<int:item_id>", methods=["GET", "POST"])
@roles_required(ADMIN)
def edit_strand(item_id: int):
    """Rename a strand, or take it out of use (old records keep it)."""
    return _edit_reference("strands", item_id)


@bp.route("/categories", methods=["GET", "POST"])
@roles_required(ADMIN)
def categories():
    """Budget categories: add one, or choose one to change."""
    if request.method == "POST":
        return _create_reference("categories")
    return _reference_list("categories")


@bp.route("/categories/<int:item_id>", methods=["GET", "POST"])
@roles_required(ADMIN)
def edit_category(item_id: int):
    """Rename a budget category, change its labour flag, or take it out of use."""
    return _edit_reference("categories", item_id)


# --- Settings ----------------------------------------------------------------------------------------------

def _settings_page(status: int = 200, failed: tuple[str, SettingForm] | None = None):
    rows = []
    for spec, value, stored in service.settings_list():
        if failed and failed[0] == spec.key:
            form = failed[1]
        else:
            form = SettingForm(formdata=None, value=str(value) if not isinstance(value, bool) else
                               ("yes" if value else "no"), prefix=spec.key)
        rows.append((spec, value, stored, form))
    return render("admin/settings.html", "content", status=status, rows=rows)


@bp.route("/settings")
@roles_required(ADMIN)
def settings():
    """Every setting with its current value, each with its own form."""
    return _settings_page()


@bp.route("/settings/<key>", methods=["POST"])
@roles_required(ADMIN)
def update_setting(key: str):
    """Change one setting, checked against its type."""
    if key not in settings_module.SPECS:
        abort_with(404, "There is no such setting.")
    form = SettingForm(prefix=key)
    if form.validate_on_submit():
        try:
            changed = service.update_setting(key, form.value.data or "")
        except service.AdminRuleError as exc:
            db.session.rollback()
            form.value.errors.append(str(exc))
        else:
            db.session.commit()
            label = settings_module.SPECS[key].label
            flash(f"Saved '{label}'." if changed else f"'{label}' was not changed.", "success")
            return see_other(url_for("admin.settings"))
    return _settings_page(422, (key, form))


# --- The audit trail ---------------------------------------------------------------------------------------

@bp.route("/audit")
@roles_required(ADMIN)
def audit():
    """Every recorded change, newest first, filtered by the query string (bookmarkable)."""
    filters = service.parse_audit_filters(request.args)
    page = db.paginate(service.audit_query(filters), page=filters.page, per_page=AUDIT_PAGE_SIZE,
                       error_out=False, count=True)
    audit_trail.describe(page.items)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render("admin/audit.html", "results", status=422 if filters.errors else 200, filters=filters,
                  page=page, choices=service.audit_choices(), args=args)
