"""Outputs belong to a funding year (issue 25), through the web: a contract with £7,397.26 of its £36,000.00 in
2025-26 and £28,602.74 in 2026-27 (1 January 2026 to 31 March 2027) records measures, targets, actuals,
narratives and provider workbooks for each year apart; a year it is not in, or one that does not exist or is not a
year's name, is refused with a message; "to date" is the quarters recorded against their targets; and the PCC
return reads the return's year."""
from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models.monitoring import Measure, MeasureActual, MonitoringReturn, QuarterNarrative
from tracker.monitoring import service, workbook
from tracker.returns.workbook import HEADER_ROW

HX = {"HX-Request": "true"}


@pytest.fixture
def contract(make, metrics):
    y1, y2 = make.year("2025-26"), make.year("2026-27")
    make.year("2024-25")  # set up, but the contract has no share or dates in it
    line1, line2 = make.budget_line(year=y1), make.budget_line(year=y2)
    c = make.commission("VRU-25-030", title="Detached youth work", value_pence=36_000_00,
                        start_date=date(2026, 1, 1), end_date=date(2027, 3, 31), year=y1,
                        shares=[(y1, line1, 7_397_26), (y2, line2, 28_602_74)])
    db.session.commit()
    return c


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def add_measure(client, c, year: str, metric, targets=(12, 12, 12, 12)):
    data = {"new-metric_id": metric.id, "new-unit": ""}
    data.update({f"new-target_q{q}": str(t) for q, t in enumerate(targets, start=1)})
    response = client.post(f"/commissions/{c.id}/outputs/measures?year={year}", data=data)
    assert response.status_code == 303, response.text
    assert response.location.endswith(f"/commissions/{c.id}/outputs?year={year}")
    return db.session.scalars(select(Measure).where(Measure.commission_id == c.id, Measure.metric_id == metric.id)
                              .order_by(Measure.id.desc())).first()


def test_a_multi_year_contract_records_outputs_in_each_year(client, auth, contract, metrics):
    auth.login("manager")
    page = client.get(f"/commissions/{contract.id}/outputs?year=2026-27")
    assert page.status_code == 200
    # The chooser lists the years the contract has shares or dates in, and no other.
    assert "outputs 2026-27" in page.text and "No measures for 2026-27 yet" in page.text
    assert f'href="/commissions/{contract.id}/outputs?year=2025-26"' in page.text
    assert "?year=2024-25" not in page.text
    later = add_measure(client, contract, "2026-27", metrics["cyp_engaged"], targets=(30, 30, 30, 30))
    assert later.funding_year.label == "2026-27" and later.target_year == 120
    # The same metric again in the other year is its own measure, with its own targets.
    earlier = add_measure(client, contract, "2025-26", metrics["cyp_engaged"], targets=(0, 0, 0, 12))
    assert earlier.funding_year.label == "2025-26" and earlier.id != later.id
    assert client.post(f"/measures/{later.id}/actuals/1", data={"value": "27"}).status_code == 303
    assert client.post(f"/commissions/{contract.id}/outputs/narrative/1?year=2026-27",
                       data={"text": "Started in two new schools."}).status_code == 303
    db.session.expire_all()
    html_2627 = client.get(f"/commissions/{contract.id}/outputs?year=2026-27").text
    html_2526 = client.get(f"/commissions/{contract.id}/outputs?year=2025-26").text
    assert f'id="measure-{later.id}"' in html_2627 and f'id="measure-{earlier.id}"' not in html_2627
    assert f'id="measure-{earlier.id}"' in html_2526 and f'id="measure-{later.id}"' not in html_2526
    assert "Started in two new schools." in html_2627 and "Started in two new schools." not in html_2526
    narrative = db.session.scalars(select(QuarterNarrative)).one()
    assert (narrative.funding_year.label, narrative.quarter) == ("2026-27", 1)
    assert f'id="to-date-{later.id}" class="num">27 <span class="hint">of 30</span>' in html_2627


@pytest.mark.parametrize("label, status, words", [
    ("2099-00", 404, "There is no funding year 2099-00"),
    ("abc", 400, "There is no funding year abc"),
    ("2024-25", 404, "VRU-25-030 has no funding share or delivery dates in 2024-25"),
])
def test_an_unknown_or_malformed_year_is_refused(client, auth, contract, metrics, label, status, words):
    auth.login("manager")
    page = client.get(f"/commissions/{contract.id}/outputs?year={label}")
    assert page.status_code == status and words in page.text
    assert client.get(f"/commissions/{contract.id}/outputs/workbook/1?year={label}").status_code == status
    response = client.post(f"/commissions/{contract.id}/outputs/measures?year={label}",
                           data={"new-metric_id": metrics["cyp_engaged"].id, "new-target_q1": "5"})
    assert response.status_code == status and words in response.text
    response = client.post(f"/commissions/{contract.id}/outputs/narrative/1?year={label}", data={"text": "x"})
    assert response.status_code == status
    assert count(Measure) == 0 and count(QuarterNarrative) == 0  # nothing written


