"""Forms for returns: the notes typed before issuing, and reading the year and quarter from the query string."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField, ValidationError
from wtforms.validators import Length

from tracker.funding.rules import choose_quarter, choose_year
from tracker.models import FundingYear
from tracker.periods import reporting_quarter
from tracker.returns.service import NARRATIVE_MAX, REASON_MAX


class NotesForm(FlaskForm):
    narrative = TextAreaField(
        "Notes on risks and underspend",
        description="Shown on the Notes sheet of the return. Write what the PCC office needs to know: risks, "
                    "underspend and what is being done about it.",
        validators=[Length(max=NARRATIVE_MAX, message=f"Notes must be {NARRATIVE_MAX:,} characters or fewer")],
    )


class IssueForm(FlaskForm):
    """The confirmation: the version being issued (so two people cannot issue the same one unknowingly) and, for
    a corrected version, why it was corrected."""

    version = HiddenField()
    #: The notes exactly as the confirmation page showed them: they are saved with the issue.
    narrative = HiddenField(validators=[Length(max=NARRATIVE_MAX, message=f"Notes must be {NARRATIVE_MAX:,} characters "
                                                                          "or fewer")])
    correction_reason = TextAreaField(
        "Reason for the correction",
        description="What was wrong in the last version and what this one changes. Shown on the Cover and in the "
                    "list of returns.",
        validators=[Length(max=REASON_MAX, message=f"The reason must be {REASON_MAX:,} characters or fewer")],
    )

    def __init__(self, *args, next_version: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.next_version = next_version

    def validate_correction_reason(self, field):
        if self.next_version > 1 and not (field.data or "").strip():
            raise ValidationError(f"Enter the reason for the correction: version {self.next_version} replaces "
                                  f"version {self.next_version - 1}")


@dataclass
class Choice:
    year: FundingYear | None
    quarter: int


def choice_from_args(args, today: date | None = None) -> Choice:
    """The year and quarter the page asks for (``?year=2025-26&quarter=2``); by default the current year's
    reporting quarter (the last that has ended: a return reports on a closed quarter). A bad value stops with
    the one 4xx and message of ``tracker/funding/rules.py``."""
    year = choose_year(args)
    default = reporting_quarter(year.label, today or date.today()) if year is not None else 1
    return Choice(year, choose_quarter(args, default))
