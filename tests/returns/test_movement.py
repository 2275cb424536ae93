"""Forecast snapshots: what an issued return said each line's and stream's forecast was, and how far the forecast
has moved since, on the budget page and in the next return."""
from __future__ import annotations

from tracker import figures
from tracker.extensions import db
from tracker.returns import service


def issue(small, quarter=2, reason=""):
    record = service.issue(small.year, quarter, None, reason=reason)
    db.session.commit()
    return record


def test_no_movement_before_the_first_return_and_none_against_itself(small):
    yf = figures.year_figures(small.year, 2)
    assert all(f.movement is None for f in [*yf.line_rows(), *yf.streams, yf.total])
    issue(small)
    yf = figures.year_figures(small.year, 2)
    # Nothing changed since the return: every movement is nought, the total too.
    assert [f.movement for f in yf.streams] == [0, 0] and yf.total.movement == 0
    assert all(f.movement == 0 for f in yf.line_rows())


def test_movement_follows_the_latest_return_of_the_year(small, make):
    issue(small, 2)
    make.commission("VRU-A-010", small.l3, value_pence=15_000_00, status="awarded", title="More youth work")
    db.session.commit()
    yf = figures.year_figures(small.year, 2)
    lines = {line.id: f for line, f in yf.lines}
    svd = next(f for f in yf.streams if f.name == "Serious Violence Duty")
    assert lines[small.l3.id].movement == svd.movement == 5_000_00  # planned 5,000 becomes a 15,000 contract share
    assert sum(f.movement for f in yf.categories) == yf.total.movement == 5_000_00
    issue(small, 2, reason="New contract")  # version 2 states the new forecast: movement starts again from it
    assert figures.year_figures(small.year, 2).total.movement == 0


def test_budget_page_shows_the_movement_column(small, client, auth, make):
    issue(small)
    make.commission("VRU-A-010", small.l3, value_pence=15_000_00, status="awarded", title="More youth work")
    db.session.commit()
    auth.login("viewer")
    page = client.get("/funding/budget?year=2025-26&quarter=2")
    assert page.status_code == 200
    assert "Movement since the last return" in page.text and "+£5,000.00" in page.text


def test_a_second_return_reports_movement_against_the_first(small, make):
    issue(small, 2)
    make.commission("VRU-A-010", small.l3, value_pence=15_000_00, status="awarded", title="More youth work")
    db.session.commit()
    record = issue(small, 2, reason="A contract awarded after the return")
    from tracker.returns.frozen import thaw

    summary = thaw(record.frozen).table("Summary by funding stream")
    at = [c.key for c in summary.columns].index("movement")
    assert {r[0]: r[at] for r in summary.rows} == {"Core grant": 0, "Serious Violence Duty": 5_000_00,
                                                   "Not on a budget line": 0}
    assert summary.totals[0].values["movement"] == 5_000_00
