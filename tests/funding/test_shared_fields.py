"""tracker/forms.py: amounts typed as text become pence; UK dates are read; bad input gets a clear message."""
from __future__ import annotations

from datetime import date

import pytest
from flask_wtf import FlaskForm
from wtforms.validators import InputRequired

from tracker.forms import MoneyField, UKDateField


class Form(FlaskForm):
    amount = MoneyField("Amount", [InputRequired("Enter the amount")])
    credit = MoneyField("Credit", allow_negative=True)
    when = UKDateField("Date")


def _form(app, **data):
    with app.test_request_context(method="POST", data=data):
        form = Form()
        form.validate()
        return form


@pytest.mark.parametrize("text, pence", [("£1,234.50", 123450), ("1234.5", 123450), ("0", 0), ("£0.01", 1),
                                         (" 1,000,000 ", 100_000_000), ("12.345", 1235)])
def test_money_is_read_to_the_penny(app, text, pence):
    form = _form(app, amount=text)
    assert form.amount.data == pence and not form.amount.errors


@pytest.mark.parametrize("text, message", [("abc", "Enter an amount in pounds, like £1,234.50"), ("1.2.3", "Enter an amount in pounds, like £1,234.50"),
                                           ("", "Enter the amount"), ("-5", "Amount must be zero or more"),
                                           ("(5.00)", "Amount must be zero or more")])
def test_bad_money_has_a_message(app, text, message):
    form = _form(app, amount=text)
    assert form.amount.errors and form.amount.errors[0] == message


def test_negative_allowed_when_asked_and_typed_text_shown_back(app):
    form = _form(app, amount="1", credit="(1,000.00)")
    assert form.credit.data == -100000
    bad = _form(app, amount="twelve")
    assert bad.amount._value() == "twelve"
    with app.test_request_context():
        fresh = Form(data={"amount": 123450})
        assert fresh.amount._value() == "1,234.50"


@pytest.mark.parametrize("text, expected", [("31/03/2026", date(2026, 3, 31)), ("1/4/2025", date(2025, 4, 1)),
                                            ("31-03-2026", date(2026, 3, 31)), ("31 March 2026", date(2026, 3, 31)),
                                            ("2026-03-31", date(2026, 3, 31)), ("", None)])
def test_uk_dates(app, text, expected):
    form = _form(app, amount="1", when=text)
    assert form.when.data == expected and not form.when.errors


@pytest.mark.parametrize("text", ["31/02/2026", "2026/03/31", "tomorrow", "03/31/2026", "31/03/26"])
def test_bad_dates_have_a_message(app, text):
    form = _form(app, amount="1", when=text)
    assert form.when.errors == [f"{form.when.label.text} must be a real date, like 31/03/2026"]  # one message
