"""The unmatched lines page: search and filters from the address, supplier groups with subtotals over every page,
paging, ticking a whole group, bad filters answered 400 with a message, and a fixed number of queries."""
from __future__ import annotations

import html
from datetime import date

import pytest
from sqlalchemy import select

from tracker.extensions import db
from tracker.imports import unmatched
from tracker.models import LedgerTransaction


@pytest.fixture
def lines(app, make):
    year = make.year("2025-26", status="open")
    provider = make.provider("Acme Mentoring")
    commission = make.commission("C-ACME", provider=provider, year=year)
    for i in range(7):
        make.ledger_line(posting_date=date(2025, 4 + i, 10), net_pence=(i + 1) * 100_00, reference=f"A{i}",
                         supplier_id="A1", supplier_name="Alpha Hire", account_code="6100")
    for i in range(3):
        make.ledger_line(posting_date=date(2025, 5, 1 + i), net_pence=50_00, reference=f"B{i}",
                         supplier_id="", supplier_name="Beta Venues", account_code="6200", narrative="Hall hire")
    make.ledger_line(posting_date=date(2025, 5, 1), reference="DONE", commission=commission)
    db.session.commit()
    return {"year": year, "commission": commission}


@pytest.fixture
def finance(auth):
    return auth.login("finance")


def refs(page):
    return [l.reference for g in page.groups for l, _ in g.lines]


def test_groups_by_supplier_with_subtotals_over_every_page(lines):
    page = unmatched.page_of(unmatched.parse_filters({}), per_page=4)
    assert (page.count, page.total_pence, page.pages) == (10, 2_800_00 + 150_00, 3)
    [alpha] = page.groups
    assert (alpha.supplier_name, alpha.count, alpha.total_pence, len(alpha.lines)) == ("Alpha Hire", 7, 2_800_00, 4)
    last = unmatched.page_of(unmatched.parse_filters({"page": "3"}), per_page=4)
    assert [(g.supplier_name, g.count, g.total_pence) for g in last.groups] == [("Beta Venues", 3, 150_00)]
    assert refs(last) == ["B1", "B2"]
    assert unmatched.page_of(unmatched.parse_filters({"page": "99"}), per_page=4).page == 3


@pytest.mark.parametrize("args, expected", [
    ({"q": "hall"}, {"B0", "B1", "B2"}),
    ({"supplier": "alpha"}, {f"A{i}" for i in range(7)}),
    ({"account": "6200"}, {"B0", "B1", "B2"}),
    ({"period": "2"}, {"A1", "B0", "B1", "B2"}),
    ({"min": "£500", "max": "600.00"}, {"A4", "A5"}),
    ({"q": "100%_"}, set()),
])
def test_search_and_filters(lines, args, expected):
    f = unmatched.parse_filters(args)
    assert f.problems == []
    assert set(refs(unmatched.page_of(f, per_page=100))) == expected


@pytest.mark.parametrize("args, message", [
    ({"period": "17"}, "Period '17' is not a period from 1 to 16"),
    ({"min": "lots"}, "The smallest amount 'lots' is not an amount of money"),
    ({"page": "abc"}, "Page 'abc' is not a page number"),
    ({"min": "10", "max": "5"}, "The smallest amount is more than the largest"),
])
def test_bad_filters_are_named_and_answered_400(lines, client, finance, args, message):
    response = client.get("/imports/unmatched", query_string=args)
    assert response.status_code == 400 and message in html.unescape(response.text)
    assert "Alpha Hire" in response.text  # the rest of the page still works


def test_the_page_says_why_and_pages(lines, client, finance):
    response = client.get("/imports/unmatched?supplier=alpha")
    assert response.status_code == 200
    assert "Alpha Hire is not a provider with a commission" in response.text
    assert "Subtotal, Alpha Hire" in response.text and "£2,800.00" in response.text
    fragment = client.get("/imports/unmatched?q=hall", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and "Beta Venues" in fragment.text


def test_ticking_a_group_assigns_all_its_filtered_lines_on_every_page(lines, client, finance):
    key = unmatched.group_key("A1", "Alpha Hire")
    c = lines["commission"]
    c.value_pence = 1_000_000_00
    db.session.commit()
    response = client.post("/imports/unmatched/assign", data={"groups": [key], "commission": c.id,
                                                              "min": "200", "page": "1"})
    assert response.status_code == 303
    db.session.expire_all()
    moved = set(db.session.scalars(select(LedgerTransaction.reference)
                                   .where(LedgerTransaction.commission_id == c.id)))
    assert moved == {"DONE"} | {f"A{i}" for i in range(1, 7)}  # A0 (£100) is outside the filter
    assert "min=200" in response.location


def test_ticking_nothing_or_a_nonsense_group_is_refused(lines, client, finance):
    c = lines["commission"]
    assert client.post("/imports/unmatched/assign", data={"commission": c.id}).status_code == 422
    response = client.post("/imports/unmatched/assign", data={"groups": ["not json"], "commission": c.id})
    assert response.status_code == 422 and "no longer unassigned" in response.text


def test_the_page_runs_a_fixed_number_of_queries(app, make, client, finance, count_queries):
    year = make.year("2025-26", status="open")
    counts = []
    for n in (5, 40):
        for i in range(n):
            make.ledger_line(posting_date=date(2025, 6, 1), year=year, reference=f"Q{n}-{i}",
                             supplier_id=f"S{i}", supplier_name=f"Supplier {i}")
        db.session.commit()
        with count_queries() as q:
            assert client.get("/imports/unmatched").status_code == 200
        counts.append(q.count)
    assert counts[0] == counts[1], counts
