"""The audit trail shown as people read it: money, UK dates and names, in a fixed number of queries."""
from tracker import audit
from tracker.extensions import db


def test_history_shows_money_dates_and_names(app, make, count_queries):
    commission = make.commission(value_pence=10_000_00)
    old_provider, new_provider = commission.provider, make.provider(name="Safer Streets Kent Ltd")
    db.session.flush()
    audit.record("commissions", "change", commission, "Changed value, end date and provider",
                 before={"value_pence": 10_000_00, "end_date": "2026-03-31", "provider_id": old_provider.id, "competed": False},
                 after={"value_pence": 12_345_67, "end_date": "2026-06-30", "provider_id": new_provider.id, "competed": True})
    db.session.commit()
    db.session.refresh(commission)
    with count_queries() as q:
        events = audit.history(commission)
    assert q.count == 2  # the events with their users, and the providers they name
    assert events[0].readable_changes == [
        ("Value", "£10,000.00", "£12,345.67"),
        ("End date", "31/03/2026", "30/06/2026"),
        ("Provider", old_provider.name, "Safer Streets Kent Ltd"),
        ("The award was competed", "No", "Yes"),  # the form's label
    ]


def test_history_page_partial_renders_readable_changes(client, auth, make):
    auth.login("manager")
    commission = make.commission(value_pence=5_000_00)
    audit.record("commissions", "change", commission, "Value changed", {"value_pence": 5_000_00}, {"value_pence": 6_000_00})
    db.session.commit()
    page = client.get(f"/commissions/{commission.id}").text
    assert "<del>£5,000.00</del>" in page and "<ins>£6,000.00</ins>" in page


def test_a_deleted_record_is_shown_by_number(app, make):
    commission = make.commission()
    audit.record("commissions", "change", commission, "x", {"strand_id": 999999}, {"strand_id": commission.strand_id})
    db.session.commit()
    rows = audit.history(commission)[0].readable_changes
    assert rows == [("Strand", "#999999", commission.strand.name)]


def test_history_uses_the_forms_labels_and_keeps_acronyms():
    assert audit.field_label("pcc_decision_ref") == "PCC decision reference"
    assert audit.field_label("po_number") == "PO number"
    assert audit.field_label("vat_pence") == "VAT"
    assert audit.field_label("funding_year_id") == "Funding year"
    assert audit.field_label("some_kpi_rag") == "Some KPI RAG"  # no form: the column name with its acronyms


def test_a_long_variation_reason_is_kept_whole_in_the_history(client, auth, make):
    from datetime import date

    from tracker.commissions import service

    auth.login("manager")
    commission = make.commission()
    reason = "Agreed a three-month extension to cover the summer holiday programme while the re-procurement runs"
    service.add_variation(commission, date(2025, 9, 1), reason, 1_000_00, None, commission.version)
    db.session.commit()
    page = client.get(f"/commissions/{commission.id}").text
    assert f"{commission.reference} varied: {reason}" in page
