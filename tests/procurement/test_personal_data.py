"""Personal data in the public spend files (issue 26): every line that may name a person is found, redacted
(supplier and purpose) or let through by finance with a reason, and the issued files read back hold no name, phone
number, email address or postcode that was not let through on purpose."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import AuditEvent, LedgerTransaction, PersonalDataDecision, Publication, SupplierAlias
from tracker.procurement.personal_data import REDACTED, Individuals, contacts, find, person_like

# What must never reach a published file unless finance let it through.
PERSONAL = ("Jane", "Individual", "07700", "900123", "jo.smith", "@", "ME1 4AB", "K Person", "SUP-JI")


def _csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _no_personal_data(data: bytes) -> None:
    text = data.decode("utf-8-sig")
    for word in PERSONAL:
        assert word not in text, f"{word!r} is in the published file"


# --- The rule, without a request ----------------------------------------------------------------------------------

def test_phone_numbers_emails_and_postcodes_are_found_and_references_are_not():
    assert contacts("Call 07700 900123 about it") == ["phone number 07700 900123"]
    assert contacts("mobile +44 7700 900123") == ["phone number +44 7700 900123"]
    assert contacts("office (020) 7946 0000") == ["phone number (020) 7946 0000"]
    assert contacts("hall 01632 960001") == ["phone number 01632 960001"]
    assert contacts("email jo.smith@example.org") == ["email address jo.smith@example.org"]
    assert contacts("room hire at ME1 4AB") == ["postcode ME1 4AB"]
    # Invoice, PO and period references are not contact details.
    for text in ("PO 0200123456", "Invoice 012345678901234", "INV-2025-0001", "Youth work Q3 2025-26", "12 sessions"):
        assert contacts(text) == [], text


def test_a_supplier_name_like_a_persons_is_doubtful_and_a_companys_is_not():
    assert person_like("Mr K Person") and person_like("Jo Bloggs t/a Coaching") and person_like("J. R. Smith")
    assert person_like("Bright Futures CIC") is None and person_like("Refund Ltd") is None


def test_a_flagged_individual_is_found_by_name_id_or_in_the_text_whatever_the_supplier_id():
    people = Individuals(["Jane Individual"], {"SUP-JI": "Jane Individual"})
    # Under a new supplier ID, the name normalised still matches.
    assert [f.certain for f in find(people, supplier_name="JANE INDIVIDUAL LTD.", supplier_id="SUP-NEW")] == [True]
    assert [f.certain for f in find(people, supplier_id="sup-ji")] == [True]
    named = find(people, supplier_name="Acme Ltd", texts=["Sessional work J Individual"])
    assert len(named) == 1 and named[0].certain and "names Jane Individual" in named[0].why
    doubtful = find(people, supplier_name="Acme Ltd", texts=["Call 07700 900123"])
    assert [f.certain for f in doubtful] == [False]
    assert find(people, supplier_name="Acme Ltd", texts=["Detached youth work"]) == ()


# --- Through the web: issued files read back ---------------------------------------------------------------------

@pytest.fixture
def ledger(make):
    """May 2025: the issue's three lines for one person, the doubtful ones, and a clean one."""
    jane = make.provider("Jane Individual", individual=True)
    db.session.add(SupplierAlias(provider=jane, kind="supplier_id", value="SUP-JI"))
    youth = make.budget_line(category=make.category("Youth diversion"))
    lines = {
        # Redacted today, but its purpose kept her name.
        "ji": make.ledger_line(posting_date=date(2025, 5, 2), net_pence=900_00, supplier_id="SUP-JI",
                               supplier_name="Jane Individual", narrative="Sessional work J Individual",
                               invoice_number="JI-1", budget_line=youth),
        # The same person under a new supplier ID.
        "new": make.ledger_line(posting_date=date(2025, 5, 3), net_pence=800_00, supplier_id="SUP-NEW",
                                supplier_name="JANE INDIVIDUAL", narrative="Sessional work", invoice_number="JI-2",
                                account_description="Sessional workers"),
        # With no ID, and her phone number in the narrative.
        "noid": make.ledger_line(posting_date=date(2025, 5, 4), net_pence=700_00, supplier_name="Jane Individual",
                                 narrative="Mentoring, call 07700 900123", invoice_number="JI-3"),
        "email": make.ledger_line(posting_date=date(2025, 5, 5), net_pence=600_00, supplier_name="Bright Futures CIC",
                                  narrative="Venue hire, contact jo.smith@example.org", invoice_number="BF-1",
                                  account_description="Premises hire"),
        "postcode": make.ledger_line(posting_date=date(2025, 5, 6), net_pence=650_00,
                                     supplier_name="Safe Places Ltd", narrative="Room hire at ME1 4AB",
                                     invoice_number="SP-1"),
        "title": make.ledger_line(posting_date=date(2025, 5, 7), net_pence=550_00, supplier_name="Mr K Person",
                                  narrative="Football coaching", invoice_number="KP-1"),
        # Doubtful, and finance lets it through: the hall's switchboard.
        "hall": make.ledger_line(posting_date=date(2025, 5, 8), net_pence=1_000_00, supplier_name="Hall Trust",
                                 narrative="Bookings 01632 960001", invoice_number="HT-1"),
        "clean": make.ledger_line(posting_date=date(2025, 5, 9), net_pence=2_000_00, supplier_name="Clean Ltd",
                                  narrative="Detached youth work", invoice_number="CL-1"),
    }
    db.session.commit()
    return {k: v.id for k, v in lines.items()}


