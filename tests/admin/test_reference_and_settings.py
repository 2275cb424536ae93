"""Strands, categories and settings: create, edit, deactivate, unique names, typed settings, all audited."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from tracker import settings
from tracker.extensions import db
from tracker.models import AuditEvent, Category, Strand


def test_strands_create_edit_deactivate_with_unique_names(client, auth, make):
    auth.login("admin")
    make.strand("Sexual Violence")
    db.session.commit()
    assert client.post("/admin/strands", data={"name": "Knife Crime", "description": "Weapons", "sort_order": "3",
                                                "active": "y"}).status_code == 303
    strand = db.session.scalar(select(Strand).where(Strand.name == "Knife Crime"))
    assert strand.active and strand.sort_order == 3
    clash = client.post("/admin/strands", data={"name": "sexual violence", "sort_order": "0"})
    assert clash.status_code == 422 and "There is already a strand" in clash.text
    bad = client.post("/admin/strands", data={"name": "", "sort_order": "many"})
    assert bad.status_code == 422 and "Enter a name" in bad.text
    response = client.post(f"/admin/strands/{strand.id}", data={"name": "Knife and Weapon Crime", "sort_order": "3"})
    assert response.status_code == 303  # no "active" ticked: taken out of use
    db.session.expire_all()
    strand = db.session.get(Strand, strand.id)
    assert strand.name == "Knife and Weapon Crime" and not strand.active
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Strand",
                                                        AuditEvent.object_id == strand.id)
                               .order_by(AuditEvent.id.desc())).first()
    assert event.summary.startswith("Deactivated") and event.before["name"] == "Knife Crime"
    page = client.get(f"/admin/strands/{strand.id}")
    assert "Deactivated the strand" in page.text
    rename_clash = client.post(f"/admin/strands/{strand.id}", data={"name": "Sexual Violence", "sort_order": "1"})
    assert rename_clash.status_code == 422
    assert client.get("/admin/strands/9999").status_code == 404


def test_categories(client, auth):
    auth.login("admin")
    assert client.post("/admin/categories", data={"name": "Staffing", "labour": "y", "sort_order": "1",
                                                   "active": "y"}).status_code == 303
    category = db.session.scalar(select(Category).where(Category.name == "Staffing"))
    assert category.labour
    assert "Staffing" in client.get("/admin/categories").text
    htmx = client.post(f"/admin/categories/{category.id}", data={"name": "", "sort_order": "1"},
                       headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and "<html" not in htmx.text and "Enter a name" in htmx.text


def test_settings_are_typed_and_audited(client, auth):
    auth.login("admin")
    page = client.get("/admin/settings")
    assert page.status_code == 200 and "RAG amber from" in page.text
    ok = client.post("/admin/settings/rag_amber_percent", data={"rag_amber_percent-value": "3.5"})
    assert ok.status_code == 303
    assert settings.get("rag_amber_percent") == Decimal("3.5")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Setting")).one()
    assert event.before["value"] == "2" and event.after["value"] == "3.5"
    for key, value, message in [("return_due_days", "thirty", "whole number"),
                                ("rag_amber_percent", "NaN", "number from 0"),
                                ("rag_amber_percent", "9", "at or below the red"),
                                ("vru_name", "   ", "Enter the")]:
        response = client.post(f"/admin/settings/{key}", data={f"{key}-value": value})
        assert response.status_code == 422, (key, value)
        assert message in response.text
    assert client.post("/admin/settings/no_such", data={}).status_code == 404
    db.session.expire_all()
    assert settings.get("return_due_days") == 30 and settings.get("rag_amber_percent") == Decimal("3.5")