def test_to_date_is_the_recorded_quarters_against_their_targets(client, auth, make, metrics):
    # A finished year: every quarter of 2025-26 has ended.
    c = make.commission("VRU-25-031", year=make.year("2025-26"))
    db.session.commit()
    auth.login("manager")
    m = add_measure(client, c, "2025-26", metrics["sessions_delivered"], targets=(12, 12, 12, 12))
    saved = client.post(f"/measures/{m.id}/actuals/1", data={"value": "11"}, headers=HX)
    assert saved.status_code == 200
    # The saved cell and, out of band, the row's To date: never "11 of 12" beside "– of 0".
    assert ">11</a>" in saved.text and "of 12" in saved.text
    assert f'<td id="to-date-{m.id}" class="num" hx-swap-oob="true">11 <span class="hint">of 12</span>' in saved.text
    page = client.get(f"/commissions/{c.id}/outputs?year=2025-26").text
    assert f'<td id="to-date-{m.id}" class="num">11 <span class="hint">of 12</span>' in page
    client.post(f"/measures/{m.id}/actuals/3", data={"value": "12"}, headers=HX)
    page = client.get(f"/commissions/{c.id}/outputs?year=2025-26").text
    # Q1 and Q3 recorded, Q2 not: 23 of their 24.
    assert f'<td id="to-date-{m.id}" class="num">23 <span class="hint">of 24</span>' in page


def _fill(data: bytes, values: dict[int, int]) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    out = wb["Outputs"]
    for row in range(workbook.HEADER_ROW + 1, out.max_row + 1):
        if out.cell(row, 1).value in values:
            out.cell(row, workbook.ACTUAL_COL).value = values[out.cell(row, 1).value]
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _upload(client, c, year: str, data: bytes, quarter=1):
    return client.post(f"/commissions/{c.id}/outputs/upload?year={year}",
                       data={"return-quarter": str(quarter), "return-file": (io.BytesIO(data), "return.xlsx")},
                       content_type="multipart/form-data")


def test_the_provider_workbook_is_for_the_chosen_year(client, auth, contract, metrics):
    auth.login("manager")
    later = add_measure(client, contract, "2026-27", metrics["cyp_engaged"], targets=(30, 30, 30, 30))
    earlier = add_measure(client, contract, "2025-26", metrics["sessions_delivered"], targets=(0, 0, 0, 6))
    response = client.get(f"/commissions/{contract.id}/outputs/workbook/1?year=2026-27")
    assert response.status_code == 200 and "monitoring-VRU-25-030-2026-27-Q1.xlsx" in response.headers[
        "Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(response.data))
    cover = {r[0]: r[1] for r in wb["Cover"].iter_rows(values_only=True) if r and r[0]}
    assert cover["Funding year"] == "2026-27"
    ids = [r[0] for r in wb["Outputs"].iter_rows(min_row=workbook.HEADER_ROW + 1, values_only=True) if r[0]]
    assert ids == [later.id]  # the 2025-26 measure is not asked for
    filled = _fill(response.data, {later.id: 28})
    wrong = _upload(client, contract, "2025-26", filled)
    assert wrong.status_code == 422 and "This workbook is for Q1 2026-27, not Q1 2025-26" in wrong.text
    staged = _upload(client, contract, "2026-27", filled)
    assert staged.status_code == 303
    db.session.expire_all()
    ret = db.session.scalars(select(MonitoringReturn)).one()
    assert ret.funding_year.label == "2026-27"
    assert client.post(f"/monitoring/returns/{ret.import_batch_id}/commit").status_code == 303
    db.session.expire_all()
    actual = db.session.scalars(select(MeasureActual)).one()
    assert (actual.measure_id, actual.quarter, actual.value) == (later.id, 1, 28)
    assert earlier.id != later.id


def test_the_return_and_the_due_list_read_the_year(client, auth, contract, metrics, make):
    auth.login("manager")
    later = add_measure(client, contract, "2026-27", metrics["cyp_engaged"], targets=(30, 30, 30, 30))
    earlier = add_measure(client, contract, "2025-26", metrics["cyp_engaged"], targets=(0, 0, 0, 12))
    client.post(f"/measures/{earlier.id}/actuals/4", data={"value": "11"})
    client.post(f"/measures/{later.id}/actuals/1", data={"value": "27"})
    auth.login("finance")
    for label, quarter, expected in (("2025-26", 4, ["CYP engaged", "VRU-25-030", 12, 11, 12, 11, "Green"]),
                                     ("2026-27", 1, ["CYP engaged", "VRU-25-030", 30, 27, 30, 27, "Amber"])):
        html = client.get(f"/returns/prepare?year={label}&quarter={quarter}").text
        section = html[html.index("<h2>Outputs</h2>"):]
        section = section[:section.index("</table>")]
        assert "VRU-25-030" in section
        response = client.get(f"/returns/{label}/q{quarter}/draft.xlsx")
        ws = openpyxl.load_workbook(io.BytesIO(response.data))["Outputs"]
        rows = [list(r) for r in ws.iter_rows(min_row=HEADER_ROW + 2, max_col=7, values_only=True) if r[1]]
        assert rows == [expected], label
    due = service.monitoring_due(date(2026, 10, 15))
    # 2025-26's only quarter of delivery (Q4) and 2026-27's Q1 are recorded; 2026-27's Q2 has ended without.
    assert [(d.commission.reference, d.year.label, d.quarter) for d in due] == [("VRU-25-030", "2026-27", 2)]
    page = client.get("/monitoring/?year=2026-27")
    assert page.status_code == 200
