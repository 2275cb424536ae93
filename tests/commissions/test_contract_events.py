"""Contract events (issue 25): a contract's life as rows with the date each step takes effect.

A termination typed in January with effect from 15 November counts from 15 November in every figure as at a
quarter end; a variation leaves a reported year's share alone and shows old against new before it is confirmed.
"""
from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
from sqlalchemy import select

from tests.commissions.conftest import form_data
from tracker.extensions import db
from tracker.models import Commission, ContractEvent, PccReturn


def _budget_row(client, quarter: int, line_name: str) -> dict:
    """The budget line's row of budget.csv as at the end of ``quarter``, money in pence."""
    response = client.get(f"/exports/budget.csv?year=2025-26&quarter={quarter}")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    row = next(r for r in rows if r["Budget line"] == line_name)
    return {k: round(float(v.replace(",", "").lstrip("'")) * 100) for k, v in row.items()
            if k in ("Committed", "Outstanding commitment", "Actual to date")}


def _return_row(client, quarter: int, reference: str) -> dict:
    """The contract's row of the return's "Commissioned services" sheet (the draft workbook finance downloads)."""
    response = client.get(f"/returns/2025-26/q{quarter}/draft.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data))["Commissioned services"]
    rows = list(sheet.iter_rows(values_only=True))
    heading = next(i for i, r in enumerate(rows) if r and r[0] == "Reference")
    row = next(r for r in rows[heading + 1:] if r and r[0] == reference)
    return dict(zip(rows[heading], row))


def _pence(value) -> int:
    return round(value * 100)


def test_a_termination_counts_from_its_effective_date_whenever_it_was_typed(app, client, auth, make):
    make.year("2024-25", status="closed")
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=60_000_00, description="Mentoring")
    provider = make.provider("Medway Youth Mentoring CIC")
    db.session.commit()
    setup = {"line": line, "year": year, "strand": line.strand, "provider": provider}
    auth.login("admin")
    app.config["COMMISSIONS_TODAY"] = date(2025, 4, 1)
    data = form_data(setup, reference="VRU-25-050", value_pence="50,000.00", start_date="01/04/2025",
                     end_date="31/03/2026", status="live")
    assert client.post("/commissions/new", data=data).status_code == 303
    c = db.session.scalars(select(Commission).where(Commission.reference == "VRU-25-050")).one()
    # The ledger: £10,000.00 in P3 and P6, a final £500.00 in P8 and a £500.00 credit in P11.
    for posted, pence in ((date(2025, 6, 20), 10_000_00), (date(2025, 9, 19), 10_000_00),
                          (date(2025, 11, 28), 500_00), (date(2026, 2, 13), -500_00)):
        make.ledger_line(posting_date=posted, net_pence=pence, commission=c)
    db.session.commit()

    # Typed in January 2026, with effect from 15 November 2025.
    app.config["COMMISSIONS_TODAY"] = date(2026, 1, 20)
    url = f"/commissions/{c.id}/status"
    refused = {
        "01/02/2026": "cannot take effect after today (20/01/2026)",
        "15/03/2025": "is in funding year 2024-25, which is closed",
        "31/02/2025": "",  # not a date: the form says so
    }
    for when, message in refused.items():
        response = client.post(url, data={"status": "terminated", "version": c.version, "effective_date": when})
        assert response.status_code == 422, when
        assert message in response.text
        db.session.expire_all()
        assert db.session.get(Commission, c.id).status == "live"
    done = client.post(url, data={"status": "terminated", "version": c.version, "effective_date": "15/11/2025",
                                  "note": "Provider withdrew"})
    assert done.status_code == 303
    db.session.expire_all()
    events = db.session.scalars(select(ContractEvent).where(ContractEvent.commission_id == c.id)
                                .order_by(ContractEvent.id)).all()
    assert [(e.kind, e.from_status, e.effective_date) for e in events] == [
        ("live", None, date(2025, 4, 1)), ("terminated", "live", date(2025, 11, 15))]
    assert events[1].note == "Provider withdrew" and events[1].recorded_by_id is not None
    page = client.get(f"/commissions/{c.id}").text
    assert "Live → Terminated" in page and "15/11/2025" in page

    # Q2: live, the whole value committed, £30,000.00 still to pay.
    assert _budget_row(client, 2, "Mentoring") == {
        "Committed": 50_000_00, "Actual to date": 20_000_00, "Outstanding commitment": 30_000_00}
    q2 = _return_row(client, 2, "VRU-25-050")
    assert q2["Status at quarter end"] == "Live"
    assert (_pence(q2["Committed"]), _pence(q2["Remaining"])) == (50_000_00, 30_000_00)
    # Q3: terminated on 15 November, so it commits only what was paid.
    assert _budget_row(client, 3, "Mentoring") == {
        "Committed": 20_500_00, "Actual to date": 20_500_00, "Outstanding commitment": 0}
    q3 = _return_row(client, 3, "VRU-25-050")
    assert q3["Status at quarter end"] == "Terminated"
    assert (_pence(q3["Committed"]), _pence(q3["Remaining"])) == (20_500_00, 0)
    # Q4: the credit takes what was paid, and so what is committed, back to £20,000.00.
    assert _budget_row(client, 4, "Mentoring") == {
        "Committed": 20_000_00, "Actual to date": 20_000_00, "Outstanding commitment": 0}
    q4 = _return_row(client, 4, "VRU-25-050")
    assert (_pence(q4["Committed"]), _pence(q4["Remaining"])) == (20_000_00, 0)


