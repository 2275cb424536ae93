"""Sign-in and password forms."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from tracker.auth.passwords import password_problem


class SignInForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password")])
    submit = SubmitField("Sign in")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password")])
    new_password = PasswordField(
        "New password",
        description="At least 12 characters. Avoid common passwords; a few unrelated words work well.",
        validators=[DataRequired("Enter a new password"), Length(max=200)],
    )
    confirm_password = PasswordField(
        "Confirm new password",
        validators=[DataRequired("Enter the new password again"), EqualTo("new_password", "The passwords do not match")],
    )
    submit = SubmitField("Change password")

    def validate_new_password(self, field):
        from flask_login import current_user

        problem = password_problem(field.data or "", getattr(current_user, "email", ""), getattr(current_user, "name", ""))
        if problem:
            raise ValidationError(problem)
