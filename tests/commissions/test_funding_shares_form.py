"""The commission form's funding shares: the default split, year and stream first, over-budget confirmation."""
from __future__ import annotations

from datetime import date

from openpyxl import load_workbook
import io

from sqlalchemy import func, select

from tests.commissions.conftest import HX, form_data
from tracker.extensions import db
from tracker.models import AuditEvent, Commission


def _count() -> int:
    return db.session.scalar(select(func.count(Commission.id)))


def test_work_out_the_split_fills_the_shares_by_year_without_saving(client, manager, setup):
    data = form_data(setup, value_pence="30,000.00", start_date="01/01/2026", end_date="31/12/2026", split="1")
    for headers in ({}, HX):
        response = client.post("/commissions/new", data=data, headers=headers)
        assert response.status_code == 200
        assert 'value="7,397.26"' in response.text and 'value="22,602.74"' in response.text
        assert "2026-27 (not set up yet)" in response.text
    assert _count() == 0


def test_a_blank_share_list_saves_the_default_split(client, manager, setup):
    data = form_data(setup, value_pence="30,000.00", start_date="01/01/2026", end_date="31/12/2026")
    data.update({"shares-0-year_label": "", "shares-0-funding_stream_id": "", "shares-0-budget_line_id": "",
                 "shares-0-amount": ""})
    assert client.post("/commissions/new", data=data).status_code == 303
    c = db.session.scalars(select(Commission)).one()
    assert sorted((s.year_label, s.amount_pence, s.waiting) for s in c.funding_shares) == [
        ("2025-26", 7_397_26, False), ("2026-27", 22_602_74, True)]
    page = client.get(f"/commissions/{c.id}").text
    assert "Not yet funded" in page and "£22,602.74" in page


def test_shares_that_do_not_add_up_say_by_how_much(client, manager, setup):
    data = form_data(setup, value_pence="10,000.00", **{"shares-0-amount": "9,000.00"})
    response = client.post("/commissions/new", data=data, headers=HX)
    assert response.status_code == 422
    assert "£1,000.00 less than the value" in response.text and _count() == 0


def test_taking_a_line_over_its_budget_asks_first_and_the_decision_is_audited(client, manager, setup, make):
    line = setup["line"]  # £40,000.00
    make.commission(budget_line=line, value_pence=30_000_00, status="live")
    db.session.commit()
    data = form_data(setup, value_pence="32,950.00", status="awarded")
    asked = client.post("/commissions/new", data=data)
    assert asked.status_code == 422 and _count() == 1
    assert f"This takes {line.description or line.category.name} (2025-26) over its budget by £22,950.00" in asked.text
    assert "Yes, take the budget line over its budget" in asked.text
    done = client.post("/commissions/new", data={**data, "confirm_over_budget": "y"})
    assert done.status_code == 303 and _count() == 2
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.summary.like("%taken over budget, confirmed%"))).one()
    assert "£22,950.00" in event.summary


def test_the_line_list_offers_only_the_chosen_year_and_stream(client, manager, setup, make):
    other_year = make.year("2026-27")
    other = make.budget_line(year=other_year, description="Next year's mentoring")
    other_stream = make.budget_line(year=setup["year"], stream=make.stream("Young Futures"), description="Panel")
    db.session.commit()
    name = "shares-0-budget_line_id"
    response = client.get("/commissions/share-lines", headers=HX, query_string={
        "name": name, "shares-0-year_label": "2025-26",
        "shares-0-funding_stream_id": setup["line"].funding_stream_id})
    assert response.status_code == 200 and f'name="{name}"' in response.text
    assert f'value="{setup["line"].id}"' in response.text
    assert f'value="{other.id}"' not in response.text and f'value="{other_stream.id}"' not in response.text
    bad = client.get("/commissions/share-lines", query_string={"name": "x\"><script>"})
    assert bad.status_code == 400 and "<script>" not in bad.text


def test_a_share_on_a_line_of_another_stream_is_refused(client, manager, setup, make):
    other_stream = make.stream("Young Futures")
    db.session.commit()
    data = form_data(setup, **{"shares-0-funding_stream_id": str(other_stream.id)})
    response = client.post("/commissions/new", data=data, headers=HX)
    assert response.status_code == 422 and "not paid from the chosen funding stream" in response.text
    assert _count() == 0


