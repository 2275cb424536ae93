"""Matching ledger lines to commissions: PO number, supplier ID, normalised supplier name, remembered choice."""
from __future__ import annotations

from datetime import date

from tracker.extensions import db
from tracker.imports.matching import Matcher, normalise_supplier
from tracker.models import SupplierAlias


def test_normalised_names_ignore_case_spaces_and_limited():
    assert normalise_supplier("Safer Streets Kent Limited") == normalise_supplier("Safer Streets Kent Ltd")
    assert normalise_supplier("  SAFER  streets KENT ltd. ") == normalise_supplier("Safer Streets Kent")
    assert normalise_supplier("A&E Navigators") == normalise_supplier("A and E Navigators")
    assert normalise_supplier("Limitless Ltd") != ""


def test_po_then_supplier_id_then_name(app, make):
    provider = make.provider(name="Safer Streets Kent Ltd")
    c = make.commission(provider=provider, po_number="PO123", start_date=date(2025, 4, 1), end_date=date(2026, 3, 31))
    other = make.commission(po_number="PO999")
    db.session.add(SupplierAlias(provider_id=provider.id, kind="supplier_id", value="SUP9"))
    db.session.commit()
    m = Matcher()
    on = date(2025, 6, 1)
    assert m.match("po999", "SUP9", "Safer Streets Kent Ltd", on)[::2] == (other.id, "po")
    assert m.match("", " sup9 ", "", on)[::2] == (c.id, "supplier")
    assert m.match("", "", "Safer Streets Kent Limited", on)[::2] == (c.id, "supplier")
    assert m.match("", "", "Someone Else", on) == (None, None, "")
    # Outside the commission's dates the supplier alone is not enough.
    assert m.match("", "SUP9", "", date(2027, 6, 1)) == (None, None, "")


def test_a_remembered_assignment_wins_when_the_provider_has_several_commissions(app, make):
    provider = make.provider(name="Busy Provider")
    first = make.commission(provider=provider, start_date=date(2025, 4, 1), end_date=date(2026, 3, 31))
    second = make.commission(provider=provider, start_date=date(2025, 4, 1), end_date=date(2026, 3, 31))
    db.session.commit()
    assert Matcher().match("", "", "Busy Provider", date(2025, 5, 1)) == (None, None, "")
    db.session.add(SupplierAlias(provider_id=provider.id, kind="supplier_name", value=normalise_supplier("Busy Provider"),
                                 commission_id=second.id))
    db.session.commit()
    assert Matcher().match("", "", "BUSY PROVIDER LTD", date(2025, 5, 1))[::2] == (second.id, "supplier")
    assert first.id != second.id