def test_a_status_change_cannot_take_effect_before_the_last_one(app, client, auth, make):
    c = make.commission(status="awarded", value_pence=10_000_00)
    db.session.commit()
    auth.login("manager")
    app.config["COMMISSIONS_TODAY"] = date(2025, 10, 1)
    assert client.post(f"/commissions/{c.id}/status", data={"status": "live", "version": c.version,
                                                            "effective_date": "01/07/2025"}).status_code == 303
    db.session.expire_all()
    early = client.post(f"/commissions/{c.id}/status", data={"status": "ended", "version": c.version,
                                                             "effective_date": "30/06/2025"})
    assert early.status_code == 422 and "last changed with effect from 01/07/2025" in early.text
    # Blank: today.
    assert client.post(f"/commissions/{c.id}/status", data={"status": "ended", "version": c.version}).status_code == 303
    ended = db.session.scalars(select(ContractEvent).where(ContractEvent.kind == "ended")).one()
    assert ended.effective_date == date(2025, 10, 1)


def test_the_edit_form_records_a_status_change_with_its_date(app, client, auth, make):
    from tests.commissions.conftest import form_data as data_for

    line = make.budget_line(description="Mentoring")
    provider = make.provider("Medway Youth Mentoring CIC")
    db.session.commit()
    setup = {"line": line, "year": line.funding_year, "strand": line.strand, "provider": provider}
    auth.login("manager")
    app.config["COMMISSIONS_TODAY"] = date(2025, 5, 1)
    assert client.post("/commissions/new", data=data_for(setup, status="awarded")).status_code == 303
    c = db.session.scalars(select(Commission)).one()
    app.config["COMMISSIONS_TODAY"] = date(2025, 8, 1)
    edit = data_for(setup, status="live", version=str(c.version), status_effective_date="01/07/2025")
    assert client.post(f"/commissions/{c.id}/edit", data=edit).status_code == 303
    event = db.session.scalars(select(ContractEvent).where(ContractEvent.from_status.is_not(None))).one()
    assert (event.kind, event.from_status, event.effective_date) == ("live", "awarded", date(2025, 7, 1))
    # As at Q1 (30 June) it was still only awarded; it went live in Q2.
    from tracker import figures

    q1 = figures.year_figures(line.funding_year, 1)
    assert {s.status for s in q1.shares if s.share.commission_id == c.id} == {"awarded"}
    q2 = figures.year_figures(line.funding_year, 2)
    assert {s.status for s in q2.shares if s.share.commission_id == c.id} == {"live"}