def _decide(client, line_id: int, decision: str, reason: str = "", period: str = "2025-05",
            kind: str = "spend-monthly"):
    p = f"l{line_id}"
    return client.post(f"/publications/{kind}/lines/{line_id}/personal-data",
                       data={f"{p}-period": period, f"{p}-decision": decision, f"{p}-reason": reason})


def _decide_all(client, ledger):
    for key in ("email", "postcode", "title"):
        assert _decide(client, ledger[key], "redact").status_code == 303
    assert _decide(client, ledger["hall"], "publish",
                   "Hall Trust is a charity; the number is the hall's switchboard").status_code == 303


def test_finance_reviews_every_line_then_the_issued_file_names_no_one(ledger, client, auth, make):
    auth.login("finance")
    page = client.get("/publications/spend-monthly?period=2025-05")
    assert page.status_code == 200 and "Personal data: check before issuing" in page.text
    for shown in ("JI-1", "JI-2", "JI-3", "BF-1", "SP-1", "KP-1", "HT-1", "phone number 07700 900123"):
        assert shown in page.text
    # Doubtful lines with no decision: the Issue action refuses, and nothing is issued.
    refused = client.post("/publications/spend-monthly/issue", data={"period": "2025-05"})
    assert refused.status_code == 422 and "4 payment(s) that may name a person have no decision yet" in refused.text
    assert db.session.scalar(select(func.count(Publication.id))) == 0
    # Letting a line through needs a reason.
    no_reason = _decide(client, ledger["hall"], "publish")
    assert no_reason.status_code == 422 and "Say why this payment may be published" in no_reason.text
    assert db.session.scalar(select(func.count(PersonalDataDecision.id))) == 0
    _decide_all(client, ledger)
    # A certain line is not finance's to let through; a clean line is not on the list.
    assert _decide(client, ledger["new"], "publish", "She agreed").status_code == 409
    assert _decide(client, ledger["clean"], "redact").status_code == 409
    assert _decide(client, 999_999, "redact").status_code == 404

    assert client.post("/publications/spend-monthly/issue", data={"period": "2025-05"}).status_code == 303
    v1 = db.session.scalars(select(Publication)).one()
    data = client.get(f"/publications/issued/{v1.id}.csv").data
    _no_personal_data(data)
    rows = {r["Transaction number"]: r for r in _csv(data)}
    assert set(rows) == {"JI-1", "JI-2", "JI-3", "BF-1", "SP-1", "KP-1", "HT-1", "CL-1"}
    for ref in ("JI-1", "JI-2", "JI-3", "BF-1", "SP-1", "KP-1"):
        assert rows[ref]["Recipient"] == REDACTED, ref
    # A redacted line's purpose is its category: the budget line's, else the account description, else Services.
    assert rows["JI-1"]["Purpose"] == "Youth diversion"
    assert rows["JI-2"]["Purpose"] == "Sessional workers"
    assert rows["JI-3"]["Purpose"] == "Services"
    assert rows["BF-1"]["Purpose"] == "Premises hire"
    # Let through on purpose, as in the ledger; the clean line as it was.
    assert (rows["HT-1"]["Recipient"], rows["HT-1"]["Purpose"]) == ("Hall Trust", "Bookings 01632 960001")
    assert (rows["CL-1"]["Recipient"], rows["CL-1"]["Purpose"]) == ("Clean Ltd", "Detached youth work")
    # The let-through is audited with its reason.
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "PersonalDataDecision")).all()
    assert len(events) == 4
    assert any((e.after or {}).get("reason") == "Hall Trust is a charity; the number is the hall's switchboard"
               and (e.after or {}).get("publish") is True for e in events)

    # Version 2 (a late line) keeps every decision without asking again.
    make.ledger_line(posting_date=date(2025, 5, 30), net_pence=5_000_00, supplier_name="Late Ltd",
                     invoice_number="LT-1")
    db.session.commit()
    assert client.post("/publications/spend-monthly/issue",
                       data={"period": "2025-05", "correction_note": "Late invoice added"}).status_code == 303
    v2 = db.session.scalars(select(Publication).where(Publication.version == 2)).one()
    data2 = client.get(f"/publications/issued/{v2.id}.csv").data
    _no_personal_data(data2)
    rows2 = {r["Transaction number"]: r for r in _csv(data2)}
    assert "LT-1" in rows2 and rows2["HT-1"]["Recipient"] == "Hall Trust"
    assert all(rows2[ref]["Recipient"] == REDACTED for ref in ("JI-1", "JI-2", "JI-3", "BF-1", "SP-1", "KP-1"))

    # The quarterly file holds the same lines: the same decisions apply.
    assert client.post("/publications/spend-quarterly/issue", data={"period": "2025-26-q1"}).status_code == 303
    q1 = db.session.scalars(select(Publication).where(Publication.kind == "spend-quarterly")).one()
    quarterly = client.get(f"/publications/issued/{q1.id}.csv").data
    _no_personal_data(quarterly)
    assert {r["Beneficiary"] for r in _csv(quarterly)} == {REDACTED, "Hall Trust", "Clean Ltd", "Late Ltd"}

    # Every role downloads the redacted files only, and the draft is redacted too; only staff see the review list.
    for role in ("viewer", "manager", "finance", "admin"):
        auth.logout()
        auth.login(role)
        for pub in (v1, v2, q1):
            response = client.get(f"/publications/issued/{pub.id}.csv")
            assert response.status_code == 200
            _no_personal_data(response.data)
        draft = client.get("/publications/spend-monthly/draft.csv?period=2025-05")
        assert draft.status_code == 200
        _no_personal_data(draft.data)
        page = client.get("/publications/spend-monthly?period=2025-05")
        assert page.status_code == 200 and ("Jane Individual" in page.text) == (role != "viewer")


