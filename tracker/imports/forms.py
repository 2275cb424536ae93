"""Forms for the import pages: the upload, the commit choice and assigning unmatched ledger lines."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField
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
    #: Asked when the rows take budget lines over their amount (the commission form's question).
    confirm_over_budget = BooleanField("Yes, take the budget lines over their budgets")
    #: Which over-budget list the person saw: a different one at the commit (the budget changed) is asked again.
    over_budget_seen = HiddenField(default="")


class AssignForm(FlaskForm):
    lines = SelectMultipleField("Lines", coerce=int, choices=[], validate_choice=False)
    groups = SelectMultipleField("Suppliers", choices=[], validate_choice=False)
    commission = SelectField("Commission", coerce=int, choices=[], validate_choice=False,
                             description="For a commissioned service.")
    budget_line = SelectField("Or a budget line", coerce=int, choices=[], validate_choice=False,
                              description="For spend that is not a commission: salaries, venue hire, evaluation.")
    remember = BooleanField("Remember this for the supplier: its other lines within the commission's dates, and "
                            "future imports, go to this commission too", default=False)
    confirm = HiddenField(default="")

    def validate_lines(self, field):
        if not field.data and not self.groups.data:
            raise ValidationError("Tick the lines to assign")

    def validate_commission(self, field):
        chosen = field.data and field.data in [v for v, _ in field.choices]
        line = self.budget_line.data and self.budget_line.data in [v for v, _ in self.budget_line.choices]
        if chosen and line:
            raise ValidationError("Choose a commission or a budget line, not both")
        if not chosen and not line:
            raise ValidationError("Choose the commission the lines are for, or a budget line")
        if self.remember.data and not chosen:
            raise ValidationError("Only an assignment to a commission can be remembered for the supplier")


class SupplierRuleForm(FlaskForm):
    commission = SelectField("Commission", coerce=int, choices=[], validate_choice=False)

    def validate_commission(self, field):
        if not field.data or field.data not in [v for v, _ in field.choices]:
            raise ValidationError("Choose the commission this supplier's lines go to")


class AccountRuleForm(FlaskForm):
    account_code = StringField("Account code", validators=[Length(max=40)])
    budget_line = SelectField("Budget line", coerce=int, choices=[], validate_choice=False)

    def validate_account_code(self, field):
        field.data = (field.data or "").strip().upper()
        if not field.data:
            raise ValidationError("Enter the account code, as the ledger has it")

    def validate_budget_line(self, field):
        if not field.data or field.data not in [v for v, _ in field.choices]:
            raise ValidationError("Choose the budget line the account's spend goes to")
