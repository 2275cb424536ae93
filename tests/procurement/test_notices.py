"""Procurement Act notices as records and deadlines: made by the deadline sync, following their contract, marked
published from the commission page, and exported as CSV."""
from __future__ import annotations

import csv
import io
from datetime import date

from sqlalchemy import func, select

from tracker import settings
from tracker.extensions import db
from tracker.milestones.service import sync_deadlines
from tracker.models import AuditEvent, Milestone, ProcurementNotice, ProcurementThreshold, Variation

YEAR_FIELDS = dict(start_date=date(2025, 4, 1), end_date=date(2026, 3, 31))


def _notices(commission=None):
    q = select(ProcurementNotice).order_by(ProcurementNotice.due_date, ProcurementNotice.id)
    if commission is not None:
        q = q.where(ProcurementNotice.commission_id == commission.id)
    return db.session.scalars(q).all()


def _public(make, **fields):
    values = dict(reference="VRU-25-300", title="Detached youth work", value_pence=300_000_00,
                  procurement_started_on=date(2025, 3, 1), **YEAR_FIELDS)
    values.update(fields)
    c = make.commission(**values)
    db.session.commit()
    return c


def test_a_public_contract_gets_its_notices_as_deadlines_in_the_procurement_act_programme(thresholds, make):
    c = _public(make)
    notices = _notices(c)
    assert [(n.kind, n.due_date) for n in notices] == [
        ("contract-details", date(2025, 4, 30)), ("contract-termination", date(2026, 4, 29))]
    deadlines = db.session.scalars(select(Milestone).where(Milestone.programme == "Procurement Act",
                                                           Milestone.commission_id == c.id)
                                   .order_by(Milestone.due_date)).all()
    assert [(m.source_key, m.due_date, m.kind) for m in deadlines] == [
        (n.source_key, n.due_date, "procurement notice") for n in notices]
    assert deadlines[1].title == "VRU-25-300 Detached youth work: contract termination notice due"


def test_notices_follow_the_contract_when_its_end_date_moves(thresholds, make):
    c = _public(make)
    c.end_date = date(2026, 2, 28)
    db.session.commit()
    termination = [n for n in _notices(c) if n.kind == "contract-termination"]
    assert [n.due_date for n in termination] == [date(2026, 3, 29)]
    m = db.session.scalar(select(Milestone).where(Milestone.source_key == termination[0].source_key))
    assert m.due_date == date(2026, 3, 29)


def test_the_day_count_setting_moves_every_notice(thresholds, make):
    c = _public(make)
    settings.put("notice_days_beginning_with", "false")
    db.session.commit()
    assert [n.due_date for n in _notices(c)] == [date(2025, 5, 1), date(2026, 4, 30)]


def test_light_touch_mentoring_at_216000_owes_only_a_below_threshold_details_notice(thresholds, make):
    c = _public(make, title="Mentoring", light_touch=True, value_pence=180_000_00, value_incl_vat_pence=216_000_00,
                procurement_started_on=date(2026, 1, 10), start_date=date(2026, 4, 1), end_date=date(2027, 3, 31))
    c.value_pence += 40_000_00
    db.session.add(Variation(commission=c, variation_date=date(2026, 9, 1), reason="More sessions",
                             value_change_pence=40_000_00))
    db.session.commit()
    assert [(n.kind, n.due_date) for n in _notices(c)] == [("below-threshold-details", date(2026, 4, 30))]


def test_services_at_210000_are_public_only_when_procurement_started_in_2026(thresholds, make):
    public = _public(make, reference="VRU-A", value_pence=175_000_00, value_incl_vat_pence=210_000_00,
                     procurement_started_on=date(2026, 1, 10))
    below = _public(make, reference="VRU-B", value_pence=175_000_00, value_incl_vat_pence=210_000_00,
                    procurement_started_on=date(2025, 12, 15))
    assert [n.kind for n in _notices(public)] == ["contract-details", "contract-termination"]
    assert [n.kind for n in _notices(below)] == ["below-threshold-details"]


def test_a_grant_owes_no_notices(thresholds, make):
    c = _public(make, commission_type="grant", procurement_route="Grant")
    assert _notices(c) == []
    assert db.session.scalar(select(func.count(Milestone.id)).where(Milestone.programme == "Procurement Act")) == 0


def test_an_unpublished_notice_no_longer_owed_goes_but_a_published_one_stays(thresholds, make):
    c = _public(make)
    details, termination = _notices(c)
    details.published_on, details.link = date(2025, 4, 20), "https://www.find-tender.service.gov.uk/Notice/1"
    db.session.commit()
    c.commission_type = "grant"
    db.session.commit()
    assert [n.kind for n in _notices(c)] == ["contract-details"]


