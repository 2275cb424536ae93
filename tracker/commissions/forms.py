"""Forms for commissions, quick changes in the register, variations and providers.

Rules that need only the form's own fields live here (``validate_<field>``); rules that need the database
(unique reference, the budget line's year, a closed year) are checked in service.py and reported at the field.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.widgets import HiddenInput
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from tracker.commissions import rules
from tracker.forms import MoneyField, OnceForm, UKDateField
from tracker.forms import VersionedForm as RecordVersionForm
from tracker.models.commissions import COMMISSION_STATUSES, COMMISSION_TYPES, END_DECISIONS, PROCUREMENT_ROUTES


def _optional_int(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class ShareRowForm(Form):
    """One funding share on the commission form: a year, then a stream, then one of that year's and stream's lines."""

    year_label = SelectField("Funding year", validate_choice=False)
    funding_stream_id = SelectField("Funding stream", coerce=_optional_int, validate_choice=False)
    budget_line_id = SelectField("Budget line", coerce=_optional_int, validate_choice=False)
    amount = MoneyField("Amount", validators=[Optional()])

    @property
    def is_blank(self) -> bool:
        return self.amount.data is None and not self.budget_line_id.data


class SharesMixin:
    """The funding shares part of a form (commission and variation): rows, and the over-budget confirmation."""

    #: Set on the form when a share would take a budget line over its amount: the person must confirm.
    confirm_over_budget = BooleanField("Yes, take the budget line over its budget")

    def share_inputs(self):
        """The rows as ``ShareInput`` (blank rows left out); None when every row is blank."""
        from tracker.commissions.shares import ShareInput

        rows = [r.form for r in self.shares if not r.form.is_blank]
        if not rows:
            return None
        return [ShareInput(r.year_label.data or "", r.amount.data or 0, r.budget_line_id.data or None,
                           r.funding_stream_id.data or None) for r in rows]


class VersionedForm(FlaskForm):
    #: The commission's version when the form was shown; a save based on an older one is refused.
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired("The form is missing its version: reload the page and try again")])


STRAND_HINT = ("The violence the service tackles. Young Futures is a funding stream and a programme, not a strand: "
               "choose the strand its work serves.")


class CommissionForm(SharesMixin, VersionedForm, OnceForm):
    reference = StringField("Reference", validators=[DataRequired("Enter a reference, like VRU-25-014"), Length(max=40)],
                            description="Our reference, e.g. VRU-25-014. Each commission has its own.")
    title = StringField("Title", validators=[DataRequired("Enter the service's title"), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    provider_id = SelectField("Provider", coerce=_optional_int, validate_choice=False)
    new_provider_name = StringField("Or a new provider's name", validators=[Optional(), Length(max=200)],
                                    description="Used when no provider is chosen above: the provider is added.")
    funding_year_id = SelectField("Funding year", coerce=_optional_int, validate_choice=False)
    strand_id = SelectField("Strand", coerce=_optional_int, validate_choice=False)
    procurement_route = SelectField("Procurement route", choices=[(r, r) for r in PROCUREMENT_ROUTES])
    competed = BooleanField("The award was competed")
    commission_type = SelectField("Type", choices=[(t, t.capitalize()) for t in COMMISSION_TYPES])
    value_pence = MoneyField("Value", validators=[InputRequired("Enter the value, like 12,500.00")],
                             description="The contract's value over its whole life, in pounds. Its funding "
                                         "shares below say which years and budget lines pay it.")
    start_date = UKDateField("Start date", validators=[InputRequired("Enter the start date, like 01/04/2025")],
                             description="Day/month/year, e.g. 01/04/2025")
    end_date = UKDateField("End date", validators=[InputRequired("Enter the end date, like 31/03/2026")],
                           description="Day/month/year, e.g. 31/03/2026")
    review_date = UKDateField("Review date", validators=[Optional()])
    extension_options = StringField("Extension options", validators=[Optional(), Length(max=200)],
                                    description="e.g. 1 + 1 years")
    end_decision = SelectField(
        "Decision on the end", choices=[("", "Not decided yet")] + [(d, d.capitalize()) for d in END_DECISIONS],
        description="Extend, re-procure or let it end. Until it is decided, a commission ending soon is flagged.",
        validate_choice=False)  # left out of a form (an older page, a script) means "not decided"
    status = SelectField("Status", choices=[(s, s.capitalize()) for s in COMMISSION_STATUSES])
    status_effective_date = UKDateField(
        "A change of status takes effect on", validators=[Optional()],
        description="Only when you change the status: the day it took effect, which may be in the past (within an "
                    "open funding year). Blank: today.")
    pcc_decision_ref = StringField("PCC decision reference", validators=[Optional(), Length(max=40)])
    po_number = StringField("PO number", validators=[Optional(), Length(max=40)])
    contract_manager = StringField("Contract manager", validators=[Optional(), Length(max=120)],
                                   description="Their name or e-mail as they sign in: the tasks the app makes for "
                                               "this commission (such as the decision on its end) are then theirs.")
    light_touch = BooleanField("Light-touch services (social, health or education services)",
                               description="Light-touch contracts have their own, higher Procurement Act threshold.")
    procurement_started_on = UKDateField("Procurement started", validators=[Optional()],
                                         description="Decides which threshold applies. Blank: the start date is used.")
    contract_entered_on = UKDateField("Contract entered into", validators=[Optional()],
                                      description="The day it was signed. Blank: the start date is used.")
    value_incl_vat_pence = MoneyField("Estimated value including VAT", validators=[Optional()],
                                      description="When procurement started; compared with the thresholds. Blank: "
                                                  "the value is used.")
    cdp_procurement_id = StringField("Central Digital Platform procurement ID", validators=[Optional(), Length(max=60)],
                                     description="e.g. ocds-h6vhtk-04f1a2")
    cdp_contract_id = StringField("Central Digital Platform contract ID", validators=[Optional(), Length(max=60)])
    award_reason = TextAreaField("Why it was awarded", validators=[Optional(), Length(max=2000)],
                                 description="The value-for-money reason published with spend over £500; a grant's "
                                             "reasons, published with the crime and disorder reduction grants.")
    grant_conditions = TextAreaField("Grant conditions", validators=[Optional(), Length(max=2000)],
                                     description="For a grant: its conditions, published with the grants list.")
    shares = FieldList(FormField(ShareRowForm), min_entries=1)

    def validate_value_incl_vat_pence(self, field):
        if field.data is not None and field.data <= 0:
            raise ValidationError("The value including VAT must be more than £0.00, or left blank")

    def validate_contract_entered_on(self, field):
        if field.data and self.procurement_started_on.data and field.data < self.procurement_started_on.data:
            raise ValidationError("The contract cannot be entered into before its procurement started")

    def validate_end_decision(self, field):
        if field.data not in (None, "", *END_DECISIONS):
            raise ValidationError("Choose extend, re-procure, let end, or not decided yet")

    def validate_value_pence(self, field):
        if not rules.value_above_zero(field.data):
            raise ValidationError(rules.VALUE_NOT_ABOVE_ZERO)

    def validate_end_date(self, field):
        if not rules.end_after_start(self.start_date.data, field.data):
            raise ValidationError(rules.END_NOT_AFTER_START)

    def validate_provider_id(self, field):
        if not field.data and not (self.new_provider_name.data or "").strip():
            raise ValidationError("Choose a provider, or enter a new provider's name")

    def validate_funding_year_id(self, field):
        if not field.data:
            raise ValidationError("Choose a funding year")

    def validate_strand_id(self, field):
        if not field.data:
            raise ValidationError("Choose a strand")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Set here rather than on the fields so the form's money section can change without touching them.
        self.strand_id.description = STRAND_HINT
        for date_field in (self.start_date, self.end_date, self.review_date):
            date_field.description = UKDateField.HINT  # the same hint as every other date in the app


class StatusForm(VersionedForm):
    status = SelectField("Status", choices=[(s, s.capitalize()) for s in COMMISSION_STATUSES],
                         validators=[DataRequired("Choose a status")])
    effective_date = UKDateField("Takes effect on", validators=[Optional()],
                                 description="The day it took effect, e.g. a termination's date; it may be in the "
                                             "past, within an open funding year. Blank: today.")
    note = TextAreaField("Reason", validators=[Optional(), Length(max=2000)])


class EndDateForm(VersionedForm):
    end_date = UKDateField("End date", validators=[InputRequired("Enter the end date, like 31/03/2026")])


class VariationForm(SharesMixin, VersionedForm):
    variation_date = UKDateField("Date agreed", validators=[InputRequired("Enter the date the variation was agreed")])
    reason = TextAreaField("Reason", validators=[DataRequired("Say why the commission is varied"), Length(max=2000)])
    value_change_pence = MoneyField("Change in value", allow_negative=True, validators=[Optional()],
                                    description="Negative for a reduction, e.g. -2,000.00. Leave blank for none.")
    new_end_date = UKDateField("New end date", validators=[Optional()],
                               description="Leave blank if the end date does not change.")
    shares = FieldList(FormField(ShareRowForm), min_entries=0)
    #: Set once the person has seen how the change falls across the funding years.
    shares_shown = BooleanField(widget=HiddenInput())

    def validate_value_change_pence(self, field):
        if not field.data and not self.new_end_date.data and not self.new_end_date.errors:
            raise ValidationError("Enter a change in value, a new end date, or both")


class ProviderForm(RecordVersionForm, OnceForm):
    name = StringField("Name", validators=[DataRequired("Enter the provider's name"), Length(max=200)])
    charity_number = StringField("Charity number", validators=[Optional(), Length(max=20)])
    company_number = StringField("Company number", validators=[Optional(), Length(max=20)])
    vcse = BooleanField("Voluntary, community or social enterprise (VCSE)")
    sme = BooleanField("Small or medium-sized enterprise (SME)")
    supported_employment = BooleanField("Supported employment provider")
    public_service_mutual = BooleanField("Public service mutual")
    individual = BooleanField("An individual or sole trader",
                              description="Their name shows as “Redacted: personal data” in published spend and contract files.")
    supplier_ids = TextAreaField("Supplier IDs in the finance ledger", validators=[Optional(), Length(max=2000)],
                                 description="One per line, e.g. SUP1001. Ledger lines with these IDs are matched to this provider.")
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])

    def supplier_id_list(self) -> list[str]:
        seen: list[str] = []
        for line in (self.supplier_ids.data or "").replace(",", "\n").splitlines():
            value = line.strip()
            if value and value not in seen:
                seen.append(value)
        return seen

    def validate_supplier_ids(self, field):
        for value in self.supplier_id_list():
            if len(value) > 60:
                raise ValidationError(f"Supplier ID “{value[:20]}…” is longer than 60 characters")
