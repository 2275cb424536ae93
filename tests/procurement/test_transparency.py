"""Transparency publications: spend over £500 (the hand-worked May 2025 cases), the registers and grants lists,
issuing and freezing, corrections, and where they were published."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from tracker import settings
from tracker.extensions import db
from tracker.models import AuditEvent, Publication, SupplierAlias
from tracker.models.monitoring import Document
from tracker.procurement import transparency
from tracker.procurement.transparency import KINDS, REDACTED, build, parse_period

MAY = parse_period("month", "2025-05")


def _rows(kind: str, period=MAY):
    return build(KINDS[kind], period, db.session).rows


@pytest.fixture
def may_ledger(make):
    """The hand-worked May 2025 ledger lines."""
    c = make.commission(reference="VRU-25-001", title="Detached youth work", award_reason="Lowest of three quotes")
    sole = make.provider("Jo Bloggs", individual=True)
    db.session.add(SupplierAlias(provider=sole, kind="supplier_id", value="SUP-JB"))
    make.ledger_line(posting_date=date(2025, 5, 2), net_pence=500_00, supplier_name="Exact Ltd", invoice_number="INV-1",
                     reference="TX-1")
    make.ledger_line(posting_date=date(2025, 5, 3), net_pence=500_01, supplier_name="Penny Over Ltd",
                     invoice_number="INV-2", reference="TX-2")
    make.ledger_line(posting_date=date(2025, 5, 10), net_pence=600_00, supplier_name="Nine Ltd", supplier_id="SUP-9",
                     invoice_number="INV-9", reference="TX-3", commission=c)
    make.ledger_line(posting_date=date(2025, 5, 11), net_pence=600_00, supplier_name="Nine Ltd", supplier_id="SUP-9",
                     invoice_number="INV-9", reference="TX-4", commission=c)
    make.ledger_line(posting_date=date(2025, 5, 20), net_pence=-700_00, supplier_name="Refund Ltd",
                     invoice_number="CN-5", reference="TX-5", transaction_type="credit")
    make.ledger_line(posting_date=date(2025, 5, 21), net_pence=800_00, supplier_name="Jo Bloggs", supplier_id="SUP-JB",
                     invoice_number="JB-1", reference="TX-6")
    make.ledger_line(posting_date=date(2025, 5, 31), net_pence=9_000_00, reference="TX-7", transaction_type="accrual")
    make.ledger_line(posting_date=date(2025, 6, 1), net_pence=9_000_00, reference="TX-8", supplier_name="June Ltd")
    db.session.commit()
    return c


def test_spend_over_500_in_may_2025_holds_the_hand_worked_cases(may_ledger):
    rows = _rows("spend-monthly")
    assert [(r[2], r[3], r[7]) for r in rows] == [
        ("INV-2", "Penny Over Ltd", 500_01),  # £500.01 is in; £500.00 is out
        ("INV-9", "Nine Ltd", 1_200_00),  # two £600.00 lines of one invoice: one row
        ("CN-5", "Refund Ltd", -700_00),  # a credit over £500 is in
        ("JB-1", REDACTED, 800_00),  # a sole trader is redacted
    ]
    nine = rows[1]
    assert nine[1] == date(2025, 5, 10) and nine[4] == "Detached youth work" and nine[6] == "Lowest of three quotes"
    assert KINDS["spend-monthly"].due(MAY, settings.get_many(*transparency.TRANSPARENCY_SETTINGS)) == date(2025, 6, 30)


def test_without_aggregation_each_line_stands_alone_and_gross_adds_the_vat(may_ledger, make):
    settings.put("spend_aggregate_invoices", "false")
    db.session.commit()
    assert [(r[2], r[7]) for r in _rows("spend-monthly") if r[2] == "INV-9"] == [("INV-9", 600_00), ("INV-9", 600_00)]
    make.ledger_line(posting_date=date(2025, 5, 25), net_pence=450_00, vat_pence=90_00, supplier_name="Vat Ltd",
                     invoice_number="V-1", reference="TX-V")
    settings.put("spend_publish_gross", "true")
    db.session.commit()
    assert ("V-1", 540_00) in [(r[2], r[7]) for r in _rows("spend-monthly")]


def test_the_quarterly_file_has_the_transparency_code_columns(may_ledger):
    q1 = parse_period("quarter", "2025-26-q1")
    table = build(KINDS["spend-quarterly"], q1, db.session)
    assert [c.heading for c in table.columns] == [
        "Body name", "Date", "Transaction number", "Department", "Beneficiary", "Purpose of expenditure",
        "Amount (net of VAT)", "Irrecoverable VAT", "Merchant category", "Expense category"]
    assert [r[6] for r in table.rows] == [500_01, 1_200_00, -700_00, 800_00, 9_000_00]
    due = KINDS["spend-quarterly"].due(q1, settings.get_many(*transparency.TRANSPARENCY_SETTINGS))
    assert due == date(2025, 7, 31)


def test_the_contract_register_lists_contracts_over_5000(make):
    big = make.commission(reference="VRU-BIG", value_pence=5_000_01, competed=True, procurement_route="Open tender")
    big.provider.sme, big.provider.company_number = True, "01234567"
    make.commission(reference="VRU-SMALL", value_pence=5_000_00)
    make.commission(reference="VRU-GRANT", value_pence=50_000_00, commission_type="grant")
    make.commission(reference="VRU-PIPE", value_pence=50_000_00, status="pipeline")
    db.session.commit()
    rows = _rows("contract-register", parse_period("quarter", "2025-26-q2"))
    assert [r[0] for r in rows] == ["VRU-BIG"]
    assert rows[0][5:8] == ["01234567", "", "GB-COH-01234567"]  # company, charity, org-id: each its own column
    assert rows[0][8] == 5_000_01 and rows[0][9] == 5_000_01
    assert rows[0][14:] == ["Tendered", "Yes", "No"]
    # In the file each number is text of its own column, the leading zero kept.
    table = build(KINDS["contract-register"], parse_period("quarter", "2025-26-q2"), db.session)
    header, row = _csv(transparency.file_bytes(table))
    written = dict(zip(header, row))
    assert (written["Supplier company number"], written["Supplier charity number"],
            written["Supplier identifier (org-id)"]) == ("01234567", "", "GB-COH-01234567")


def test_the_pcc_contracts_list_names_the_copy_held_for_those_over_10000(make):
    small = make.commission(reference="VRU-1", value_pence=10_000_00)
    held = make.commission(reference="VRU-2", value_pence=10_000_01)
    make.commission(reference="VRU-3", value_pence=20_000_00)
    db.session.add(Document(kind="contract", title="Signed contract VRU-2", commission_id=held.id))
    db.session.commit()
    table = build(KINDS["pcc-contracts"], parse_period("quarter", "2025-26-q1"), db.session)
    assert [(r[0], r[6], r[7]) for r in table.rows] == [
        ("VRU-1", "Up to £10,000", ""), ("VRU-2", "Over £10,000", "Signed contract VRU-2"),
        ("VRU-3", "Over £10,000", "Not held: add the contract under Documents")]
    assert any("1 contract(s) over £10,000 have no copy held" in n for n in table.notes)
    assert small is not None


def test_grants_lists_and_the_360giving_export(make):
    g = make.commission(reference="VRU-G1", title="Knife crime education", commission_type="grant",
                        procurement_route="Grant", value_pence=25_000_00, description="Sessions in schools",
                        grant_conditions="Quarterly monitoring", award_reason="Only provider in the area")
    g.provider.charity_number = "1100001"
    person = make.provider("A Person", individual=True)
    make.commission(reference="VRU-G2", title="Youth panel", commission_type="grant", value_pence=1_000_00,
                    provider=person)
    make.commission(reference="VRU-C1", value_pence=99_000_00)
    db.session.commit()
    year = parse_period("year", "2025-26")
    cdr = _rows("cdr-grants", year)
    assert [(r[0], r[1], r[2], r[6], r[7]) for r in cdr] == [
        ("VRU-G1", g.provider.name, "Sessions in schools", "Quarterly monitoring", "Only provider in the area"),
        ("VRU-G2", REDACTED, "Youth panel", "", "")]
    table = build(KINDS["grants-360"], year, db.session)
    headings = [c.heading for c in table.columns]
    for core in ("Identifier", "Title", "Description", "Currency", "Amount Awarded", "Award Date",
                 "Recipient Org:Identifier", "Recipient Org:Name", "Funding Org:Identifier", "Funding Org:Name"):
        assert core in headings
    first = dict(zip(headings, table.rows[0]))
    assert first["Identifier"] == "360G-examplepcc-VRU-G1" and first["Currency"] == "GBP"
    assert first["Recipient Org:Identifier"] == "GB-CHC-1100001" and first["Award Date"] == "2025-04-01"
    second = dict(zip(headings, table.rows[1]))
    assert second["Recipient Org:Name"] == REDACTED and second["Recipient Org:Identifier"].startswith("360G-examplepcc-")


def _csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_issuing_freezes_the_bytes_and_a_correction_is_a_new_version(may_ledger, make, client, auth):
    auth.login("finance")
    page = client.get("/publications/spend-monthly?period=2025-05")
    assert page.status_code == 200 and "30 June 2025" in page.text and "Penny Over Ltd" in page.text
    assert client.post("/publications/spend-monthly/issue", data={"period": "2025-05"}).status_code == 303
    v1 = db.session.scalars(select(Publication)).one()
    first = client.get(f"/publications/issued/{v1.id}.csv")
    assert first.status_code == 200
    assert [r[7] for r in _csv(first.data)[1:]] == ["500.01", "1200.00", "-700.00", "800.00"]
    # The ledger changes; the issued file does not.
    make.ledger_line(posting_date=date(2025, 5, 30), net_pence=1_000_00, supplier_name="Late Ltd", reference="TX-L")
    db.session.commit()
    assert client.get(f"/publications/issued/{v1.id}.csv").data == first.data
    # A correction needs a note.
    refused = client.post("/publications/spend-monthly/issue", data={"period": "2025-05"})
    assert refused.status_code == 422 and "say what this correction puts right" in refused.text
    assert db.session.scalar(select(func.count(Publication.id))) == 1
    assert client.post("/publications/spend-monthly/issue",
                       data={"period": "2025-05", "correction_note": "Late invoice added"}).status_code == 303
    v2 = db.session.scalars(select(Publication).where(Publication.version == 2)).one()
    assert v2.row_count == 5 and v2.correction_note == "Late invoice added"
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.object_type == "Publication")) == 2


def test_recording_where_a_file_was_published(may_ledger, client, auth):
    auth.login("manager")
    client.post("/publications/spend-monthly/issue", data={"period": "2025-05"})
    pub = db.session.scalars(select(Publication)).one()
    bad = client.post(f"/publications/issued/{pub.id}/published",
                      data={f"p{pub.id}-published_on": "30/06/2025", f"p{pub.id}-published_where": "our website"})
    assert bad.status_code == 422 and "starting https://" in bad.text
    ok = client.post(f"/publications/issued/{pub.id}/published", data={
        f"p{pub.id}-published_on": "30/06/2025", f"p{pub.id}-published_where": "https://pcc.example.gov.uk/spend"})
    assert ok.status_code == 303
    db.session.expire_all()
    pub = db.session.get(Publication, pub.id)
    assert pub.published_on == date(2025, 6, 30) and pub.published_where == "https://pcc.example.gov.uk/spend"


def test_bad_addresses_get_a_clear_4xx(client, auth):
    auth.login("manager")
    assert client.get("/publications/nonsense").status_code == 404
    response = client.get("/publications/spend-monthly?period=2025-13")
    assert response.status_code == 400 and "like 2025-05" in response.text
    assert client.get("/publications/contract-register?period=2025-26-q5").status_code == 400
    assert client.get("/publications/grants-360?period=2025-27").status_code == 400
    assert client.post("/publications/spend-monthly/issue", data={"period": "May"}).status_code == 400
    assert client.get("/publications/issued/999.csv").status_code == 404
    assert db.session.scalar(select(func.count(Publication.id))) == 0


def test_published_files_are_safe_from_formula_injection(make):
    c = make.commission(reference="VRU-X", title="=cmd|' /C calc'!A0", award_reason="@SUM(1+1)",
                        commission_type="grant", value_pence=20_000_00, description="+44 line")
    c.provider.name = "-Evil Ltd"
    make.ledger_line(posting_date=date(2025, 5, 4), net_pence=900_00, supplier_name="=HYPERLINK(\"x\")",
                     invoice_number="+1", reference="TX-E", commission=c, narrative="\tTab")
    db.session.commit()
    year = parse_period("year", "2025-26")
    for key, period in (("spend-monthly", MAY), ("spend-quarterly", parse_period("quarter", "2025-26-q1")),
                        ("cdr-grants", year), ("grants-360", year)):
        table = build(KINDS[key], period, db.session)
        for row in _csv(transparency.file_bytes(table))[1:]:
            for i, cell in enumerate(row):
                if table.columns[i].kind == "money":
                    continue
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (key, cell)


def test_the_publications_pages_read_in_a_fixed_number_of_queries(make, client, auth, count_queries):
    auth.login("viewer")
    make.ledger_line(posting_date=date(2025, 5, 4), net_pence=900_00, supplier_name="A Ltd", reference="TX-A")
    db.session.commit()
    with count_queries() as few:
        assert client.get("/publications/spend-monthly?period=2025-05").status_code == 200
    for n in range(10):
        c = make.commission(reference=f"VRU-Q{n}")
        make.ledger_line(posting_date=date(2025, 5, 5), net_pence=900_00, supplier_name=f"S{n}", reference=f"TX-Q{n}",
                         commission=c)
    db.session.commit()
    with count_queries() as many:
        assert client.get("/publications/spend-monthly?period=2025-05").status_code == 200
    assert many.count == few.count
    assert client.get("/publications/").status_code == 200


def test_the_spend_file_names_the_body_the_category_and_net_of_vat_and_warns_of_missing_reasons(
        may_ledger, make, client, auth):
    """Reads the issued file: body, expense category (the budget line's category) and "Amount (net of VAT)"; the
    page warns, before Issue, of the rows with no value-for-money reason, with how many and which."""
    line = make.budget_line(category=make.category("Evaluation"))
    make.ledger_line(posting_date=date(2025, 5, 26), net_pence=2_000_00, supplier_name="Coded Ltd",
                     invoice_number="INV-C", reference="TX-C", budget_line=line)
    settings.put("pcc_name", "Office of the Kent PCC")
    db.session.commit()
    auth.login("finance")
    page = client.get("/publications/spend-monthly?period=2025-05")
    # INV-9 is the one row with a reason (its contract's); the other four have none.
    assert "Before you issue" in page.text and "4 of 5 row(s) (80%) have no value-for-money reason" in page.text
    assert "INV-2 Penny Over Ltd" in page.text and "INV-C Coded Ltd" in page.text
    assert client.post("/publications/spend-monthly/issue", data={"period": "2025-05"}).status_code == 303
    pub = db.session.scalars(select(Publication)).one()
    header, *rows = _csv(client.get(f"/publications/issued/{pub.id}.csv").data)
    assert header == ["Body name", "Date", "Transaction number", "Recipient", "Purpose", "Expense category",
                      "Value-for-money reason", "Amount (net of VAT)"]
    by_ref = {r[2]: dict(zip(header, r)) for r in rows}
    assert {r["Body name"] for r in by_ref.values()} == {"Office of the Kent PCC"}
    assert by_ref["INV-C"]["Expense category"] == "Evaluation"
    assert by_ref["INV-2"]["Expense category"] == "Not on a budget line"
    assert by_ref["INV-9"]["Value-for-money reason"] == "Lowest of three quotes"
    settings.put("spend_publish_gross", "true")
    db.session.commit()
    assert _csv(transparency.file_bytes(_table("spend-monthly")))[0][-1] == "Amount (including VAT)"


def _table(kind, period=MAY):
    return build(KINDS[kind], period, db.session)


def test_a_contract_shares_lines_give_its_spend_their_categories(make):
    """A contract's spend follows its share (the figures engine's route_spend): the budget line's category."""
    line = make.budget_line(category=make.category("Training"))
    c = make.commission(reference="VRU-T", budget_line=line)
    make.ledger_line(posting_date=date(2025, 5, 6), net_pence=900_00, supplier_name="T Ltd", invoice_number="T-1",
                     reference="TX-T", commission=c)
    db.session.commit()
    table = _table("spend-quarterly", parse_period("quarter", "2025-26-q1"))
    assert [(r[2], r[-1]) for r in table.rows] == [("T-1", "Training")]