def test_payments_compliance_notices_for_the_half_years_with_public_contracts(thresholds, make):
    _public(make)
    sync_deadlines(db.session)
    db.session.commit()
    authority = db.session.scalars(select(ProcurementNotice).where(ProcurementNotice.commission_id.is_(None))
                                   .order_by(ProcurementNotice.due_date)).all()
    assert [(n.period_end, n.due_date) for n in authority] == [
        (date(2025, 9, 30), date(2025, 10, 29)), (date(2026, 3, 31), date(2026, 4, 29))]
    # A commission-only sync leaves the authority's notices alone.
    sync_deadlines(db.session, set())
    assert db.session.scalar(select(func.count(ProcurementNotice.id)).where(ProcurementNotice.commission_id.is_(None))) == 2


def _vary(client, c, change: str, new_value: str, line, end: str = ""):
    data = {"version": c.version, "variation_date": "01/10/2025", "reason": "More young people referred",
            "value_change_pence": change, "new_end_date": end, "shares_shown": "y",
            "shares-0-year_label": "2025-26", "shares-0-budget_line_id": line.id,
            "shares-0-funding_stream_id": line.funding_stream_id, "shares-0-amount": new_value}
    return client.post(f"/commissions/{c.id}/variations", data=data)


def test_a_variation_over_10_percent_makes_a_change_notice_and_says_so(thresholds, make, client, manager):
    line = make.budget_line(amount_pence=1_000_000_00)
    c = _public(make, budget_line=line)
    response = _vary(client, c, "35,000.00", "335,000.00", line)
    assert response.status_code == 303
    change = [n for n in _notices(c) if n.kind == "contract-change"]
    assert [(n.due_date, n.variation.reason) for n in change] == [(date(2025, 10, 1), "More young people referred")]
    page = client.get(f"/commissions/{c.id}").text
    assert "a contract change notice is due by 01/10/2025" in page
    assert 'id="notices"' in page and "Contract change notice" in page
    deadlines = client.get("/milestones/?programme=Procurement+Act").text
    assert "contract change notice due before the variation of 01/10/2025 takes effect" in deadlines


def test_a_variation_of_8_percent_needs_no_change_notice(thresholds, make, client, manager):
    line = make.budget_line(amount_pence=1_000_000_00)
    c = _public(make, budget_line=line)
    response = _vary(client, c, "25,000.00", "325,000.00", line)
    assert response.status_code == 303
    assert [n.kind for n in _notices(c)] == ["contract-details", "contract-termination"]
    assert "change notice" not in client.get(f"/commissions/{c.id}").text.lower().replace("no change notice", "")


def test_marking_a_notice_published_records_the_link_and_closes_its_deadline(thresholds, make, client, manager):
    c = _public(make)
    notice = _notices(c)[0]
    response = client.post(f"/notices/{notice.id}/published", data={
        f"n{notice.id}-published_on": "28/04/2025", f"n{notice.id}-link": "https://www.find-tender.service.gov.uk/Notice/0042"})
    assert response.status_code == 303 and response.location.endswith(f"/commissions/{c.id}#notices")
    db.session.expire_all()
    notice = db.session.get(ProcurementNotice, notice.id)
    assert notice.published_on == date(2025, 4, 28) and notice.link.endswith("/Notice/0042")
    m = db.session.scalar(select(Milestone).where(Milestone.source_key == notice.source_key))
    assert (m.status, m.completed_date, m.evidence_link) == ("done", date(2025, 4, 28), notice.link)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "ProcurementNotice")).one()
    assert event.realm == "procurement" and event.after["published_on"] == "2025-04-28"
    assert "28/04/2025" in client.get(f"/commissions/{c.id}").text


def test_a_bad_publication_is_refused_at_the_field_and_nothing_changes(thresholds, make, client, manager):
    c = _public(make)
    notice = _notices(c)[0]
    for data, message in (({"published_on": "31/02/2025", "link": "https://x.example"}, "must be a real date"),
                          ({"published_on": "28/04/2025", "link": "javascript:alert(1)"}, "starting https://"),
                          ({"published_on": "01/01/2099", "link": "https://x.example"}, "cannot be in the future"),
                          ({"published_on": "28/04/2025", "link": ""}, "Enter the notice")):
        response = client.post(f"/notices/{notice.id}/published",
                               data={f"n{notice.id}-{k}": v for k, v in data.items()})
        assert response.status_code == 422 and message in response.text
    db.session.expire_all()
    assert db.session.get(ProcurementNotice, notice.id).published_on is None
    assert client.post("/notices/99999/published", data={}).status_code == 404


