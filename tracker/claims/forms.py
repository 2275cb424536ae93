"""Forms for claims, grant conditions, match contributions and virements. Rules that span fields sit here."""
from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from tracker.forms import MoneyField, OnceForm, UKDateField, VersionedForm  # noqa: F401
from tracker.funding.forms import ChoiceField

CONDITION_KIND_CHOICES = [
    ("category_share", "A category's minimum share of the allocation (e.g. evaluation at least 10%)"),
    ("strand_share", "A strand's minimum share of the allocation"),
    ("match_share", "A minimum share of match funding"),
    ("ring_fence", "Ring-fenced labour and non-labour"),
]


class ClaimForm(VersionedForm):
    claimed = MoneyField("Amount claimed", validators=[InputRequired("Enter the amount claimed")],
                         description="Never more than is left of the allocation after the year's other claims.")
    signed_off_by = StringField("Signed off by", validators=[Optional(), Length(max=120)],
                                description="Who approved the claim, e.g. the PCC's chief finance officer.")
    note = TextAreaField("Note", validators=[Optional(), Length(max=5000)])


class SubmitForm(VersionedForm):
    submitted_on = UKDateField("Date submitted to the funder",
                               validators=[InputRequired("Enter the date the claim was submitted")])


class DecisionForm(VersionedForm):
    decision = SelectField("The funder", choices=[("approved", "Approved the claim"), ("queried", "Queried the claim")])
    note = TextAreaField("What the funder said", validators=[Optional(), Length(max=2000)])


class PaymentForm(VersionedForm):
    paid_on = UKDateField("Date paid", validators=[InputRequired("Enter the date the funder paid")])
    received = MoneyField("Amount received", validators=[InputRequired("Enter the amount received")])
    remittance_reference = StringField("Remittance reference", validators=[
        DataRequired("Enter the remittance advice reference"), Length(max=80)])
    #: Shown when the amount is more than was claimed (tracker.claims.rules.payment_over_claim): the person confirms.
    confirm_over = BooleanField("Yes, the funder paid more than was claimed")


def parse_percent(text: str) -> int:
    """"10", "10%" or "12.5" as basis points (1000, 1250); ValueError for anything else."""
    t = (text or "").strip().rstrip("%").strip()
    m = re.fullmatch(r"(\d{1,3})(?:\.(\d{1,2}))?", t)
    if not m:
        raise ValueError("Enter a percentage, like 10 or 12.5")
    points = int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))
    if points > 10000:
        raise ValueError("Enter a percentage from 0 to 100")
    return points


class ConditionForm(OnceForm):
    funding_stream_id = ChoiceField("Funding stream", message="Choose the funding stream")
    kind = SelectField("Condition", choices=CONDITION_KIND_CHOICES)
    category_id = ChoiceField("Category (for a category's share)", message="Choose the category")
    strand_id = ChoiceField("Strand (for a strand's share)", message="Choose the strand")
    minimum = StringField("Minimum share (%)", validators=[Optional()],
                          description="Of the stream's revised allocation, e.g. 10 for 10%.")
    labour = MoneyField("Ring-fenced for labour", validators=[Optional()],
                        description="For a ring fence: the labour amount; the rest of the allocation is non-labour.")
    note = TextAreaField("The condition in the grant letter's words", validators=[Optional(), Length(max=2000)])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not ok:
            return False
        kind = self.kind.data
        self.basis_points = 0
        if kind in ("category_share", "strand_share", "match_share"):
            try:
                self.basis_points = parse_percent(self.minimum.data)
            except ValueError as exc:
                self.minimum.errors.append(str(exc))
                ok = False
        if kind == "category_share" and not self.category_id.data:
            self.category_id.errors.append("Choose the category the condition is about")
            ok = False
        if kind == "strand_share" and not self.strand_id.data:
            self.strand_id.errors.append("Choose the strand the condition is about")
            ok = False
        if kind == "ring_fence" and self.labour.data is None:
            self.labour.errors.append("Enter the amount ring-fenced for labour")
            ok = False
        return ok


class ContributionForm(VersionedForm, OnceForm):
    funding_stream_id = ChoiceField("Matches the funding stream", message="Choose the funding stream")
    partner = StringField("Partner", validators=[DataRequired("Enter the partner's name"), Length(max=200)])
    kind = SelectField("Kind", choices=[("cash", "Cash"), ("in_kind", "In kind")])
    pledged = MoneyField("Pledged", validators=[InputRequired("Enter the amount pledged")])
    evidenced = MoneyField("Evidenced", validators=[Optional()],
                           description="Only evidenced money counts towards a match-funding condition.")
    document_id = ChoiceField("Evidence", message="Choose a document of the year, or none",
                              description="One of the year's documents (add it on the year's documents page first).")
    note = TextAreaField("Note", validators=[Optional(), Length(max=2000)],
                         description="What the in-kind help is and how it was valued.")
    #: Shown when more is evidenced than pledged (tracker.claims.rules.evidence_over_pledge): the person confirms.
    confirm_over = BooleanField("Yes, more is evidenced than was pledged")

    def validate_document_id(self, field):
        if (self.evidenced.data or 0) > 0 and not field.data:
            raise ValidationError("Evidenced money needs its evidence: choose the document that shows it")


class VirementForm(OnceForm):
    from_line_id = ChoiceField("From budget line", message="Choose the line the money comes from")
    to_line_id = ChoiceField("To budget line", message="Choose the line the money goes to")
    amount = MoneyField("Amount", validators=[InputRequired("Enter the amount to move")])
    reason = TextAreaField("Why", validators=[DataRequired("Say why the money is moved"), Length(max=2000)])
    approval_reference = StringField(
        "Funder's approval reference", validators=[Optional(), Length(max=120)],
        description="Needed to move money across a ring fence (labour and non-labour) or between funding streams.")

    def validate_to_line_id(self, field):
        if field.data and field.data == self.from_line_id.data:
            raise ValidationError("Choose two different budget lines")
