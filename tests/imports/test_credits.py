"""Issue 25, credits "to be re-invoiced": finance marks a contract's credit line on the contract's page (audited,
a conditional update so a stale form is a 409), every bad request is a 4xx with nothing changed, and
``settled_credit()`` is the one SQL definition of an agreed credit the figures engine uses."""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tracker import figures
from tracker.extensions import db
from tracker.models import AuditEvent, LedgerTransaction
from tracker.models.ledger import settled_credit


@pytest.fixture
def contract(make):
    """A £10,000.00 contract on a £10,000.00 line, invoices of £10,000.00 paid and an agreed credit note
    −£1,250.50."""
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=10_000_00)
    c = make.commission(budget_line=line, value_pence=10_000_00, reference="VRU-25-C01")
    make.ledger_line(date(2025, 5, 15), 6_000_00, commission=c, reference="INV1")
    make.ledger_line(date(2025, 8, 15), 4_000_00, commission=c, reference="INV2")
    credit = make.ledger_line(date(2025, 10, 1), -1_250_50, commission=c, reference="CN1",
                              transaction_type="credit")
    db.session.commit()
    return year, line, c, credit


def _flag(line_id: int) -> bool:
    db.session.expire_all()
    return db.session.get(LedgerTransaction, line_id).reinvoice


def _events() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "LedgerTransaction"))


def test_a_new_credit_is_agreed_and_settled(contract):
    _year, _line, _c, credit = contract
    assert credit.reinvoice is False
    settled = db.session.scalars(select(LedgerTransaction.reference).where(settled_credit())).all()
    assert settled == ["CN1"]


def test_finance_marks_a_credit_to_be_re_invoiced_and_back_on_the_contracts_page(client, auth, contract):
    _year, _line, c, credit = contract
    auth.login("finance")
    page = client.get(f"/commissions/{c.id}")
    assert page.status_code == 200 and "Mark to be re-invoiced" in page.text and "Agreed" in page.text
    # Invoices get no button: only a credit can be re-invoiced.
    assert page.text.count("Mark to be re-invoiced") == 1
    response = client.post(f"/imports/ledger/{credit.id}/reinvoice", data={"reinvoice": "yes", "seen": "no"})
    assert response.status_code == 303 and response.location.endswith(f"/commissions/{c.id}#ledger")
    assert _flag(credit.id) is True
    assert db.session.scalars(select(LedgerTransaction.id).where(settled_credit())).all() == []
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "LedgerTransaction")).one()
    assert (event.realm, event.kind, event.before, event.after) == ("imports", "change", {"reinvoice": False},
                                                                    {"reinvoice": True})
    assert "CN1" in event.summary and "re-invoiced" in event.summary and event.user_id is not None
    page = client.get(f"/commissions/{c.id}")
    assert "To be re-invoiced" in page.text and "Mark as agreed" in page.text
    assert client.post(f"/imports/ledger/{credit.id}/reinvoice",
                       data={"reinvoice": "no", "seen": "yes"}).status_code == 303
    assert _flag(credit.id) is False and _events() == 2


def test_a_stale_form_is_a_409_and_changes_nothing(client, auth, contract):
    """Two people open the page while the credit is agreed; the first marks it, the second's form is stale."""
    _year, _line, _c, credit = contract
    auth.login("finance")
    assert client.post(f"/imports/ledger/{credit.id}/reinvoice",
                       data={"reinvoice": "yes", "seen": "no"}).status_code == 303
    response = client.post(f"/imports/ledger/{credit.id}/reinvoice", data={"reinvoice": "yes", "seen": "no"})
    assert response.status_code == 409 and "Someone else changed ledger line CN1" in response.text
    assert _flag(credit.id) is True and _events() == 1


@pytest.mark.parametrize("data, status, words", [
    ({}, 422, "Say whether the credit is to be re-invoiced"),
    ({"reinvoice": "maybe", "seen": "no"}, 422, "yes or no"),
    ({"reinvoice": "yes"}, 422, "when you saw it"),
    ({"reinvoice": "yes", "seen": "x" * 5000}, 422, "yes or no"),
])
def test_bad_input_is_a_422_with_a_message_and_changes_nothing(client, auth, contract, data, status, words):
    _year, _line, _c, credit = contract
    auth.login("finance")
    response = client.post(f"/imports/ledger/{credit.id}/reinvoice", data=data)
    assert response.status_code == status and words in response.text
    assert _flag(credit.id) is False and _events() == 0


