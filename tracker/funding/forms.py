"""Forms for funding years, streams, allocations and budget lines. Rules that span fields sit on the form."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from tracker.forms import MoneyField, OnceForm, UKDateField, VersionedForm
from tracker.models.funding import CLAIM_FREQUENCIES
from tracker.periods import parse_label



class ChoiceField(SelectField):
    """A select whose "not in the list" message says what to do."""

    def __init__(self, label=None, validators=None, message: str = "Choose one from the list", **kwargs):
        kwargs.setdefault("coerce", int)
        super().__init__(label, validators, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(self.message) from exc

    def pre_validate(self, form):
        if self.data not in [value for value, *_ in self.iter_choices()]:
            raise ValidationError(self.message)


ALLOCATION_STATUSES = [("confirmed", "Confirmed"), ("draft", "Draft (awaiting the grant letter)")]


class YearForm(OnceForm):
    label = StringField("Funding year", description="Like 2026-27. It runs from 1 April to 31 March.",
                        validators=[DataRequired("Enter the funding year, like 2026-27")])
    notes = TextAreaField("Notes", description="For example, when the grant letter arrived.",
                          validators=[Optional(), Length(max=5000)])

    def validate_label(self, field):
        field.data = (field.data or "").strip()
        try:
            parse_label(field.data)
        except ValueError as exc:
            raise ValidationError(f"The funding year {exc}") from exc
        from tracker.funding.rules import year_by_label

        if year_by_label(field.data) is not None:
            raise ValidationError(f"Funding year {field.data} already exists")


class YearNotesForm(VersionedForm):
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])


class ReopenForm(FlaskForm):
    reason = TextAreaField("Why it needs reopening", description="Recorded in the audit trail.",
                           validators=[DataRequired("Say why the year needs reopening"), Length(max=2000)])


class StreamForm(VersionedForm, OnceForm):
    name = StringField("Name", description="As the grant letter gives it.",
                       validators=[DataRequired("Enter the stream's name"), Length(max=120)])
    funder = StringField("Funder", description="For example, Home Office or the PCC.", validators=[Optional(), Length(max=120)])
    labour_split = BooleanField("The funder wants spend split into labour and non-labour")
    claim_frequency = SelectField("How often claims are made", choices=[(f, f.capitalize()) for f in CLAIM_FREQUENCIES])
    claim_due_days = IntegerField(
        "Claims are due (days after the claim period ends)",
        validators=[InputRequired("Enter the number of days after the period a claim is due"),
                    NumberRange(0, 365, "Enter a number of days from 0 to 365")])
    claim_basis = SelectField("Claims are made on", choices=[
        ("defrayed", "Money paid out (defrayed): accruals and their reversals are left out"),
        ("accrued", "Spend accrued: accruals count")])
    claim_timing = SelectField("Claims are made", choices=[
        ("arrears", "In arrears (after the period, for what was spent)"),
        ("advance", "In advance (at the start of the period, for its profile)")])
    final_claim_due_days = IntegerField(
        "The final claim is due (days after 31 March)",
        validators=[InputRequired("Enter the number of days after 31 March the final claim is due"),
                    NumberRange(0, 365, "Enter a number of days from 0 to 365")])
    active = BooleanField("Active (offered for new years)", default=True)
    finance_lead_id = SelectField(
        "Finance lead", coerce=lambda v: None if v in (None, "", "None") else int(v), validators=[Optional()],
        description="The finance officer who looks after this stream's claims. The deadlines the app makes for "
                    "the year (returns, final claim, annual report) are theirs unless someone picks another owner.")

    def __init__(self, *args, stream_id: int | None = None, leads=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.stream_id = stream_id
        self.finance_lead_id.choices = [(None, "Nobody yet")] + [(u.id, f"{u.name} ({u.role_label})") for u in leads]

    def validate_finance_lead_id(self, field):
        if field.data is not None and field.data not in [value for value, _label in self.finance_lead_id.choices]:
            raise ValidationError("Choose the finance lead from the list")

    def validate_name(self, field):
        from tracker.funding.service import stream_name_taken

        field.data = (field.data or "").strip()
        if stream_name_taken(field.data, self.stream_id):
            raise ValidationError(f"There is already a stream called {field.data}")


class AllocationForm(FlaskForm):
    funding_stream_id = ChoiceField("Funding stream", message="Choose the funding stream")
    amount = MoneyField("Allocation", description="In pounds, like £1,370,000.00.",
                        validators=[InputRequired("Enter the allocation")])
    status = SelectField("Status", choices=ALLOCATION_STATUSES)
    notes = TextAreaField("Notes", description="Grant letter reference, conditions.", validators=[Optional(), Length(max=5000)])


class RevisionForm(FlaskForm):
    amount = MoneyField("New allocation", description="The figure after this change, in pounds.",
                        validators=[InputRequired("Enter the new allocation")])
    status = SelectField("Status", choices=ALLOCATION_STATUSES)
    reason = TextAreaField("Reason for the change", description="For example, the virement agreed with the Home Office on 3 November.",
                           validators=[DataRequired("Give the reason for the change"), Length(max=2000)])
    grant_letter_date = UKDateField("Date of the grant letter", validators=[Optional()],
                                    description="Needed to confirm a draft allocation, like 14/06/2025.")
    grant_letter_reference = StringField("Grant letter reference", validators=[Optional(), Length(max=120)],
                                         description="Needed to confirm a draft allocation.")

    def __init__(self, *args, was_draft: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.was_draft = was_draft

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.was_draft and self.status.data == "confirmed":
            # Confirming the allocation records the grant letter that confirms it.
            if self.grant_letter_date.data is None:
                self.grant_letter_date.errors.append("Enter the date of the grant letter that confirms the allocation")
                ok = False
            if not (self.grant_letter_reference.data or "").strip():
                self.grant_letter_reference.errors.append("Enter the grant letter's reference")
                ok = False
        return ok


class BudgetLineForm(VersionedForm, OnceForm):
    funding_stream_id = ChoiceField("Funding stream", message="Choose the funding stream")
    category_id = ChoiceField("Category", message="Choose the category")
    strand_id = ChoiceField("Strand", message="Choose the strand")
    labour = BooleanField("Labour (staff costs)")
    description = StringField("Description", description='For example, "Mentoring services".',
                              validators=[Optional(), Length(max=200)])
    amount = MoneyField("Amount for the year", validators=[InputRequired("Enter the amount for the year")])
    q1 = MoneyField("Q1 (Apr–Jun)", validators=[InputRequired("Enter the Q1 profile (£0.00 if none)")])
    q2 = MoneyField("Q2 (Jul–Sep)", validators=[InputRequired("Enter the Q2 profile (£0.00 if none)")])
    q3 = MoneyField("Q3 (Oct–Dec)", validators=[InputRequired("Enter the Q3 profile (£0.00 if none)")])
    q4 = MoneyField("Q4 (Jan–Mar)", validators=[InputRequired("Enter the Q4 profile (£0.00 if none)")])
    reason = StringField("Reason for the change",
                         description="For a change of amount, or of the profile of a quarter already reported to the "
                                     "PCC. Kept in the line's history.",
                         validators=[Optional(), Length(max=500)])

    #: Quarters 1 to this one have been reported in an issued return: their profile is locked (set by the view).
    locked_quarters = 0
    #: The line's profile as it stands (what the locked quarters must keep unless a reason is given).
    reported_profile: list[int] | None = None

    def lock_reported(self, quarters: int, profile: list[int]) -> None:
        """Mark Q1 to ``quarters`` as reported: changing their profile then needs a reason."""
        self.locked_quarters, self.reported_profile = quarters, list(profile)
        for q in range(1, quarters + 1):
            getattr(self, f"q{q}").description = "Reported to the PCC: a change needs a reason."

    def reprofiled_quarters(self) -> list[int]:
        if not self.locked_quarters or self.reported_profile is None:
            return []
        return [q for q in range(1, self.locked_quarters + 1) if self.profile[q - 1] != self.reported_profile[q - 1]]

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok:
            from tracker.funding.service import profile_problem

            problem = profile_problem(self.amount.data, [self.q1.data, self.q2.data, self.q3.data, self.q4.data])
            if problem:
                self.q1.errors.append(problem)
                ok = False
        if ok and self.reprofiled_quarters() and not (self.reason.data or "").strip():
            names = ", ".join(f"Q{q}" for q in self.reprofiled_quarters())
            self.reason.errors.append(f"Give the reason for re-profiling {names}: already reported to the PCC in an "
                                      "issued return")
            ok = False
        return ok

    @property
    def profile(self) -> list[int]:
        return [self.q1.data, self.q2.data, self.q3.data, self.q4.data]


class PlannedForm(VersionedForm):
    """Finance's own figure for a budget line's planned (not yet contracted) spend, with the reason."""

    planned = MoneyField("Planned spend still to contract", validators=[Optional()],
                         description="Leave blank to go back to the default: the remaining profile less what is "
                                     "already committed and not yet paid.")
    reason = TextAreaField("Why", validators=[Optional(), Length(max=2000)],
                           description="Required when you set a figure: it is kept in the history.")

    def validate_reason(self, field):
        if self.planned.data is not None and not (field.data or "").strip():
            raise ValidationError("Say why the planned spend is overridden")