def test_the_budget_download_is_the_page_with_a_total(client, auth, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=80_000_00, description="Mentoring")
    c = make.commission(budget_line=line, value_pence=102_950_00)
    make.ledger_line(posting_date=date(2025, 5, 20), net_pence=539_99, commission=c)
    make.ledger_line(posting_date=date(2025, 6, 2), net_pence=1_00)  # on no line
    db.session.commit()
    auth.login("viewer")
    page = client.get("/funding/budget?year=2025-26&quarter=1").text
    assert "/exports/budget.xlsx?year=2025-26&amp;quarter=1" in page and "Not on a budget line" in page
    book = load_workbook(io.BytesIO(client.get("/exports/budget.xlsx?year=2025-26&quarter=1").data))
    rows = list(book.active.iter_rows(values_only=True))
    headings = rows[0]
    mentoring = dict(zip(headings, rows[1]))
    assert mentoring["Budget line"] == "Mentoring" and mentoring["RAG"] == "R"
    assert round(mentoring["Forecast outturn"] * 100) == 102_950_00
    assert rows[2][3] == "Not on a budget line"
    total = dict(zip(headings, rows[-1]))
    assert total["Funding stream"] == "Total" and round(total["Actual to date"] * 100) == 540_99
    bad = client.get("/exports/budget.csv?year=1999-00")
    assert bad.status_code == 404 and "no funding year 1999-00" in bad.text


def test_planned_spend_override_needs_a_reason(client, auth, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year)
    db.session.commit()
    auth.login("finance")
    assert "Planned spend" in client.get(f"/funding/lines/{line.id}/planned").text
    refused = client.post(f"/funding/lines/{line.id}/planned", data={"planned": "5,000.00", "reason": ""}, headers=HX)
    assert refused.status_code == 422 and "Say why" in refused.text
    assert client.post(f"/funding/lines/{line.id}/planned", data={"planned": "5,000.00",
                                                                   "reason": "Evaluation in Q4"}).status_code == 303
    db.session.refresh(line)
    assert line.planned_override_pence == 5_000_00
    assert client.post(f"/funding/lines/{line.id}/planned", data={"planned": "", "reason": ""}).status_code == 303
    db.session.refresh(line)
    assert line.planned_override_pence is None


def test_a_share_may_have_a_payment_schedule_that_adds_up_to_it(client, manager, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year)
    c = make.commission(budget_line=line, value_pence=12_000_00)
    db.session.commit()
    share = c.funding_shares[0]
    url = f"/commissions/{c.id}/shares/{share.id}/schedule"
    assert "One a line" in client.get(url).text
    cases = [
        ("30/06/2025, 6,000.00\n31/12/2025, 5,000.00", "£1,000.00 less than the share (£12,000.00)"),
        ("30/06/2026, 12,000.00", "is not in 2025-26"),
        ("someday, 12,000.00", "is not a date"),
        ("30/06/2025 lots", "is not an amount"),
        ("30/06/2025, 6,000.00\n30/06/2025, 6,000.00", "Two payments fall on the same day"),
    ]
    for text, message in cases:
        response = client.post(url, data={"schedule": text}, headers=HX)
        assert response.status_code == 422 and message in response.text, text
    db.session.expire_all()
    assert db.session.get(Commission, c.id).funding_shares[0].payments == []
    ok = client.post(url, data={"schedule": "30/06/2025, 6,000.00\n31/12/2025\t6,000.00"})
    assert ok.status_code == 303
    db.session.expire_all()
    payments = db.session.get(Commission, c.id).funding_shares[0].payments
    assert [(p.due_date, p.amount_pence) for p in payments] == [(date(2025, 6, 30), 6_000_00), (date(2025, 12, 31), 6_000_00)]
    page = client.get(f"/commissions/{c.id}").text
    assert "30/06/2025: £6,000.00" in page and "£12,000.00 due and not paid" in page
    assert client.get(f"/commissions/{c.id}/shares/999999/schedule").status_code == 404


def test_a_year_with_no_budget_lines_says_why_its_share_cannot_go_on_one(client, manager, setup, make):
    """2026-27 is set up but has no lines: its share can only be "not on a budget line", and the form says why and
    where to add them; the line list fetched for that year says so too."""
    empty = make.year("2026-27")
    db.session.commit()
    data = form_data(setup, value_pence="30,000.00", start_date="01/01/2026", end_date="31/12/2026", split="1")
    page = client.post("/commissions/new", data=data).text
    assert "2026-27 has no budget lines yet: add them on" in page
    assert f'href="/funding/years/{empty.id}"' in page
    assert "Not on a budget line yet: 2026-27 has no budget lines" in page
    lines = client.get("/commissions/share-lines", headers=HX, query_string={
        "name": "shares-1-budget_line_id", "shares-1-year_label": "2026-27"}).text
    assert "2026-27 has no budget lines" in lines
    # Once the year has a line, the form offers it and says nothing more.
    make.budget_line(year=empty, description="Mentoring 2026-27")
    db.session.commit()
    page = client.get("/commissions/new").text + client.post("/commissions/new", data=data).text
    assert "has no budget lines" not in page and "Mentoring 2026-27" in page
