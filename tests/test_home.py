"""Home as a starting point (issue 27): the quarter chooser, the forecast variance in the budget page's words, and a
small, fixed number of queries whatever the amount of data."""
from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from tracker.extensions import db
from tracker.figures import year_figures
from tracker.money import format_pence
from tracker.monitoring.service import CYP_REACHED


def _tiles(html: str) -> dict[str, str]:
    """The headline tiles (label -> figure) of a page."""
    block = html.split('<dl class="headline-figures">', 1)[1].split("</dl>", 1)[0]
    return dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block))


def _year_with_spend(make, allocation=10_000_00, line_amount=8_000_00):
    """2025-26 with £1,000 spent in Q1 and £2,000 in Q3, so the quarter chosen changes "Actual to date"."""
    year = make.year("2025-26")
    stream = make.stream("Core grant")
    make.allocation(year=year, stream=stream, pence=allocation)
    line = make.budget_line(year=year, stream=stream, amount_pence=line_amount)
    make.ledger_line(date(2025, 5, 15), 1_000_00, budget_line=line)
    make.ledger_line(date(2025, 11, 14), 2_000_00, budget_line=line)
    return year, line


# --- The quarter chooser ----------------------------------------------------------------------------------------

def test_home_shows_the_year_as_at_the_end_of_the_chosen_quarter(client, auth, make):
    _year_with_spend(make)
    db.session.commit()
    auth.login("viewer")
    q2 = client.get("/?year=2025-26&quarter=2")
    assert q2.status_code == 200
    assert _tiles(q2.text)["Actual to date"] == "£1,000.00"  # November's spend is after Q2
    assert '<option value="2" selected>Q2 (Jul-Sep)</option>' in q2.text
    assert "As at the end of Q2 (Jul-Sep), to the penny." in q2.text
    assert _tiles(client.get("/?year=2025-26&quarter=Q4").text)["Actual to date"] == "£3,000.00"


def test_with_no_quarter_home_shows_the_quarter_the_budget_page_shows(client, auth, make):
    """Both default to the quarter in progress (the ended 2025-26: Q4) through ``choose_budget_view``."""
    _year_with_spend(make)
    db.session.commit()
    auth.login("viewer")
    home = client.get("/?year=2025-26").text
    budget = client.get("/funding/budget?year=2025-26").text
    assert _tiles(home)["Actual to date"] == _tiles(budget)["Actual to date"] == "£3,000.00"
    assert '<option value="4" selected>' in home


def test_a_bad_quarter_is_a_400_with_the_one_message(client, auth, make):
    _year_with_spend(make)
    db.session.commit()
    auth.login("viewer")
    for bad in ("5", "Q0", "spring"):
        response = client.get(f"/?year=2025-26&quarter={bad}")
        assert response.status_code == 400
        assert "is not a quarter: choose 1, 2, 3 or 4." in response.text


def test_the_chooser_works_without_javascript_and_with_htmx(client, auth, make):
    _year_with_spend(make)
    db.session.commit()
    auth.login("viewer")
    page = client.get("/?year=2025-26&quarter=1").text
    form = page.split('<form method="get" action="/"', 1)[1].split("</form>", 1)[0]
    # A plain GET form with a submit button (hidden only when JavaScript runs), and HTMX swapping the content.
    assert 'name="year"' in form and 'name="quarter"' in form and 'type="submit"' in form
    assert 'hx-get="/"' in form and 'hx-target="#home-content"' in form and 'hx-push-url="true"' in form
    fragment = client.get("/?year=2025-26&quarter=1", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="home-content"' in fragment.text and "As at the end of Q1 (Apr-Jun)" in fragment.text


# --- The headline figures in the budget page's words ---------------------------------------------------------------

def test_the_forecast_variance_reads_as_on_the_budget_page(client, auth, make):
    """Spend over the allocation is a forecast overspend, in words and without a sign, on home and budget alike."""
    year, line = _year_with_spend(make)
    make.commission(budget_line=line, value_pence=25_000_00)
    db.session.commit()
    auth.login("viewer")
    variance = year_figures(year, 4).total.variance
    assert variance > 0
    home = _tiles(client.get("/?year=2025-26&quarter=4").text)
    budget = _tiles(client.get("/funding/budget?year=2025-26&quarter=4").text)
    words = f"forecast overspend {format_pence(variance)}"
    assert home["Forecast variance against allocation"] == budget["Forecast variance against allocation"] == words


def test_an_underspend_is_worded_and_never_shown_as_a_negative(client, auth, make):
    year, _line = _year_with_spend(make, allocation=1_000_000_00)
    db.session.commit()
    auth.login("viewer")
    variance = year_figures(year, 4).total.variance
    assert variance < 0
    home = _tiles(client.get("/?year=2025-26&quarter=4").text)["Forecast variance against allocation"]
    assert home == f"forecast underspend {format_pence(-variance)}"
    assert "-" not in home and "(" not in home


# --- Queries -------------------------------------------------------------------------------------------------------

def _grow(make, year, line, n):
    """More of everything home shows: contracts ending soon, spend, deadlines, grant conditions and CYP reached."""
    from tracker.models.monitoring import Metric

    cyp = db.session.scalar(select(Metric).where(Metric.code == CYP_REACHED)) or make.metric(
        "CYP engaged", code=CYP_REACHED)
    finance = make.user("finance", email=f"fi{n}@example.org")
    for i in range(n):
        c = make.commission(budget_line=line, value_pence=1_000_00, end_date=date.today() + timedelta(days=5 + i))
        make.ledger_line(date(2025, 6, 1 + i % 28), 10_00, budget_line=line, commission=c)
        make.measure_actual(make.measure(commission=c, metric=cyp), quarter=1, value=3)
        make.milestone(f"Late {n}-{i}", due_date=date(2025, 7, 1 + i % 28), owner_id=finance.id, kind="grant claim")
        make.condition(year=year, stream=line.funding_stream, minimum_basis_points=100 * (i + 1))
    return finance


def test_home_runs_the_same_few_queries_with_little_or_much_data(client, auth, make, count_queries):
    year, line = _year_with_spend(make)
    db.session.commit()
    auth.login("finance")
    # Q2 of 2025-26 has ended, so the figures also read what changed since (the most work home can be asked for).
    url = "/?year=2025-26&quarter=2"
    client.get(url)
    with count_queries() as few:
        assert client.get(url).status_code == 200
    _grow(make, year, line, 25)
    db.session.commit()
    with count_queries() as many:
        page = client.get(url)
    assert page.status_code == 200 and "Commissions ending in the next" in page.text
    # The CYP chart, now one query, still sums each strand's targets (25 x 40) and what was reached (25 x 3).
    assert ": 75 reached against a target of 1000." in page.text
    assert many.count == few.count, many.statements
    assert many.count <= 12, many.statements  # issue 27: at most 12 at any data size