def test_each_notice_exports_its_fields_as_csv_safe_from_formulas(thresholds, make, client, manager):
    c = _public(make, title="=HYPERLINK(\"http://evil\")", cdp_procurement_id="ocds-h6vhtk-04f1a2")
    c.provider.sme = True
    c.provider.public_service_mutual = True
    db.session.commit()
    notice = _notices(c)[0]
    response = client.get(f"/notices/{notice.id}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = dict(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows["Notice"] == "Contract details notice" and rows["Notice number"] == "UK6"
    assert rows["Contract title"] == "'=HYPERLINK(\"http://evil\")"
    assert rows["Procurement identifier"] == "ocds-h6vhtk-04f1a2"
    assert rows["Supplier type"] == "SME; Public service mutual"
    assert rows["Due by"] == "30/04/2025" and rows["Value excluding VAT"] == "£300,000.00"
    assert client.get("/notices/99999.csv").status_code == 404


def test_the_notices_list_reads_in_a_fixed_number_of_queries(thresholds, make, client, manager, count_queries):
    _public(make, reference="VRU-1")
    with count_queries() as few:
        assert client.get("/notices/").status_code == 200
    for n in range(2, 6):
        _public(make, reference=f"VRU-{n}")
    with count_queries() as many:
        text = client.get("/notices/").text
    assert many.count == few.count
    assert text.count("<td>Contract termination notice") == 5


def test_contracts_over_5m_with_fewer_than_3_kpis_are_flagged(thresholds, make, client, manager):
    c = _public(make, value_pence=6_000_000_00)
    make.measure(commission=c)
    db.session.commit()
    assert "needs at least 3 key performance indicators: it has 1" in client.get(f"/commissions/{c.id}").text


def test_an_admin_adds_a_threshold_and_notices_are_worked_out_again(thresholds, make, client, auth):
    c = _public(make, value_pence=175_000_00, value_incl_vat_pence=210_000_00, procurement_started_on=date(2025, 12, 15))
    auth.login("admin")
    response = client.post("/procurement/thresholds", data={
        "category": "services", "amount_pence": "200,000.00", "applies_from": "01/12/2025", "source": "Test"})
    assert response.status_code == 303
    assert [n.kind for n in _notices(c)] == ["contract-details", "contract-termination"]
    assert "£200,000.00" in client.get("/procurement/thresholds").text
    clash = client.post("/procurement/thresholds", data={
        "category": "services", "amount_pence": "1.00", "applies_from": "01/12/2025"})
    assert clash.status_code == 422 and "already applies from 01/12/2025" in clash.text
    for bad in ({"category": "goods", "amount_pence": "1.00", "applies_from": "01/12/2027"},
                {"category": "services", "amount_pence": "-5", "applies_from": "01/12/2027"},
                {"category": "services", "amount_pence": "1.00", "applies_from": "yesterday"}):
        assert client.post("/procurement/thresholds", data=bad).status_code == 422
    assert db.session.scalar(select(func.count(ProcurementThreshold.id))) == 4


def test_the_commission_form_saves_the_procurement_act_facts(thresholds, make, client, manager):
    from tests.commissions.conftest import form_data

    line = make.budget_line()
    provider = make.provider("Medway Youth Mentoring CIC")
    db.session.commit()
    setup = {"line": line, "year": line.funding_year, "strand": line.strand, "provider": provider}
    data = form_data(setup, light_touch="y", procurement_started_on="10/01/2026", contract_entered_on="01/03/2026",
                     value_incl_vat_pence="216,000.00", cdp_procurement_id="ocds-h6vhtk-0001", cdp_contract_id="C-1",
                     status="awarded")
    response = client.post("/commissions/new", data=data)
    assert response.status_code == 303, response.text
    from tracker.models import Commission

    c = db.session.scalars(select(Commission)).one()
    assert (c.light_touch, c.procurement_started_on, c.contract_entered_on, c.value_incl_vat_pence) == (
        True, date(2026, 1, 10), date(2026, 3, 1), 216_000_00)
    assert [n.kind for n in _notices(c)] == ["below-threshold-details"]
    bad = client.post("/commissions/new", data={**data, "reference": "VRU-25-101", "value_incl_vat_pence": "lots",
                                                 "contract_entered_on": "01/01/2026"})
    assert bad.status_code == 422
    assert "Enter an amount in pounds" in bad.text and "before its procurement started" in bad.text


def test_a_kpi_assessment_notice_lists_the_contracts_kpis(thresholds, make):
    from tracker.procurement.notices import notice_fields

    c = _public(make, value_pence=6_000_000_00, start_date=date(2025, 4, 1), end_date=date(2027, 3, 31))
    make.measure(commission=c, targets=(5, 5, 5, 5), target_year=20)
    db.session.commit()
    kpi = next(n for n in _notices(c) if n.kind == "kpi-assessment")
    fields = dict(notice_fields(kpi))
    assert fields["Notice number"] == "UK9" and "target 20" in fields["KPI 1"]
    assert "KPI 2" not in fields


def test_deleting_a_commission_keeps_its_published_notice_unlinked(thresholds, make):
    from tracker.commissions.service import delete_commission

    c = _public(make)
    details = _notices(c)[0]
    details.published_on, details.link = date(2025, 4, 20), "https://www.find-tender.service.gov.uk/Notice/1"
    c.status = "pipeline"
    db.session.commit()
    notice_id = details.id
    delete_commission(c)
    db.session.commit()
    kept = db.session.get(ProcurementNotice, notice_id)
    assert kept is not None and kept.commission_id is None and kept.published_on == date(2025, 4, 20)
