"""Forms for measures, actuals, narratives, metrics, monitoring returns and documents."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, StopValidation, ValidationError

from tracker.forms import OnceForm, VersionedForm
from tracker.models.monitoring import DOCUMENT_KINDS
from tracker.monitoring.service import MAX_VALUE, NARRATIVE_MAX, WHOLE_MESSAGE

WHOLE = WHOLE_MESSAGE


class _Whole(IntegerField):
    """A whole number with our message instead of WTForms' "Not a valid integer value". Text that is not a
    number gets that one message with the limit, not a second one from the range check ("twelve" showed two
    contradicting messages)."""

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()

    def process_formdata(self, valuelist):
        if valuelist and (valuelist[0] or "").strip():
            text = valuelist[0].strip().replace(",", "")
            if not text.isdigit():
                self.data = None
                raise ValueError(WHOLE)
            self.data = int(text)
        else:
            self.data = None


def _whole(label: str, required: bool = False):
    return _Whole(label, validators=[InputRequired(WHOLE) if required else Optional(),
                                     NumberRange(0, MAX_VALUE, WHOLE_MESSAGE)])


class TargetsForm(VersionedForm):
    unit = StringField("Unit", validators=[Optional(), Length(max=40)], description="e.g. people, sessions, hours")
    target_q1 = _whole("Q1 target")
    target_q2 = _whole("Q2 target")
    target_q3 = _whole("Q3 target")
    target_q4 = _whole("Q4 target")
    target_year = _whole("Year target", )

    @property
    def targets(self) -> tuple[int, int, int, int]:
        return tuple(int(f.data or 0) for f in (self.target_q1, self.target_q2, self.target_q3, self.target_q4))


class MeasureForm(TargetsForm, OnceForm):
    metric_id = SelectField("Metric", coerce=int, validators=[InputRequired("Choose a metric")])


class ActualForm(FlaskForm):
    value = _whole("Actual")


class NarrativeForm(FlaskForm):
    text = TextAreaField("Narrative", validators=[Length(max=NARRATIVE_MAX,
                                                         message=f"Keep it to {NARRATIVE_MAX:,} characters or fewer")])


class CopyForm(FlaskForm):
    source = SelectField("Copy measures from", validators=[InputRequired("Choose where to copy from")],
                         description="Another commission (with its targets), or the standard template.")


class MetricForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired("Enter the metric's name"), Length(max=100)])
    unit = StringField("Unit", validators=[Optional(), Length(max=40)])
    description = TextAreaField("What counts", validators=[Optional(), Length(max=1000)])
    in_template = BooleanField("In the standard template")
    active = BooleanField("Offered for new measures", default=True)


class ReturnUploadForm(FlaskForm):
    quarter = SelectField("Quarter", coerce=int, choices=[(q, f"Q{q}") for q in (1, 2, 3, 4)],
                          validators=[InputRequired("Choose the quarter")])
    file = FileField("Filled-in monitoring workbook (.xlsx)")

    def validate_file(self, field):
        if not field.data or not getattr(field.data, "filename", ""):
            raise ValidationError("Choose the workbook to upload")


class DocumentForm(FlaskForm):
    kind = SelectField("Kind", choices=[(k, k.capitalize()) for k in DOCUMENT_KINDS],
                       validators=[InputRequired("Choose what kind of document this is")])
    title = StringField("Title", validators=[Optional(), Length(max=200)],
                        description="Leave blank to use the file's name.")
    file = FileField("File")

    def validate_file(self, field):
        if not field.data or not getattr(field.data, "filename", ""):
            raise ValidationError("Choose a file to upload")


class VersionForm(FlaskForm):
    file = FileField("New version")

    def validate_file(self, field):
        if not field.data or not getattr(field.data, "filename", ""):
            raise ValidationError("Choose a file to upload")