def test_a_variation_keeps_a_reported_year_and_shows_old_against_new(app, client, auth, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=60_000_00, description="Mentoring")
    provider = make.provider("Medway Youth Mentoring CIC")
    db.session.commit()
    setup = {"line": line, "year": year, "strand": line.strand, "provider": provider}
    auth.login("manager")
    data = form_data(setup, reference="VRU-25-030", value_pence="30,000.00", start_date="01/01/2026",
                     end_date="31/12/2026", status="live")
    data.update({"shares-0-year_label": "", "shares-0-funding_stream_id": "", "shares-0-budget_line_id": "",
                 "shares-0-amount": ""})  # the default split by days: £7,397.26 and £22,602.74
    assert client.post("/commissions/new", data=data).status_code == 303
    c = db.session.scalars(select(Commission)).one()
    assert sorted((s.year_label, s.amount_pence) for s in c.funding_shares) == [
        ("2025-26", 7_397_26), ("2026-27", 22_602_74)]
    db.session.add(PccReturn(funding_year_id=year.id, quarter=4, status="issued"))  # 2025-26 Q4 reported
    db.session.commit()

    variation = {"version": str(c.version), "variation_date": "01/06/2026", "reason": "Six more months",
                 "value_change_pence": "6,000.00", "new_end_date": "31/03/2027"}
    proposal = client.post(f"/commissions/{c.id}/variations", data=variation)
    assert proposal.status_code == 200
    table = proposal.text.split('id="variation-by-year"')[1].split("</table>")[0]
    assert [row.count("£") for row in table.split("<tr>")[2:]] == [2, 3]  # 2025-26: no change; 2026-27 moves
    assert "No change" in table and "£7,397.26" in table
    assert "£22,602.74" in table and "£28,602.74" in table and "£6,000.00" in table
    assert 'value="7,397.26"' in proposal.text and 'value="28,602.74"' in proposal.text
    db.session.expire_all()
    assert db.session.get(Commission, c.id).value_pence == 30_000_00  # nothing saved before confirming

    confirm = {**variation, "shares_shown": "y",
               "shares-0-year_label": "2025-26", "shares-0-funding_stream_id": str(line.funding_stream_id),
               "shares-0-budget_line_id": str(line.id), "shares-0-amount": "7,397.26",
               "shares-1-year_label": "2026-27", "shares-1-funding_stream_id": str(line.funding_stream_id),
               "shares-1-budget_line_id": "", "shares-1-amount": "28,602.74"}
    assert client.post(f"/commissions/{c.id}/variations", data=confirm).status_code == 303
    db.session.expire_all()
    c = db.session.get(Commission, c.id)
    assert (c.value_pence, c.end_date) == (36_000_00, date(2027, 3, 31))
    assert sorted((s.year_label, s.amount_pence) for s in c.funding_shares) == [
        ("2025-26", 7_397_26), ("2026-27", 28_602_74)]
    varied = db.session.scalars(select(ContractEvent).where(ContractEvent.kind == "varied")).one()
    assert (varied.effective_date, varied.value_before_pence, varied.value_after_pence, varied.end_date_before,
            varied.end_date_after) == (date(2026, 6, 1), 30_000_00, 36_000_00, date(2026, 12, 31), date(2027, 3, 31))


def test_without_a_reported_year_a_variation_re_splits_the_open_years(app, make):
    """Nothing issued, nothing closed: the new value is split by days across the years, as before."""
    from tracker.commissions.service import proposed_shares

    line = make.budget_line(year=make.year("2025-26"))
    c = make.commission(budget_line=line, value_pence=30_000_00, start_date=date(2026, 1, 1),
                        end_date=date(2026, 12, 31))
    proposal = {s.year_label: s.amount_pence for s in proposed_shares(c, 36_000_00, date(2027, 3, 31))}
    assert proposal == {"2025-26": 7_120_88, "2026-27": 28_879_12}


def test_the_register_import_records_a_status_change_and_its_withdrawal_puts_it_back(app):
    """The register import changes statuses without the forms: each change, and its undoing, is an event."""
    from tests.imports.helpers import COMMISSIONS, draft_of
    from tests.factories import DEMO_TODAY
    from tracker.demo import seed_demo
    from tracker.imports import service

    seed_demo(DEMO_TODAY)
    db.session.commit()
    book = openpyxl.load_workbook(COMMISSIONS)
    sheet = book.active
    row = next(r for r in sheet.iter_rows(min_row=4) if r[0].value == "VRU-25-001")
    c = db.session.scalars(select(Commission).where(Commission.reference == "VRU-25-001")).one()
    before = c.status
    row[9].value = "Terminated" if before != "terminated" else "Live"
    data = io.BytesIO()
    book.save(data)
    batch = service.commit(draft_of(COMMISSIONS, data.getvalue()))
    db.session.expire_all()
    after = db.session.get(Commission, c.id).status
    assert after != before
    changes = lambda: [(e.from_status, e.kind) for e in db.session.scalars(  # noqa: E731
        select(ContractEvent).where(ContractEvent.commission_id == c.id, ContractEvent.from_status.is_not(None))
        .order_by(ContractEvent.id))]
    assert changes() == [(before, after)]
    service.withdraw(batch)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Commission, c.id).status == before
    assert changes() == [(before, after), (after, before)]


def test_deleting_a_pipeline_commission_deletes_its_events(client, auth, make):
    line = make.budget_line()
    provider = make.provider("Medway Youth Mentoring CIC")
    db.session.commit()
    setup = {"line": line, "year": line.funding_year, "strand": line.strand, "provider": provider}
    auth.login("manager")
    assert client.post("/commissions/new", data=form_data(setup, status="pipeline")).status_code == 303
    c = db.session.scalars(select(Commission)).one()
    for status, version in (("approved", c.version), ("pipeline", c.version + 1)):
        response = client.post(f"/commissions/{c.id}/status", data={"status": status, "version": version})
        assert response.status_code == 303
    assert len(db.session.scalars(select(ContractEvent)).all()) == 3
    assert client.post(f"/commissions/{c.id}/delete").status_code == 303
    assert db.session.scalars(select(ContractEvent)).all() == []
