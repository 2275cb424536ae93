"""The register: search, filters, sorting, pages, URL state, totals to the penny, bad query strings, query counts."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.commissions.conftest import HX
from tracker.extensions import db


@pytest.fixture
def register(make):
    line = make.budget_line()
    alpha = make.provider("Alpha Youth Trust")
    beta = make.provider("Beta Boxing CIC")
    a = make.commission(reference="VRU-25-001", title="Mentoring in schools", provider=alpha, budget_line=line,
                        value_pence=10_000_01)
    b = make.commission(reference="VRU-25-002", title="Sports diversion", provider=beta, budget_line=line,
                        value_pence=5_000_00, status="pipeline")
    c = make.commission(reference="VRU-25-003", title="Night safety", provider=beta, budget_line=line,
                        value_pence=2_500_50, end_date=date.today() + timedelta(days=20), status="live")
    make.ledger_line(net_pence=1_234_56, commission=a)
    make.ledger_line(net_pence=-34_56, commission=a, transaction_type="credit")
    make.ledger_line(net_pence=99, commission=c)
    make.ledger_line(net_pence=50_000_00)  # unmatched: counts for nobody
    db.session.commit()
    return {"a": a, "b": b, "c": c, "alpha": alpha, "beta": beta, "line": line}


def _refs(text):
    return [r for r in ("VRU-25-001", "VRU-25-002", "VRU-25-003") if f">{r}</a>" in text]


def test_full_page_and_fragment(client, manager, register):
    full = client.get("/commissions/")
    assert full.status_code == 200 and "<html" in full.text and 'hx-push-url="true"' in full.text
    assert 'hx-trigger="input changed delay:300ms, search"' in full.text
    fragment = client.get("/commissions/?q=boxing", headers=HX)
    assert "<html" not in fragment.text and fragment.text.lstrip().startswith('<div id="register"')
    assert _refs(fragment.text) == ["VRU-25-002", "VRU-25-003"]
    assert "HX-Request" in fragment.headers.get("Vary", "")
    # Back button: htmx asks for the whole page when restoring history.
    restore = client.get("/commissions/?q=boxing", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


@pytest.mark.parametrize("query, expected", [
    ("q=mentoring", ["VRU-25-001"]),
    ("q=vru-25-003", ["VRU-25-003"]),
    ("q=alpha", ["VRU-25-001"]),
    ("q=100%25", []),
    ("status=pipeline", ["VRU-25-002"]),
    ("ending=30", ["VRU-25-003"]),
    ("year=2025-26", ["VRU-25-001", "VRU-25-002", "VRU-25-003"]),
])
def test_search_and_filters(client, manager, register, query, expected):
    for headers in ({}, HX):
        response = client.get(f"/commissions/?{query}", headers=headers)
        assert response.status_code == 200
        assert _refs(response.text) == expected


def test_provider_strand_and_stream_filters(client, manager, register, make):
    other_line = make.budget_line(stream=make.stream("Young Futures"), strand=make.strand("Sexual Violence"))
    d = make.commission(reference="VRU-25-004", budget_line=other_line, provider=register["alpha"])
    db.session.commit()
    assert "VRU-25-004" in client.get(f"/commissions/?stream={other_line.funding_stream_id}").text
    assert _refs(client.get(f"/commissions/?stream={other_line.funding_stream_id}").text) == []
    assert _refs(client.get(f"/commissions/?provider={register['beta'].id}").text) == ["VRU-25-002", "VRU-25-003"]
    text = client.get(f"/commissions/?strand={other_line.strand_id}").text
    assert "VRU-25-004" in text and _refs(text) == []
    assert d.id


def test_sorting_and_reversing(client, manager, register):
    assert _ordered(client.get("/commissions/?sort=value").text) == ["VRU-25-003", "VRU-25-002", "VRU-25-001"]
    assert _ordered(client.get("/commissions/?sort=value&order=desc").text) == ["VRU-25-001", "VRU-25-002", "VRU-25-003"]
    assert _ordered(client.get("/commissions/?sort=spent&order=desc").text)[0] == "VRU-25-001"
    assert _ordered(client.get("/commissions/?sort=provider").text)[0] == "VRU-25-001"
    # The heading link reverses the current sort and keeps the filters.
    text = client.get("/commissions/?sort=value&status=live").text
    assert "status=live&amp;sort=value&amp;order=desc" in text or "sort=value&amp;order=desc&amp;status=live" in text or (
        "order=desc" in text and "status=live" in text)


def _ordered(text):
    refs = ["VRU-25-001", "VRU-25-002", "VRU-25-003"]
    return sorted((r for r in refs if f">{r}</a>" in text), key=lambda r: text.index(f">{r}</a>"))


@pytest.mark.parametrize("query", ["page=abc", "page=-3", "sort=evil", "order=sideways", "strand=x",
                                   "provider=1;drop", "ending=7", "status=gone", "per_page=100000", "page=999",
                                   "q=" + "x" * 500, "sort=__class__"])
def test_bad_query_strings_give_a_sensible_page(client, manager, register, query):
    for headers in ({}, HX):
        response = client.get(f"/commissions/?{query}", headers=headers)
        assert response.status_code == 200, query


def test_an_unknown_year_is_not_ignored(client, manager, register):
    # Unlike the other filters, a bad year stops with the one 4xx and message every page gives for it
    # (tests/funding/test_choosing_a_year.py): a list silently showing every year would look like the year's.
    response = client.get("/commissions/?year=2024-25")
    assert response.status_code == 404 and "There is no funding year 2024-25." in response.text
    assert client.get("/commissions/?year=nope").status_code == 400


def test_an_ignored_value_is_reported(client, manager, register):
    assert "Ignored what could not be used" in client.get("/commissions/?sort=evil").text


def test_pagination_keeps_the_filters(client, manager, make):
    line = make.budget_line()
    for n in range(30):
        make.commission(reference=f"VRU-P-{n:03d}", budget_line=line, value_pence=100 + n)
    db.session.commit()
    first = client.get("/commissions/?q=VRU-P&per_page=10")
    assert "VRU-P-009" in first.text and "VRU-P-010" not in first.text
    assert "q=VRU-P&amp;page=2&amp;per_page=10" in first.text
    third = client.get("/commissions/?q=VRU-P&per_page=10&page=3", headers=HX)
    assert "VRU-P-029" in third.text and "VRU-P-009" not in third.text
    past_the_end = client.get("/commissions/?q=VRU-P&per_page=10&page=9")
    assert "VRU-P-029" in past_the_end.text  # the last page, not an empty one


def test_totals_cover_everything_filtered_to_the_penny(client, manager, register, make):
    line = register["line"]
    for n in range(30):  # more than a page
        make.commission(reference=f"VRU-X-{n:03d}", budget_line=line, value_pence=1_00 + n, provider=register["beta"])
    db.session.commit()
    text = client.get(f"/commissions/?provider={register['beta'].id}&per_page=10").text
    value = 5_000_00 + 2_500_50 + sum(1_00 + n for n in range(30))
    assert f'data-total="value">£{value // 100:,}.{value % 100:02d}<' in text
    assert 'data-total="spent">£0.99<' in text
    remaining = value - 99
    assert f'data-total="remaining">£{remaining // 100:,}.{remaining % 100:02d}<' in text
    everything = client.get("/commissions/?q=VRU-25").text
    assert 'data-total="value">£17,500.51<' in everything
    assert 'data-total="spent">£1,200.99<' in everything  # 1,234.56 - 34.56 + 0.99; the unmatched line is not counted
    assert 'data-total="remaining">£16,299.52<' in everything


def test_the_register_runs_the_same_number_of_queries_whatever_the_size(client, manager, make, count_queries):
    line = make.budget_line()
    make.commission(budget_line=line)
    db.session.commit()
    urls = ["/commissions/", "/commissions/?q=Service&sort=spent&order=desc", "/commissions/?status=live&ending=90&year=2025-26",
            "/commissions/?sort=remaining&per_page=10", "/commissions/?sort=status&order=desc&stream=1"]
    small = {}
    for url in urls:
        with count_queries() as q:
            assert client.get(url).status_code == 200
        small[url] = q.count
    for n in range(60):
        c = make.commission(budget_line=line, provider=make.provider(), strand=make.strand(f"Strand {n % 5}"))
        make.ledger_line(net_pence=100 + n, commission=c)
        make.ledger_line(net_pence=200 + n, commission=c)
    db.session.commit()
    for url in urls:
        with count_queries() as q:
            assert client.get(url).status_code == 200
        assert q.count == small[url], url
        assert q.count <= 14, (url, q.statements)