def test_a_decision_holds_only_for_the_doubts_it_was_made_on(ledger, client, auth):
    auth.login("finance")
    _decide_all(client, ledger)
    # The hall's line now also carries a person's email address: the let-through no longer covers it.
    line = db.session.get(LedgerTransaction, ledger["hall"])
    line.narrative = "Bookings 01632 960001, jo.smith@example.org"
    db.session.commit()
    refused = client.post("/publications/spend-monthly/issue", data={"period": "2025-05"})
    assert refused.status_code == 422 and "HT-1" in refused.text
    draft = client.get("/publications/spend-monthly/draft.csv?period=2025-05").data
    _no_personal_data(draft)
    assert {r["Transaction number"]: r["Recipient"] for r in _csv(draft)}["HT-1"] == REDACTED


def test_only_finance_decides(ledger, client, auth):
    auth.login("manager")
    assert _decide(client, ledger["email"], "publish", "A company address").status_code == 403
    auth.logout()
    auth.login("viewer")
    assert _decide(client, ledger["email"], "publish", "A company address").status_code == 403
    assert db.session.scalar(select(func.count(PersonalDataDecision.id))) == 0


def test_a_contract_with_an_individual_publishes_its_category_and_no_name_in_the_reason(make):
    from tracker.procurement.transparency import KINDS, build, parse_period

    person = make.provider("Sam Sole", individual=True)
    line = make.budget_line(category=make.category("Mentoring"))
    c = make.commission(reference="VRU-SS", title="Mentoring by Sam Sole", budget_line=line, provider=person,
                        award_reason="Sam Sole is the only accredited mentor", procurement_route="Direct award",
                        competed=False)
    make.ledger_line(posting_date=date(2025, 5, 12), net_pence=750_00, supplier_name="S Sole Mentoring",
                     supplier_id="SUP-SS-2", invoice_number="SS-1", commission=c)
    db.session.commit()
    table = build(KINDS["spend-monthly"], parse_period("month", "2025-05"), db.session)
    # The line has no coding of its own: the category is its contract's share's.
    row = dict(zip((c.heading for c in table.columns), table.rows[0]))
    assert len(table.rows) == 1 and {k: row[k] for k in ("Date", "Transaction number", "Recipient", "Purpose",
                                                         "Value-for-money reason", "Amount (net of VAT)")} == {
        "Date": date(2025, 5, 12), "Transaction number": "SS-1", "Recipient": REDACTED, "Purpose": "Mentoring",
        "Value-for-money reason": "Direct award (not competed)", "Amount (net of VAT)": 750_00}
    assert [r.verdict.status for r in table.review] == ["redacted"]
