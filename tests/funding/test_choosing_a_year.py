"""Choosing a year and a quarter (tracker/funding/rules.py): one lookup of a year by its label, one default year,
one reading of ``?year=`` and ``?quarter=`` with one message for a bad value on every page and download; and one
quarter for "off track" on the monitoring overview and in the register."""
from __future__ import annotations

from datetime import date

import pytest
from werkzeug.exceptions import HTTPException

from tracker.commissions.queries import RegisterFilters, register_page
from tracker.extensions import db
from tracker.funding.rules import (
    choose_quarter, choose_year, current_year, no_such_year_message, year_by_label,
)
from tracker.monitoring.service import off_track_in_reporting_quarter

HX = {"HX-Request": "true"}


def _stopped(call) -> HTTPException:
    with pytest.raises(HTTPException) as caught:
        call()
    return caught.value


# --- the rules ---------------------------------------------------------------------------------------------------

def test_year_by_label(make):
    year = make.year("2025-26")
    db.session.commit()
    assert year_by_label("2025-26") is year
    assert year_by_label("  2025-26 ") is year  # as typed in a form or pasted into an address
    assert year_by_label("2031-32") is None
    assert year_by_label("") is None and year_by_label(None) is None


def test_current_year_is_the_open_year_holding_today_else_the_latest_open_else_the_latest(make):
    assert current_year(date(2025, 5, 1)) is None  # nothing set up
    draft = make.year("2026-27", status="draft")
    db.session.commit()
    assert current_year(date(2025, 5, 1)) is draft
    old = make.year("2024-25", status="open")
    now = make.year("2025-26", status="open")
    db.session.commit()
    assert current_year(date(2025, 4, 1)) is now
    assert current_year(date(2025, 3, 31)) is old
    assert current_year(date(2026, 5, 1)) is now  # 2026-27 is only a draft: the latest open year


@pytest.mark.parametrize("args", [{}, {"year": ""}, {"year": "   "}])
def test_no_year_chosen_gives_the_default(make, args):
    year = make.year("2025-26")
    db.session.commit()
    assert choose_year(args) is current_year() is year
    assert choose_year(args, default=lambda: None) is None  # pages where no year means every year


def test_a_chosen_year(make):
    make.year("2025-26")
    old = make.year("2024-25")
    db.session.commit()
    assert choose_year({"year": "2024-25"}) is old


@pytest.mark.parametrize("label, status", [
    ("2031-32", 404),      # a year's name, not set up
    ("garbage", 400),      # cannot be a year's name at all
    ("2025-27", 400),
    ("2025", 400),
    ("<b>x</b>" * 10, 400),
])
def test_a_bad_year_stops_with_the_one_message(make, label, status):
    make.year("2025-26")
    db.session.commit()
    stopped = _stopped(lambda: choose_year({"year": label}))
    assert stopped.code == status and stopped.description == no_such_year_message(label)
    assert stopped.description.startswith(f"There is no funding year {label.strip()[:20]}.")


@pytest.mark.parametrize("raw, quarter", [("1", 1), ("4", 4), ("Q2", 2), ("q3", 3), (" 2 ", 2), ("", 3)])
def test_choose_quarter(raw, quarter):
    assert choose_quarter({"quarter": raw}, default=3) == quarter
    assert choose_quarter({}, default=None) is None


@pytest.mark.parametrize("raw", ["5", "0", "x", "-1", "Q9", "1.5", "QQ1"])
def test_a_bad_quarter_is_a_400_with_the_one_message(raw):
    stopped = _stopped(lambda: choose_quarter({"quarter": raw}, default=1))
    assert stopped.code == 400 and stopped.description == f"“{raw}” is not a quarter: choose 1, 2, 3 or 4."


# --- every page and download answers a bad ?year= and ?quarter= the same way ------------------------------------

YEAR_PAGES = ["/", "/funding/budget", "/commissions/", "/returns/", "/returns/prepare", "/monitoring/",
              "/milestones/", "/imports/reconciliation", "/exports/budget.csv", "/exports/commissions.csv",
              "/exports/ledger.csv", "/exports/milestones.xlsx", "/imports/reconciliation.csv"]


@pytest.mark.parametrize("label, status", [("2031-32", 404), ("garbage", 400)])
def test_every_page_answers_a_bad_year_the_same(client, auth, make, label, status):
    make.budget_line(year=make.year("2025-26"))
    db.session.commit()
    auth.login("finance")
    message = no_such_year_message(label)
    for url in YEAR_PAGES:
        for headers in ({}, HX):
            response = client.get(f"{url}?year={label}", headers=headers)
            assert response.status_code == status, (url, headers)
            assert message in response.text, (url, headers)
        assert client.get(f"{url}?year=2025-26").status_code == 200, url


@pytest.mark.parametrize("raw", ["5", "x"])
def test_every_page_reading_a_quarter_answers_a_bad_one_the_same(client, auth, make, raw):
    make.budget_line(year=make.year("2025-26"))
    db.session.commit()
    auth.login("finance")
    for url in ("/funding/budget", "/exports/budget.csv", "/commissions/", "/exports/commissions.csv", "/returns/",
                "/returns/prepare", "/exports/ledger.csv", "/imports/reconciliation"):
        response = client.get(f"{url}?year=2025-26&quarter={raw}")
        assert response.status_code == 400, url
        assert f"“{raw}” is not a quarter: choose 1, 2, 3 or 4." in response.text, url


def test_an_empty_year_is_the_default_year(client, auth, make):
    make.budget_line(year=make.year("2025-26"), description="Mentoring")
    db.session.commit()
    auth.login("viewer")
    page = client.get("/funding/budget?year=&quarter=")
    assert page.status_code == 200 and "2025-26 as at the end of" in page.text and "Mentoring" in page.text


# --- "off track" is the reporting quarter on the monitoring overview and in the register --------------------------

def test_the_overview_and_the_register_agree_on_what_is_off_track(make):
    """On 15 October 2025 Q2 has ended and Q3 is running: both look at Q2 of 2025-26 (the overview once looked at
    the quarter in progress, so a Q3 actual entered early showed there and not in the register)."""
    today = date(2025, 10, 15)
    line = make.budget_line(year=make.year("2025-26"))
    make.year("2024-25")
    metric = make.metric("CYP engaged")
    for ref, q2, q3 in (("VRU-25-001", 50, None), ("VRU-25-002", 85, 100), ("VRU-25-003", 100, 10),
                        ("VRU-25-004", None, None)):
        m = make.measure(make.commission(reference=ref, budget_line=line), metric, targets=(100, 100, 100, 100))
        for quarter, value in ((2, q2), (3, q3)):
            if value is not None:
                make.measure_actual(m, quarter=quarter, value=value)
    db.session.commit()

    year = current_year(today)
    quarter, overview = off_track_in_reporting_quarter(year, today)
    page = register_page(RegisterFilters.from_args({"off_track": "amber"}), today=today)
    assert (year.label, quarter) == page.off_track_in == ("2025-26", 2)
    assert [c.reference for c in overview] == sorted(c.reference for c, _ in page.rows) == ["VRU-25-001", "VRU-25-002"]
