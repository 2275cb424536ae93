"""Forms for adding, editing and completing milestones, and for the personal calendar feed."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from tracker.forms import OnceForm, UKDateField, VersionedForm
from tracker.models.milestones import MILESTONE_STATUSES, PROGRAMMES


def _optional_int(value):
    if value in (None, "", "None"):
        return None
    return int(value)


def _check_link(form, field):
    """Evidence links must be web addresses (http or https): anything else could run script when clicked."""
    text = (field.data or "").strip()
    field.data = text
    if not text:
        return
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("Enter a web address starting with https://, e.g. https://sharepoint.example/doc")


def _not_in_future(form, field):
    if field.data and field.data > date.today():
        raise ValidationError("The date it was done cannot be in the future")


class MilestoneForm(VersionedForm, OnceForm):
    title = StringField("Title", validators=[DataRequired("Enter what is due"), Length(max=200, message="Title must be 200 characters or fewer")])
    programme = SelectField("Programme", choices=[(p, p) for p in PROGRAMMES],
                            validators=[InputRequired("Choose a programme")])
    due_date = UKDateField("Due date", validators=[InputRequired("Enter the due date, like 31/07/2025")],
                           message="The due date must be a real date, like 31/07/2025")
    owner_id = SelectField("Owner", coerce=_optional_int, validators=[Optional()],
                           description="The person responsible. They get the daily reminder.")
    status = SelectField("Status", choices=[(s, s.capitalize()) for s in MILESTONE_STATUSES],
                         validators=[InputRequired("Choose a status")])
    completed_date = UKDateField("Date done", validators=[Optional(), _not_in_future],
                                 description="Only when the status is done. Day, month and year, for example 31/07/2025")
    funding_year_id = SelectField("Funding year", coerce=_optional_int, validators=[Optional()])
    commission_id = SelectField("Commission", coerce=_optional_int, validators=[Optional()])
    evidence = TextAreaField("Evidence", validators=[Length(max=5000, message="Evidence must be 5,000 characters or fewer")],
                             description="What shows it was done: a decision, minutes, a report.")
    evidence_link = StringField("Link to evidence", validators=[Length(max=500, message="The link must be 500 characters or fewer"), _check_link])

    def __init__(self, *args, users=(), years=(), commissions=(), generated=False, event=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.choices = [(None, "No owner yet")] + [(u.id, u.name) for u in users]
        self.funding_year_id.choices = [(None, "None")] + [(y.id, y.label) for y in years]
        self.commission_id.choices = [(None, "None")] + [(c.id, f"{c.reference} {c.title}") for c in commissions]
        self.generated = generated
        if generated:
            # A generated deadline follows its source: its title, date and links are not edited here.
            for name in ("title", "due_date", "funding_year_id", "commission_id", "programme"):
                delattr(self, name)
        if event:
            # An event (a contract ends) happens on its date: it has no status to set and is never "done".
            for name in ("status", "completed_date"):
                delattr(self, name)

    def validate_status(self, field):
        if field.data == "done" and not self.completed_date.data and not self.completed_date.errors:
            raise ValidationError("Enter the date it was done, or choose another status")

    def validate_completed_date(self, field):
        if field.data and self.status.data != "done":
            raise ValidationError("Only give the date it was done when the status is done")


class CompleteForm(VersionedForm):
    """Mark a milestone done, with the evidence that shows it."""

    completed_date = UKDateField("Date done", validators=[InputRequired("Enter the date it was done, like 31/07/2025"), _not_in_future])
    evidence = TextAreaField("Evidence", validators=[Length(max=5000, message="Evidence must be 5,000 characters or fewer")],
                             description="What shows it was done: a decision, minutes, a report.")
    evidence_link = StringField("Link to evidence", validators=[Length(max=500, message="The link must be 500 characters or fewer"), _check_link])


class CalendarTokenForm(FlaskForm):
    action = SelectField("Action", choices=[("create", "Create"), ("regenerate", "Regenerate"), ("revoke", "Revoke")],
                         validators=[InputRequired()])
