"""Form fields every area shares: amounts of money typed as text, and dates typed the UK way.

``MoneyField`` turns "£1,234.50" into 123450 (integer pence) with tracker.money; ``UKDateField`` takes
31/03/2026 or 2026-03-31. Both give a clear message at the field when what was typed cannot be used.
``VersionedForm`` and ``OnceForm`` are the bases of edit and create forms (tracker/locking.py says why).
"""
from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

from tracker.money import MoneyError, format_pence, to_pence
from tracker.periods import parse_uk_date


class MoneyField(StringField):
    """An amount in pounds typed as text; ``data`` is integer pence (None when blank).

    ``allow_negative=False`` (the default) refuses amounts below zero, which budgets and values never are.
    Pair with ``InputRequired`` to make it required.
    """

    def __init__(self, label=None, validators=None, allow_negative: bool = False,
                 message: str = "Enter an amount in pounds, like £1,234.50", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.allow_negative = allow_negative
        self.message = message

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist or not (valuelist[0] or "").strip():
            return
        try:
            pence = to_pence(valuelist[0])
        except MoneyError as exc:
            raise ValueError(self.message) from exc
        if pence < 0 and not self.allow_negative:
            raise ValueError(f"{self.label.text} must be zero or more")
        self.data = pence

    def _value(self):
        # Re-show exactly what was typed after an error, otherwise the amount without the pound sign.
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return format_pence(self.data, symbol=False)


class UKDateField(StringField):
    """The one date input of every form: a text field taking a date the UK way (31/03/2026, 31/3/2026,
    31 March 2026, or 2026-03-31 as date pickers send); ``data`` is a ``date``. No browser date picker, whose
    format follows the browser's locale (it showed mm/dd/yyyy under a "31/07/2025" hint)."""

    HINT = "Day, month and year, for example 31/03/2026"

    def __init__(self, label=None, validators=None, message: str | None = None, **kwargs):
        kwargs.setdefault("description", self.HINT)
        render_kw = kwargs.setdefault("render_kw", {})
        render_kw.setdefault("autocomplete", "off")
        render_kw.setdefault("spellcheck", "false")
        super().__init__(label, validators, **kwargs)
        self.message = message or f"{self.label.text} must be a real date, like 31/03/2026"

    def process_formdata(self, valuelist):
        self.data = None
        text = ((valuelist[0] if valuelist else "") or "").strip()
        if not text:
            return
        try:
            self.data = parse_uk_date(text)
        except ValueError:
            raise ValueError(self.message) from None

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if isinstance(self.data, date):
            return self.data.strftime("%d/%m/%Y")
        return ""


class VersionedForm(FlaskForm):
    """A form that changes a record: it carries the version the record was shown at (tracker/locking.py)."""

    #: The record's version when the form was shown; a change made from an older one is refused (409).
    version = HiddenField()


class OnceForm(FlaskForm):
    """A create form: it carries a one-time token, so sending it twice makes one record (tracker/locking.py)."""

    #: Made when the form is shown; a second POST with it is answered with the record the first made.
    once = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.once.data:  # shown for the first time (a POST sends back the token it was shown with)
            from tracker.locking import new_token

            self.once.data = new_token()
