"""One way in for each record kind: a commission is made only by ``commissions.service.create_commission`` and a
provider only by ``create_provider``, so the form, the commissions register import and the demo make the same
record, with the same checks, funding shares and audit event."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.imports.helpers import draft_of
from tracker import audit
from tracker.commissions import service as commissions
from tracker.commissions.service import COMMISSION_FIELDS, PROVIDER_FIELDS, FieldErrors
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.imports import service as imports
from tracker.models import AuditEvent, Commission, Provider
from tracker.returns import exports

DEMO_REFERENCE = "VRU-25-015"  # Light-touch (not competed), one year, on its stream's only line for its strand


def _created(obj) -> AuditEvent:
    return db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == type(obj).__name__, AuditEvent.object_id == obj.id,
        AuditEvent.kind == "create")).one()


def _facts(c: Commission) -> dict:
    """Everything a form edits, but the reference (each way in is given its own)."""
    return {k: v for k, v in audit.snapshot(c, COMMISSION_FIELDS).items() if k != "reference"}


def _shares(c: Commission) -> list[tuple]:
    return sorted((s.year_label, s.funding_year_id, s.funding_stream_id, s.budget_line_id, s.amount_pence)
                  for s in c.funding_shares)


def _register_file(c: Commission, reference: str) -> bytes:
    """The demo commission as a commissions register row (the register export), under another reference."""
    row = next(iter(exports.commission_rows([c])))
    row[0] = reference
    return exports.export_rows(exports.COMMISSION_COLUMNS, [row], "xlsx")


def _form(c: Commission, reference: str) -> dict:
    share = c.funding_shares[0]
    return {
        "version": "0", "reference": reference, "title": c.title, "description": c.description,
        "provider_id": str(c.provider_id), "new_provider_name": "", "funding_year_id": str(c.funding_year_id),
        "strand_id": str(c.strand_id), "procurement_route": c.procurement_route,
        "commission_type": c.commission_type, "value_pence": f"{c.value_pence / 100:.2f}",
        "start_date": f"{c.start_date:%d/%m/%Y}", "end_date": f"{c.end_date:%d/%m/%Y}",
        "review_date": f"{c.review_date:%d/%m/%Y}", "extension_options": "", "status": c.status,
        "pcc_decision_ref": c.pcc_decision_ref, "po_number": c.po_number, "contract_manager": c.contract_manager,
        "shares-0-year_label": share.year_label, "shares-0-funding_stream_id": str(share.funding_stream_id),
        "shares-0-budget_line_id": str(share.budget_line_id), "shares-0-amount": f"{share.amount_pence / 100:.2f}",
    }


@pytest.fixture
def demo(app):
    seed_demo(DEMO_TODAY)
    db.session.commit()


def test_the_form_the_import_and_the_demo_make_the_same_commission(demo, client, auth):
    from_demo = db.session.scalars(select(Commission).where(Commission.reference == DEMO_REFERENCE)).one()

    auth.login("manager")
    # The demo's line is already spent, so the form asks first (the import and the demo do not ask).
    form = {**_form(from_demo, "VRU-F-015"), "confirm_over_budget": "y"}
    assert client.post("/commissions/new", data=form).status_code == 303
    imports.commit(draft_of("register.xlsx", data=_register_file(from_demo, "VRU-I-015")))

    made = {c.reference: c for c in db.session.scalars(
        select(Commission).where(Commission.reference.in_(["VRU-F-015", "VRU-I-015"])))}
    from_form, from_import = made["VRU-F-015"], made["VRU-I-015"]
    assert _facts(from_form) == _facts(from_demo) == _facts(from_import)
    assert _shares(from_form) == _shares(from_demo) == _shares(from_import)
    assert _shares(from_demo) and _shares(from_demo)[0][3] is not None  # on its budget line
    events = [_created(c) for c in (from_demo, from_form, from_import)]
    # Filed where each source files the rest of what it does: an import's events are all under "imports".
    assert [(e.realm, e.kind) for e in events] == [("commissions", "create")] * 2 + [("imports", "create")]
    assert all(set(e.after) == set(COMMISSION_FIELDS) for e in events)
    assert [e.summary for e in events] == ["Added commission VRU-25-015 (demo)", "Added commission VRU-F-015",
                                           "Added commission VRU-I-015 (import)"]


def test_the_form_the_import_and_the_demo_make_the_same_provider(demo, client, auth):
    from_demo = db.session.scalars(select(Provider).where(Provider.name == "Swale Boxing Academy")).one()
    facts = {"name": "Acme Youth Trust", "vcse": True, "sme": True}

    auth.login("manager")
    form = {"name": "Acme Youth Trust", "vcse": "y", "sme": "y", "charity_number": "", "company_number": "",
            "notes": "", "supplier_ids": ""}
    assert client.post("/providers/new", data=form).status_code == 303
    from_form = db.session.scalars(select(Provider).where(Provider.name == "Acme Youth Trust")).one()
    row = next(iter(exports.commission_rows([db.session.scalars(
        select(Commission).where(Commission.reference == DEMO_REFERENCE)).one()])))
    row[0], row[2] = "VRU-I-099", "Acme Youth Trust Two"
    imports.commit(draft_of("register.xlsx", data=exports.export_rows(exports.COMMISSION_COLUMNS, [row], "xlsx")))
    from_import = db.session.scalars(select(Provider).where(Provider.name == "Acme Youth Trust Two")).one()

    assert {k: getattr(from_form, k) for k in facts} == facts
    assert (from_import.vcse, from_import.sme) == (row[10], row[11])  # the register's VCSE? and SME? columns
    events = [_created(p) for p in (from_demo, from_form, from_import)]
    assert [(e.realm, e.kind) for e in events] == [("commissions", "create")] * 2 + [("imports", "create")]
    assert all(set(e.after) == {*PROVIDER_FIELDS, "supplier_ids"} for e in events)
    assert events[0].after["supplier_ids"] == ["SUP1010"]  # the demo's supplier ID, through the same entry point


def test_a_new_provider_named_on_the_commission_form_is_found_by_its_tidied_name(app, make):
    make.provider("Medway Youth Mentoring CIC")
    found = commissions.find_or_create_provider("  medway youth mentoring cic ")
    assert found.name == "Medway Youth Mentoring CIC"
    assert db.session.scalars(select(Provider)).all() == [found]


def test_the_entry_points_refuse_what_the_forms_refuse(app, make):
    line = make.budget_line()
    provider = make.provider()
    db.session.commit()
    data = {"reference": "VRU-X-1", "title": "Mentoring", "provider_id": provider.id, "strand_id": line.strand_id,
            "funding_year_id": line.funding_year_id, "value_pence": 0, "start_date": line.funding_year.end_date,
            "end_date": line.funding_year.start_date}
    # Even a caller that checked the database itself (the import) gets the fact rules.
    for checked in (False, True):
        with pytest.raises(FieldErrors) as refused:
            commissions.create_commission(data, budget_line=line, checked=checked)
        assert refused.value.errors["value_pence"] == "The value must be more than £0.00"
        assert refused.value.errors["end_date"] == "The end date must be after the start date"
    with pytest.raises(FieldErrors) as refused:
        commissions.create_provider({"name": provider.name.upper()})
    assert refused.value.errors == {"name": f"There is already a provider called {provider.name}"}
    with pytest.raises(FieldErrors) as refused:
        commissions.create_provider({"name": "  "})
    assert refused.value.errors == {"name": "Enter the provider's name"}
    assert db.session.scalars(select(Commission)).all() == []


#: The one module that may build each record; models (the classes) and tests (factories) aside.
ONLY_IN = {"Commission": "tracker/commissions/service.py", "Provider": "tracker/commissions/service.py"}


def test_commissions_and_providers_are_built_in_one_module_only():
    root = Path(__file__).resolve().parents[2]
    found: dict[str, set[str]] = {name: set() for name in ONLY_IN}
    for path in (root / "tracker").rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(("tracker/models/", "tracker/migrations/")):
            continue
        source = path.read_text(encoding="utf-8")
        for name in ONLY_IN:
            # "Commission(" but not "DemoCommission(" or "isinstance(x, Commission)".
            if re.search(rf"(?<![\w.]){name}\(", source):
                found[name].add(relative)
    assert found == {name: {module} for name, module in ONLY_IN.items()}