def test_only_a_contracts_credit_can_be_marked(client, auth, make, contract):
    year, line, c, _credit = contract
    invoice = db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.reference == "INV1"))
    reversal = make.ledger_line(date(2025, 10, 2), -500_00, commission=c, transaction_type="reversal")
    loose = make.ledger_line(date(2025, 10, 3), -100_00, budget_line=line, transaction_type="credit")
    db.session.commit()
    auth.login("finance")
    for t, words in ((invoice, "is not a credit"), (reversal, "is not a credit"), (loose, "is on no contract")):
        response = client.post(f"/imports/ledger/{t.id}/reinvoice", data={"reinvoice": "yes", "seen": "no"})
        assert response.status_code == 422 and words in response.text
        assert _flag(t.id) is False
    assert client.post("/imports/ledger/999999/reinvoice", data={"reinvoice": "yes", "seen": "no"}).status_code == 404
    assert _events() == 0


def test_a_credit_in_a_closed_year_cannot_be_marked(client, auth, contract):
    year, _line, _c, credit = contract
    year.status = "closed"
    db.session.commit()
    auth.login("finance")
    response = client.post(f"/imports/ledger/{credit.id}/reinvoice", data={"reinvoice": "yes", "seen": "no"})
    assert response.status_code == 409 and "is closed" in response.text
    assert _flag(credit.id) is False and _events() == 0


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_only_finance_marks_credits(client, auth, contract, role):
    _year, _line, c, credit = contract
    auth.login(role)
    assert "Mark to be re-invoiced" not in client.get(f"/commissions/{c.id}").text
    response = client.post(f"/imports/ledger/{credit.id}/reinvoice", data={"reinvoice": "yes", "seen": "no"})
    assert response.status_code == 403 and _flag(credit.id) is False


def test_a_reimport_keeps_the_flag(app, contract):
    """The flag is finance's, not the ledger's: importing the same line again does not reset it."""
    from tests.imports.helpers import draft_of
    from tracker.imports import service as imports
    from tracker.imports.credits import mark_reinvoice

    _year, _line, _c, credit = contract
    mark_reinvoice(credit, True, False)
    db.session.commit()
    head = "Transaction Ref,Posting Date,Supplier Name,Narrative,Net,Type\n"
    draft = draft_of("ledger.csv", data=(head + "CN1,01/10/2025,Acme,Credit note again,-1250.50,Credit\n").encode())
    imports.preview(draft)
    imports.commit(draft)
    assert _flag(credit.id) is True


def test_an_agreed_credit_is_not_forecast_and_one_to_be_re_invoiced_stays_outstanding(client, auth, contract):
    """Issue 25's worked case: a £10,000.00 contract, invoices £10,000.00 paid, an agreed credit note −£1,250.50:
    actual £8,749.50, outstanding £0.00, forecast £8,749.50. Marked to be re-invoiced: outstanding £1,250.50
    (and forecast £10,000.00)."""
    year, _line, _c, credit = contract
    f = figures.year_figures(year, 4).lines[0][1]
    assert (f.actual_to_date, f.outstanding, f.forecast) == (8_749_50, 0, 8_749_50)
    auth.login("finance")
    assert _downloaded(client) == (8_749_50, 0, 8_749_50)
    assert client.post(f"/imports/ledger/{credit.id}/reinvoice",
                       data={"reinvoice": "yes", "seen": "no"}).status_code == 303
    db.session.expire_all()
    f = figures.year_figures(year, 4).lines[0][1]
    assert (f.actual_to_date, f.outstanding, f.forecast) == (8_749_50, 1_250_50, 10_000_00)
    assert _downloaded(client) == (8_749_50, 1_250_50, 10_000_00)


def _downloaded(client) -> tuple[int, int, int]:
    """Actual, outstanding and forecast of the contract's line in the budget download (Q4), in pence."""
    text = client.get("/exports/budget.csv?year=2025-26&quarter=4").data.decode("utf-8-sig")
    row = next(csv.DictReader(io.StringIO(text)))
    return tuple(int(Decimal(str(row[k]).replace(",", "")) * 100)
                 for k in ("Actual to date", "Outstanding commitment", "Forecast outturn"))
