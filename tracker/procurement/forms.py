"""Forms for marking a notice published and for adding a threshold."""
from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from tracker.forms import MoneyField, UKDateField
from tracker.models.procurement import THRESHOLD_CATEGORIES


class PublishNoticeForm(FlaskForm):
    published_on = UKDateField("Published on", validators=[InputRequired("Enter the date it was published, like 02/12/2026")])
    link = StringField("Link to the notice", validators=[DataRequired("Enter the notice's link on the Central Digital "
                                                                      "Platform"), Length(max=500)],
                       description="Its address on the Central Digital Platform (Find a Tender), starting https://")

    def validate_published_on(self, field):
        if field.data and field.data > date.today():
            raise ValidationError("The date it was published cannot be in the future")

    def validate_link(self, field):
        if field.data and not field.data.strip().lower().startswith(("https://", "http://")):
            raise ValidationError("Enter a web address starting https://")


class ThresholdForm(FlaskForm):
    category = SelectField("Kind", choices=[("services", "Sub-central authority services"),
                                            ("light-touch", "Light-touch services")],
                           validators=[DataRequired("Choose the kind of threshold")])
    amount_pence = MoneyField("Threshold including VAT", validators=[InputRequired("Enter the threshold, like 207,720.00")])
    applies_from = UKDateField("Applies to procurements started from",
                               validators=[InputRequired("Enter the date it applies from, like 01/01/2028")])
    source = StringField("Source", validators=[Optional(), Length(max=200)],
                         description="The regulations or guidance that set it.")

    def validate_category(self, field):
        if field.data not in THRESHOLD_CATEGORIES:
            raise ValidationError("Choose the kind of threshold")

    def validate_amount_pence(self, field):
        if field.data is not None and field.data <= 0:
            raise ValidationError("The threshold must be more than £0.00")


class IssuePublicationForm(FlaskForm):
    period = StringField("Period", validators=[DataRequired("The period is missing: reload the page")])
    correction_note = StringField("What this correction puts right", validators=[Optional(), Length(max=500)],
                                  description="Needed when a version is already issued.")


class PublishedWhereForm(FlaskForm):
    published_on = UKDateField("Published on", validators=[InputRequired("Enter the date it was published, like 30/06/2025")])
    published_where = StringField("Where", validators=[DataRequired("Enter the web address it was published at"),
                                                       Length(max=500)],
                                  description="The page on the website, starting https://")

    def validate_published_on(self, field):
        if field.data and field.data > date.today():
            raise ValidationError("The date it was published cannot be in the future")

    def validate_published_where(self, field):
        if field.data and not field.data.strip().lower().startswith(("https://", "http://")):
            raise ValidationError("Enter a web address starting https://")


class PersonalDataForm(FlaskForm):
    """Finance's decision on a payment in a spend file that may name a person."""

    period = StringField("Period", validators=[DataRequired("The period is missing: reload the page")])
    decision = SelectField("Decision", choices=[("", "Choose"), ("redact", "Redact it"),
                                                ("publish", "Let it through (publish as in the ledger)")],
                           validators=[DataRequired("Choose: redact it, or let it through")])
    reason = TextAreaField("Why it may be published", validators=[Length(max=500)],
                           description="Needed to let it through, like: the supplier is a company and the number is "
                                       "its office's.")

    def validate_reason(self, field):
        if self.decision.data == "publish" and not (field.data or "").strip():
            raise ValidationError("Say why this payment may be published as in the ledger")
