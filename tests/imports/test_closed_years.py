"""Imports, the matching of ledger lines and the roll-over never change records of a closed funding year; a
changed ledger line is audited with its before and after (issue 12, finding 2)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.imports.helpers import draft_of
from tests.imports.test_pipeline import ledger_csv
from tracker.extensions import db
from tracker.imports import matching, service
from tracker.models import AuditEvent, Commission, LedgerTransaction

REGISTER = ("Contract Ref,Service,Provider,Strand,Contract Value (£),Start Date,End Date\n"
            "{ref},Renamed service,{provider},{strand},99999.00,01/05/2026,31/03/2027\n")


def _closed_and_open(make):
    closed = make.year("2025-26", status="closed")
    open_ = make.year("2026-27", status="open")
    return closed, open_


def test_a_register_row_cannot_change_or_move_a_closed_year_commission(app, make):
    closed, _ = _closed_and_open(make)
    old = make.commission(reference="VRU-25-009", year=closed, title="Mentoring", value_pence=10_000_00)
    db.session.commit()
    data = REGISTER.format(ref=old.reference, provider=old.provider.name, strand=old.strand.name).encode()
    p = service.preview(draft_of("register.csv", data=data, kind="commissions"))
    assert p["counts"]["error"] == 1 and p["counts"]["changed"] == 0
    assert "Funding year 2025-26 is closed" in p["problems"][0]["message"]
    assert "VRU-25-009" in p["problems"][0]["message"]
    db.session.expire_all()
    again = db.session.get(Commission, old.id)
    assert (again.title, again.value_pence, again.funding_year_id) == ("Mentoring", 10_000_00, closed.id)


def test_a_ledger_reimport_cannot_change_a_closed_year_line(app, make):
    closed, _ = _closed_and_open(make)
    line = make.ledger_line(posting_date=date(2026, 3, 20), net_pence=100_00, reference="T1", supplier_name="Acme",
                            narrative="Rent", year=closed)
    db.session.commit()
    # Same reference and amount, a new date in the open year, a new supplier and narrative.
    p = service.preview(draft_of("ledger.csv", data=ledger_csv("T1,20/04/2026,S9,Other Ltd,,Changed,100.00")))
    assert p["counts"]["error"] == 1 and p["counts"]["changed"] == 0
    assert "Funding year 2025-26 is closed" in p["problems"][0]["message"]
    db.session.expire_all()
    again = db.session.get(LedgerTransaction, line.id)
    assert (again.posting_date, again.supplier_name, again.narrative) == (date(2026, 3, 20), "Acme", "Rent")


def test_a_changed_ledger_line_is_audited_and_follows_its_date_into_its_year(app, make):
    year = make.year("2025-26")
    later = make.year("2026-27")
    line = make.ledger_line(posting_date=date(2026, 3, 20), net_pence=100_00, reference="T1", supplier_name="Acme",
                            narrative="Rent", year=year)
    db.session.commit()
    batch = service.commit(draft_of("ledger.csv", data=ledger_csv("T1,20/04/2026,S1,Acme,,Rent for April,100.00")))
    assert batch.counts["changed"] == 1
    db.session.expire_all()
    again = db.session.get(LedgerTransaction, line.id)
    assert (again.posting_date, again.funding_year_id) == (date(2026, 4, 20), later.id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.object_type == "LedgerTransaction",
                                                       AuditEvent.object_id == line.id))
    assert event is not None and event.kind == "change"
    assert event.before["narrative"] == "Rent" and event.after["narrative"] == "Rent for April"
    assert event.before["posting_date"] == "2026-03-20" and event.after["posting_date"] == "2026-04-20"


def test_remembering_a_supplier_leaves_closed_year_lines_alone(app, make):
    closed, open_ = _closed_and_open(make)
    commission = make.commission(year=open_)
    ticked = make.ledger_line(posting_date=date(2026, 5, 1), supplier_id="S7", supplier_name="Acme", year=open_)
    old = make.ledger_line(posting_date=date(2025, 5, 1), supplier_id="S7", supplier_name="Acme", year=closed)
    db.session.commit()
    assert matching.assign([ticked], commission, remember=True) == 1
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(LedgerTransaction, old.id).commission_id is None
    assert db.session.get(LedgerTransaction, ticked.id).commission_id == commission.id


def test_lines_cannot_be_put_against_a_closed_year_commission(client, auth, make):
    closed, open_ = _closed_and_open(make)
    commission = make.commission(year=closed)
    line = make.ledger_line(posting_date=date(2026, 5, 1), supplier_name="Acme", year=open_)
    db.session.commit()
    auth.login("finance")
    response = client.post("/imports/unmatched/assign", data={"commission": commission.id, "lines": [line.id]})
    assert response.status_code == 409 and "2025-26 is closed" in response.text
    db.session.expire_all()
    assert db.session.get(LedgerTransaction, line.id).commission_id is None
