"""Forms of the admin area. Rules that need the database (unique e-mails and names, the last admin) live in
tracker/admin/service.py and come back to the field as messages."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length, NumberRange, ValidationError

from tracker.auth.passwords import password_problem
from tracker.models import ROLES
from tracker.models.users import ROLE_LABELS

ROLE_CHOICES = [(role, ROLE_LABELS[role]) for role in ROLES]


def _password_rules(form, field):
    # The new user's e-mail and name are on the same form; a reset form has the user as ``form.user``.
    user = getattr(form, "user", None)
    email = form.email.data if hasattr(form, "email") else getattr(user, "email", "")
    name = form.name.data if hasattr(form, "name") else getattr(user, "name", "")
    problem = password_problem(field.data or "", email or "", name or "")
    if problem:
        raise ValidationError(problem)


class NewUserForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter the person's name"), Length(max=120)])
    email = EmailField("Email address", validators=[
        DataRequired("Enter their email address"), Length(max=254),
        Email("Enter an email address like name@example.org", check_deliverability=False)])
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=True)
    password = PasswordField(
        "Initial password", description="At least 12 characters and not a common password. Tell them in person; "
        "they should change it after signing in.",
        validators=[DataRequired("Enter an initial password"), Length(max=200), _password_rules])
    confirm_password = PasswordField("Confirm initial password", validators=[
        DataRequired("Enter the password again"), EqualTo("password", "The passwords do not match")])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=True)


class ActiveForm(FlaskForm):
    active = SelectField("Account", choices=[("1", "Enabled"), ("0", "Disabled")], validate_choice=True)


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", description="At least 12 characters and not a common password.",
                             validators=[DataRequired("Enter a new password"), Length(max=200), _password_rules])
    confirm_password = PasswordField("Confirm new password", validators=[
        DataRequired("Enter the password again"), EqualTo("password", "The passwords do not match")])


class StrandForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter a name"), Length(max=100)])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    sort_order = IntegerField("Position in lists", default=0, validators=[
        InputRequired("Enter a whole number"), NumberRange(0, 9999, "Enter a number from 0 to 9999")])
    active = BooleanField("In use (offered for new records)", default=True)


class CategoryForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter a name"), Length(max=100)])
    labour = BooleanField("Labour (staff costs) by default")
    sort_order = IntegerField("Position in lists", default=0, validators=[
        InputRequired("Enter a whole number"), NumberRange(0, 9999, "Enter a number from 0 to 9999")])
    active = BooleanField("In use (offered for new records)", default=True)


class SettingForm(FlaskForm):
    value = StringField("Value", validators=[Length(max=200)])
