"""A ring-fence condition is two rows, labour and non-labour, each with its own required amount, figures, status
and shortfall: on the year page, the home page's list and the return (preview and workbook).

Worked numbers (2026-27, made for this test): Serious Violence Duty allocation £300,000.00, £200,000.00 of it
ring-fenced for labour, so £100,000.00 non-labour.
- Labour: the Staff line's budget is £180,000.00 (profiled in Q1 and Q2) and £150,000.00 has been paid from
  it, nothing committed and nothing profiled after Q2, so its forecast is £150,000.00: within £200,000.00 on both, met, no shortfall.
- Non-labour: the Activities line's budget is £120,000.00 and a live £130,000.00 contract is paid from it, so its
  forecast is £130,000.00: over £100,000.00 by £20,000.00 on budget and £30,000.00 on forecast, not met,
  shortfall £30,000.00.
The single row this replaces showed the labour side's £200,000.00 / £180,000.00 / £150,000.00 beside the
non-labour side's "Not met" and £30,000.00.
"""
from __future__ import annotations

import io
import re
from datetime import date

import openpyxl
import pytest

from tracker.claims import rules
from tracker.extensions import db
from tracker.returns.workbook import HEADER_ROW

LABOUR = ["Serious Violence Duty", "Serious Violence Duty ring fence, labour: within £200,000.00",
          200_000, 180_000, 150_000, "Met", 0]
NON_LABOUR = ["Serious Violence Duty",
              "Serious Violence Duty ring fence, non-labour: within £100,000.00 (the rest of the allocation)",
              100_000, 120_000, 130_000, "Not met", 30_000]


@pytest.fixture
def svd_year(make, client, auth):
    year = make.year("2026-27")
    stream = make.stream("Serious Violence Duty", labour_split=True)
    make.allocation(year=year, stream=stream, pence=300_000_00)
    staff = make.budget_line(year=year, stream=stream, category=make.category("Staffing", labour=True), labour=True,
                             amount_pence=180_000_00, profile=(90_000_00, 90_000_00, 0, 0), description="Staff")
    activities = make.budget_line(year=year, stream=stream, category=make.category("Activities"),
                                  amount_pence=120_000_00, description="Activities")
    make.ledger_line(date(2026, 5, 29), 150_000_00, budget_line=staff)
    make.commission("VRU-RF-001", activities, value_pence=130_000_00, status="live",
                    start_date=date(2026, 4, 1), end_date=date(2027, 3, 31))
    db.session.commit()
    auth.login("finance")
    # The condition is added through the form, as finance would.
    response = client.post(f"/funding/years/{year.id}/conditions/new", data={
        "funding_stream_id": stream.id, "kind": "ring_fence", "category_id": 0, "strand_id": 0, "minimum": "",
        "labour": "200,000.00", "note": "SVD grant letter, clause 4"})
    assert response.status_code == 303
    return year


def _cells(row_html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row_html, re.S)]


def test_the_rule_judges_each_side_on_its_own_figures():
    labour, non_labour = rules.ring_fence(200_000_00, 100_000_00, 180_000_00, 120_000_00, 150_000_00, 130_000_00)
    assert (labour.status, labour.required, labour.on_budget, labour.on_forecast, labour.shortfall) == (
        rules.MET, 200_000_00, 180_000_00, 150_000_00, 0)
    assert (non_labour.status, non_labour.required, non_labour.on_budget, non_labour.on_forecast,
            non_labour.shortfall) == (rules.NOT_MET, 100_000_00, 120_000_00, 130_000_00, 30_000_00)
    # Within on budget, over on forecast: at risk, short by the forecast's overrun.
    at_risk = rules.within(100_000_00, 100_000_00, 100_000_01)
    assert (at_risk.status, at_risk.shortfall) == (rules.AT_RISK, 1)


def test_the_year_page_shows_two_rows(svd_year, client):
    html = client.get(f"/funding/years/{svd_year.id}").text
    rows = re.findall(r'<tr id="condition-\d+(?:-non-labour)?">(.*?)</tr>', html, re.S)
    assert len(rows) == 2
    labour, non_labour = (_cells(r) for r in rows)
    assert labour[0].startswith("Serious Violence Duty ring fence, labour: within £200,000.00")
    assert labour[1:5] == ["£200,000.00", "£180,000.00", "£150,000.00", "Met"] and labour[5] == "£0.00"
    assert non_labour[0].startswith("Serious Violence Duty ring fence, non-labour: within £100,000.00")
    assert non_labour[1:5] == ["£100,000.00", "£120,000.00", "£130,000.00", "Not met"]
    assert non_labour[5] == "£30,000.00"
    # One condition, one Remove button (removing it removes both sides).
    assert len(re.findall(r"/conditions/\d+/delete", html)) == 1


def test_the_home_page_flags_only_the_side_that_is_off(svd_year, client):
    html = client.get("/?year=2026-27").text
    section = html[html.index("Grant conditions at risk"):]
    section = section[:section.index("</section>")]
    assert "non-labour: within £100,000.00" in section and "£30,000.00 short" in section
    assert "labour: within £200,000.00" not in section.replace("non-labour: within", "")
    assert re.search(r'#condition-\d+-non-labour"', section)


def test_the_return_shows_two_rows_on_the_preview_and_in_the_workbook(svd_year, client):
    html = client.get("/returns/prepare?year=2026-27&quarter=2").text
    section = html[html.index("<h2>Grant conditions</h2>"):]
    section = section[:section.index("</table>")]
    assert "ring fence, labour: within £200,000.00" in section
    assert "ring fence, non-labour: within £100,000.00" in section
    response = client.get("/returns/2026-27/q2/draft.xlsx")
    assert response.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(response.data))["Grant conditions"]
    rows = [list(r) for r in ws.iter_rows(min_row=HEADER_ROW + 2, max_row=HEADER_ROW + 3, max_col=7,
                                          values_only=True)]
    assert rows == [LABOUR, NON_LABOUR]
