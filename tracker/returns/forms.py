"""Forms for returns: the notes typed before issuing, and reading the year and quarter from the query string."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, TextAreaField, ValidationError
from wtforms.validators import Length

from tracker.errors import abort_with
from tracker.extensions import db
from tracker.figures import current_year
from tracker.models import FundingYear
from tracker.periods import parse_label, quarter_of
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


def default_quarter(year: FundingYear, today: date | None = None) -> int:
    """The last quarter that has ended (returns are made after a quarter closes); Q1 while Q1 is running."""
    today = today or date.today()
    if today > year.end_date:
        return 4
    if today < year.start_date:
        return 1
    return max(1, quarter_of(today) - 1)


def find_year(label: str) -> FundingYear:
    """The funding year named ``label``: 400 if it is not a year label, 404 if there is no such year."""
    try:
        parse_label(label)
    except ValueError:
        abort_with(400, f"“{label[:20]}” is not a funding year: it must look like 2025-26.")
    year = db.session.scalar(select(FundingYear).where(FundingYear.label == label.strip()))
    if year is None:
        abort_with(404, f"There is no funding year {label.strip()}.")
    return year


def check_quarter(raw) -> int:
    text = str(raw).strip()
    if text.upper().startswith("Q"):
        text = text[1:]
    if text not in ("1", "2", "3", "4"):
        abort_with(400, f"“{str(raw)[:20]}” is not a quarter: choose 1, 2, 3 or 4.")
    return int(text)


def choice_from_args(args) -> Choice:
    """The year and quarter the page asks for (``?year=2025-26&quarter=2``); bad values stop with a 400."""
    label = (args.get("year") or "").strip()
    year = find_year(label) if label else current_year()
    raw_quarter = (args.get("quarter") or "").strip()
    if raw_quarter:
        quarter = check_quarter(raw_quarter)
    else:
        quarter = default_quarter(year) if year else 1
    return Choice(year, quarter)
