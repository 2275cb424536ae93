"""Forms for the import pages: the upload, the commit choice and assigning unmatched ledger lines."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, Optional, ValidationError

KIND_CHOICES = [("", "Let the tracker decide from the column headings"), ("ledger", "Finance ledger export (actual spend)"),
                ("commissions", "Commissions register"), ("budget", "Budget allocations")]
ALLOWED = (".xlsx", ".xlsm", ".csv")


class UploadForm(FlaskForm):
    file = FileField("Spreadsheet", description="An Excel workbook (.xlsx or .xlsm) or a CSV file.",
                     validators=[FileRequired("Choose the spreadsheet to upload")])
    kind = SelectField("What is it?", choices=KIND_CHOICES, default="")
    year = SelectField("Funding year", description="Needed for a budget; a commissions register uses it for every "
                       "row instead of each start date.", choices=[("", "Not needed")], default="")
    sheet = StringField("Sheet", description="Leave blank and the tracker finds the sheet with the data.",
                        validators=[Optional(), Length(max=100)])

    def validate_file(self, field):
        name = (field.data.filename or "").lower() if field.data else ""
        if name and not name.endswith(ALLOWED):
            raise ValidationError("The file must be an Excel workbook (.xlsx or .xlsm) or a CSV file (.csv)")

    def validate_year(self, field):
        if self.kind.data == "budget" and not field.data:
            raise ValidationError("Choose the funding year this budget is for")


class CommitForm(FlaskForm):
    leave_out = BooleanField("Leave out the rows with problems and import the rest",
                             description="The rows left out are kept with the import's record.")


class AssignForm(FlaskForm):
    lines = SelectMultipleField("Lines", coerce=int, choices=[], validate_choice=False)
    commission = SelectField("Commission", coerce=int, choices=[], validate_choice=False)
    remember = BooleanField("Remember this for the supplier's other lines and future imports", default=True)

    def validate_lines(self, field):
        if not field.data:
            raise ValidationError("Tick the lines to assign")

    def validate_commission(self, field):
        if not field.data or field.data not in [v for v, _ in field.choices]:
            raise ValidationError("Choose the commission the lines are for")