def test_360giving_is_refused_while_its_identifiers_are_the_examples(make, client, auth):
    make.commission(reference="VRU-G1", commission_type="grant", procurement_route="Grant", value_pence=5_000_00)
    db.session.commit()
    auth.login("manager")
    page = client.get("/publications/grants-360?period=2025-26")
    assert "cannot be issued yet" in page.text and "#setting-grants_360_prefix" in page.text
    assert "#setting-funding_org_identifier" in page.text and "Issue version 1" not in page.text
    refused = client.post("/publications/grants-360/issue", data={"period": "2025-26"})
    assert refused.status_code == 422 and "360G-examplepcc" in refused.text and "GB-GOR-EXAMPLE" in refused.text
    assert db.session.scalar(select(func.count(Publication.id))) == 0
    settings.put("grants_360_prefix", "360G-kentpcc")
    db.session.commit()
    still = client.post("/publications/grants-360/issue", data={"period": "2025-26"})
    assert still.status_code == 422 and "GB-GOR-EXAMPLE" in still.text and "360G-examplepcc" not in still.text
    settings.put("funding_org_identifier", "GB-GOR-PC000123")
    db.session.commit()
    assert client.post("/publications/grants-360/issue", data={"period": "2025-26"}).status_code == 303
    pub = db.session.scalars(select(Publication)).one()
    header, row = _csv(client.get(f"/publications/issued/{pub.id}.csv").data)
    first = dict(zip(header, row))
    assert first["Identifier"] == "360G-kentpcc-VRU-G1" and first["Funding Org:Identifier"] == "GB-GOR-PC000123"
