"""The audit trail shown as people read it: money, UK dates and names, in a fixed number of queries."""
import pytest

from tracker import audit
from tracker.extensions import db
from tracker.models import AuditEvent


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


def test_record_takes_only_known_realms_and_kinds(app, make):
    from tracker.models.audit import AuditKind, AuditRealm

    commission = make.commission()
    event = audit.record("monitoring", "change", commission, "Q1 actuals recorded")
    assert (event.realm, event.kind) == ("monitoring", "change")
    assert audit.record(AuditRealm.FUNDING, AuditKind.NEGATIVE, commission, "Refused").realm == "funding"
    with pytest.raises(ValueError, match="explode"):
        audit.record("explode", "change", commission, "Misspelt realm")
    with pytest.raises(ValueError, match="changed"):
        audit.record("commissions", "changed", commission, "Misspelt kind")
    db.session.flush()
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)) == 2


def _literals(node) -> list[str]:
    """The strings an argument can be: a literal, or either side of ``a if test else b``."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def test_every_realm_and_kind_the_code_records_is_known():
    """Read every ``audit.record``/``audit.update`` call and ``REALM =`` in tracker/: each literal is a member."""
    import ast
    from pathlib import Path

    from tracker.models.audit import AuditKind, AuditRealm

    realms, kinds = set(), set()
    for path in Path(audit.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "REALM" for t in node.targets):
                realms.add(ast.literal_eval(node.value))
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("audit.record", "record", "audit.update"):
                for arg, found in zip(node.args[:2], (realms, kinds)):
                    found.update(_literals(arg))
    assert realms and kinds
    assert realms <= set(AuditRealm) and kinds <= set(AuditKind), (realms - set(AuditRealm), kinds - set(AuditKind))


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


def test_lists_in_the_history_read_as_text_not_python(client, auth, make):
    """A contract's funding shares are kept as a list: shown as a sentence, an empty list as "none"."""
    auth.login("manager")
    commission = make.commission()
    audit.record("commissions", "change", commission, "Shares changed", {"funding_shares": []},
                 {"funding_shares": ["2025-26: £7,397.26 on Mentoring", "2026-27: £2,602.74 not on a budget line"]})
    db.session.commit()
    [row] = audit.history(commission)[0].readable_changes
    assert row[1:] == ("none", "2025-26: £7,397.26 on Mentoring; 2026-27: £2,602.74 not on a budget line")
    page = client.get(f"/commissions/{commission.id}").text
    assert "[]" not in page and "['" not in page and "<del>none</del>" in page
