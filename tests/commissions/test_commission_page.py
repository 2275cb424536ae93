"""The commission page, quick changes, variations, deleting, providers, the home page and their query counts."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from tests.commissions.conftest import HX
from tracker.extensions import db
from tracker.models import AuditEvent, Commission, Milestone, Provider, SupplierAlias, Variation


def _fresh(c):
    db.session.expire_all()
    return db.session.get(Commission, c.id)


def test_the_page_shows_facts_spend_ledger_milestones_variations_and_history(client, manager, make):
    c = make.commission(reference="VRU-25-014", value_pence=10_000_00)
    make.ledger_line(posting_date=date(2025, 5, 1), net_pence=2_000_00, commission=c, reference="INV-A")
    make.ledger_line(posting_date=date(2025, 8, 1), net_pence=500_50, commission=c, reference="INV-B")
    make.milestone(title="Contract review", commission_id=c.id)
    db.session.commit()
    text = client.get(f"/commissions/{c.id}").text
    assert "VRU-25-014" in text and "£2,500.50" in text and "25.0%" in text
    assert 'class="bar bar--large"' in text and 'width="25.0"' in text and "style=" not in text
    assert "Q1" in text and "£2,000.00" in text and "Q2" in text and "£500.50" in text
    assert "INV-A" in text and "INV-B" in text and "Contract review" in text


def test_quick_status_change_with_htmx_returns_the_row_and_is_audited(client, manager, make):
    c = make.commission(status="awarded")
    db.session.commit()
    response = client.post(f"/commissions/{c.id}/status", data={"status": "live", "version": c.version, "next": "/commissions/"},
                           headers=HX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<tr id="commission-{c.id}"') and "Saved." in response.text
    assert _fresh(c).status == "live"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_id == c.id)).one()
    assert event.before == {"status": "awarded"} and event.after == {"status": "live"}


def test_quick_changes_without_javascript_redirect_back(client, manager, make):
    c = make.commission(end_date=date(2026, 3, 31))
    db.session.commit()
    response = client.post(f"/commissions/{c.id}/end-date", data={"end_date": "30/06/2026", "version": c.version,
                                                                  "next": "/commissions/?q=x"})
    assert response.status_code == 303 and response.location.endswith("/commissions/?q=x")
    assert _fresh(c).end_date == date(2026, 6, 30)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_id == c.id)).one()
    assert event.before == {"end_date": "2026-03-31"} and event.after == {"end_date": "2026-06-30"}
    # An outside address is never a redirect target.
    c = _fresh(c)
    response = client.post(f"/commissions/{c.id}/status", data={"status": "ended", "version": c.version,
                                                                "next": "https://evil.example/"})
    assert response.status_code == 303 and response.location.endswith(f"/commissions/{c.id}")


def test_quick_change_errors_and_conflicts(client, manager, make):
    c = make.commission(start_date=date(2025, 4, 1))
    db.session.commit()
    bad = client.post(f"/commissions/{c.id}/end-date", data={"end_date": "01/01/2025", "version": c.version}, headers=HX)
    assert bad.status_code == 422 and "after the start date" in bad.text
    plain = client.post(f"/commissions/{c.id}/end-date", data={"end_date": "nonsense", "version": c.version})
    assert plain.status_code == 422 and "There is a problem" in plain.text
    stale = client.post(f"/commissions/{c.id}/status", data={"status": "ended", "version": c.version - 1}, headers=HX)
    assert stale.status_code == 409 and "Someone else changed" in stale.text
    assert _fresh(c).status == "live" and _fresh(c).end_date == date(2026, 3, 31)


def test_a_variation_changes_value_and_end_date_and_is_audited(client, manager, make):
    c = make.commission(value_pence=10_000_00, end_date=date(2026, 3, 31))
    db.session.commit()
    data = {"version": c.version, "variation_date": "01/10/2025", "reason": "Extension for summer holiday provision",
            "value_change_pence": "2,500.50", "new_end_date": "31/08/2026"}
    # First the form proposes how the new value falls across the years; nothing is saved yet.
    proposal = client.post(f"/commissions/{c.id}/variations", data=data)
    assert proposal.status_code == 200 and "Confirm the variation" in proposal.text
    assert _fresh(c).value_pence == 10_000_00
    # £12,500.50 over 1/4/2025-31/8/2026 (518 days): 365 days in 2025-26, 153 in 2026-27.
    assert 'value="8,808.27"' in proposal.text and 'value="3,692.23"' in proposal.text
    line = make.line_of(c)
    response = client.post(f"/commissions/{c.id}/variations", data={
        **data, "shares_shown": "y", "shares-0-year_label": "2025-26", "shares-0-budget_line_id": line.id,
        "shares-0-funding_stream_id": line.funding_stream_id, "shares-0-amount": "8,808.27",
        "shares-1-year_label": "2026-27", "shares-1-funding_stream_id": line.funding_stream_id,
        "shares-1-amount": "3,692.23"})
    assert response.status_code == 303
    c = _fresh(c)
    assert sorted((s.year_label, s.amount_pence) for s in c.funding_shares) == [("2025-26", 8_808_27), ("2026-27", 3_692_23)]
    assert c.value_pence == 12_500_50 and c.end_date == date(2026, 8, 31)
    v = db.session.scalars(select(Variation)).one()
    assert v.previous_end_date == date(2026, 3, 31) and v.value_change_pence == 2_500_50
    change = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Commission",
                                                         AuditEvent.summary.like("%varied%"))).one()
    assert change.before == {"value_pence": 10_000_00, "end_date": "2026-03-31", "_effective": "2025-10-01"}
    assert change.after == {"value_pence": 12_500_50, "end_date": "2026-08-31", "_effective": "2025-10-01"}
    assert "Extension for summer holiday provision" in client.get(f"/commissions/{c.id}").text


def test_variation_rules(client, manager, make):
    c = make.commission(value_pence=1_000_00)
    db.session.commit()
    cases = [
        ({"reason": "", "value_change_pence": "10"}, "Say why"),
        ({"reason": "x"}, "Enter a change in value, a new end date, or both"),
        ({"reason": "x", "value_change_pence": "-1,000.00"}, "must stay more than"),
        ({"reason": "x", "new_end_date": "01/01/2020"}, "after the start date"),
    ]
    for fields, message in cases:
        response = client.post(f"/commissions/{c.id}/variations",
                               data={"version": c.version, "variation_date": "01/10/2025", **fields}, headers=HX)
        assert response.status_code == 422 and message in response.text, fields
        assert 'id="variation-form"' in response.text and "<html" not in response.text
    assert _fresh(c).value_pence == 1_000_00 and db.session.scalar(select(func.count(Variation.id))) == 0


def test_only_pipeline_commissions_can_be_deleted(client, manager, make):
    live = make.commission(status="live")
    plan = make.commission(status="pipeline")
    m = make.milestone(commission_id=plan.id)
    db.session.commit()
    plan_id, m_id = plan.id, m.id
    page = client.get(f"/commissions/{live.id}/delete")
    assert "cannot be deleted" in page.text and "Terminate" in page.text
    refused = client.post(f"/commissions/{live.id}/delete")
    assert refused.status_code == 409 and "terminated" in refused.text
    assert _fresh(live) is not None
    confirm = client.get(f"/commissions/{plan.id}/delete").text
    assert "Yes, delete" in confirm and "What will change" in confirm and "variation" in confirm
    show = client.get(f"/commissions/{plan.id}").text  # a link to the confirmation page, no browser confirm()
    assert f'href="/commissions/{plan.id}/delete"' in show and "hx-confirm" not in show and "data-confirm" not in show
    done = client.post(f"/commissions/{plan.id}/delete")
    assert done.status_code == 303 and done.location.endswith("/commissions/")
    db.session.expire_all()
    assert db.session.get(Commission, plan_id) is None
    assert db.session.get(Milestone, m_id).commission_id is None
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "delete", AuditEvent.object_type == "Commission")).one()
    assert event.before["status"] == "pipeline" and event.after is None


def test_delete_with_htmx_redirects_the_page(client, manager, make):
    plan = make.commission(status="pipeline")
    db.session.commit()
    response = client.post(f"/commissions/{plan.id}/delete", headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"].endswith("/commissions/")


def test_providers_list_page_and_form(client, manager, make):
    p = make.provider("Swale Boxing Academy", vcse=True)
    make.commission(provider=p, value_pence=1_000_00)
    make.commission(provider=p, value_pence=2_000_01)
    make.provider("Other Org")
    db.session.commit()
    listing = client.get("/providers/?q=boxing", headers=HX)
    assert "Swale Boxing Academy" in listing.text and "Other Org" not in listing.text and "£3,000.01" in listing.text
    page = client.get(f"/providers/{p.id}").text
    assert "£3,000.01" in page and "VCSE" in page
    bad = client.post("/providers/new", data={"name": "swale boxing academy"})
    assert bad.status_code == 422 and "already a provider" in bad.text
    ok = client.post(f"/providers/{p.id}/edit", data={"name": "Swale Boxing Academy", "vcse": "y", "sme": "y",
                                                       "supplier_ids": "SUP1010\nSUP2020"})
    assert ok.status_code == 303
    db.session.expire_all()
    assert sorted(a.value for a in db.session.scalars(select(SupplierAlias))) == ["SUP1010", "SUP2020"]
    assert db.session.get(Provider, p.id).sme is True
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Provider")).one()
    assert event.before == {"sme": False, "supplier_ids": []} and event.after["supplier_ids"] == ["SUP1010", "SUP2020"]
    clash = client.post("/providers/new", data={"name": "New Org", "supplier_ids": "SUP2020"})
    assert clash.status_code == 422 and "already belongs to Swale Boxing Academy" in clash.text


def test_viewers_read_but_cannot_change(client, auth, make):
    c = make.commission()
    p = c.provider
    db.session.commit()
    auth.login("viewer")
    for url in ("/commissions/", f"/commissions/{c.id}", "/providers/", f"/providers/{p.id}"):
        assert client.get(url).status_code == 200
    assert "Quick change" not in client.get("/commissions/").text
    for url in (f"/commissions/{c.id}/status", f"/commissions/{c.id}/delete", "/providers/new"):
        assert client.post(url, data={}).status_code == 403


def test_home_page_lists_commissions_ending_soon(client, manager, make):
    soon = make.commission(reference="VRU-SOON", end_date=date.today() + timedelta(days=10), status="live")
    make.commission(reference="VRU-LATER", end_date=date.today() + timedelta(days=200), status="live")
    make.commission(reference="VRU-DONE", end_date=date.today() + timedelta(days=5), status="ended")
    db.session.commit()
    page = client.get(f"/?year={soon.funding_year.label}").text
    assert "Commissions ending in the next 90 days" in page
    text = page[page.index('id="ending-soon-heading"'):]
    text = text[:text.index("</section>")]
    assert "VRU-SOON" in text and "VRU-LATER" not in text and "VRU-DONE" not in text


def test_pages_run_a_fixed_number_of_queries(client, manager, make, count_queries):
    c = make.commission()
    db.session.commit()
    urls = [f"/commissions/{c.id}", "/providers/", f"/providers/{c.provider_id}", f"/?year={c.funding_year.label}"]

    def counts():
        out = {}
        for url in urls:
            with count_queries() as q:
                assert client.get(url).status_code == 200
            out[url] = q.count
        return out

    small = counts()
    users = [make.user() for _ in range(3)]
    for n in range(25):
        make.ledger_line(net_pence=100 + n, commission=c, posting_date=date(2025, 4 + n % 9, 1))
        make.milestone(commission_id=c.id, owner_id=users[n % 3].id)
        other = make.commission(provider=c.provider, end_date=date.today() + timedelta(days=n + 1))
        make.ledger_line(net_pence=5, commission=other)
    for n in range(5):
        db.session.add(Variation(commission_id=c.id, variation_date=date(2025, 6, 1), reason=f"r{n}", value_change_pence=1))
        make.audit_event(object_id=c.id, user_id=users[n % 3].id)
    db.session.commit()
    assert counts() == small
