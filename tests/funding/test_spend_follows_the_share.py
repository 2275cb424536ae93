"""Spend follows the share it pays for (issue 25; docs/adr/spend-follows-the-share.md).

The worked example: a £100,000.00 contract with £60,000.00 on a Home Office core line and £40,000.00 on a Serious
Violence Duty line, entered through the commission form and paid by four £25,000.00 invoices that arrive through the
ledger import. Read back from the budget download, the return and the claims grid, core and SVD each get their own
share; when one invoice is coded to the SVD line, that one goes to SVD and the rest is apportioned 60:40.
"""
from __future__ import annotations

import csv
import io
from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st
from openpyxl import load_workbook

from tests.commissions.conftest import form_data
from tests.imports.helpers import draft_of
from tracker import figures
from tracker.claims.service import year_claims
from tracker.extensions import db
from tracker.imports import matching, reconciliation, service
from tracker.models import Commission
from tracker.returns.builder import build_return

INVOICES = ("15/05/2025", "15/08/2025", "15/11/2025", "15/02/2026")


@pytest.fixture
def split_year(make):
    """2025-26 with a core line and an SVD line, each profiled to its budget, and a provider."""
    year = make.year("2025-26")
    core = make.stream("Home Office VRU core grant")
    svd = make.stream("Serious Violence Duty", claim_basis="defrayed")
    make.allocation(year=year, stream=core, pence=200_000_00)
    make.allocation(year=year, stream=svd, pence=100_000_00)
    services = make.category("Commissioned services")
    strand = make.strand("Serious Youth Violence")
    core_line = make.budget_line(year=year, stream=core, category=services, strand=strand, amount_pence=200_000_00,
                                 profile=(50_000_00,) * 4, description="Core services")
    svd_line = make.budget_line(year=year, stream=svd, category=services, strand=strand, amount_pence=100_000_00,
                                profile=(25_000_00,) * 4, description="SVD services")
    provider = make.provider("Safer Streets Kent")
    db.session.commit()
    return {"year": year, "core": core_line, "svd": svd_line, "provider": provider, "strand": strand,
            "line": core_line}


def enter_split_contract(client, auth, setup) -> Commission:
    """The contract through the commission form: two shares, on two streams' lines."""
    auth.login("manager")
    data = form_data(setup, reference="VRU-25-200", value_pence="100,000.00", status="live", po_number="PO-SPLIT")
    data.update({
        "shares-0-amount": "60,000.00",
        "shares-1-year_label": "2025-26", "shares-1-funding_stream_id": str(setup["svd"].funding_stream_id),
        "shares-1-budget_line_id": str(setup["svd"].id), "shares-1-amount": "40,000.00",
    })
    response = client.post("/commissions/new", data=data)
    assert response.status_code == 303, response.text
    client.post("/sign-out")
    return db.session.query(Commission).filter_by(reference="VRU-25-200").one()


def import_invoices(account_codes=("", "", "", "")) -> None:
    """Four £25,000.00 invoices on the contract's PO, through the ledger import (preview, then commit)."""
    head = "Transaction Ref,Posting Date,Supplier Name,PO No,Account Code,Narrative,Net\n"
    rows = [f"INV-{i},{day},Safer Streets Kent,PO-SPLIT,{code},Mentoring,25000.00"
            for i, (day, code) in enumerate(zip(INVOICES, account_codes), start=1)]
    draft = draft_of("ledger.csv", data=(head + "\n".join(rows) + "\n").encode())
    assert service.preview(draft)["counts"]["add"] == 4
    assert service.commit(draft).status == "committed"
    db.session.commit()


def pence(text: str) -> int:
    negative = text.startswith("-")
    pounds, _, p = text.lstrip("-").replace(",", "").partition(".")
    value = int(pounds) * 100 + int(p or 0)
    return -value if negative else value


def budget_download(client, auth) -> dict[str, dict]:
    auth.login("viewer")
    text = client.get("/exports/budget.csv?year=2025-26&quarter=4").data.decode("utf-8-sig")
    client.post("/sign-out")
    return {r["Budget line"]: r for r in csv.DictReader(io.StringIO(text))}


def return_services(year) -> list[dict]:
    table = build_return(year, 4).table("Commissioned services")
    keys = [c.key for c in table.columns]
    return [dict(zip(keys, r)) for r in table.rows]


def claimable(year, stream_name: str) -> int:
    return next(sc for sc in year_claims(year, today=date(2026, 4, 20)) if sc.stream.name == stream_name).total("claimable")


def test_an_uncoded_split_contract_is_paid_60_40_on_every_surface(client, auth, split_year):
    year = split_year["year"]
    contract = enter_split_contract(client, auth, split_year)
    import_invoices()

    rows = budget_download(client, auth)
    core, svd = rows["Core services"], rows["SVD services"]
    assert (pence(core["Actual to date"]), pence(core["Outstanding commitment"])) == (60_000_00, 0)
    assert (pence(svd["Actual to date"]), pence(svd["Outstanding commitment"])) == (40_000_00, 0)
    assert (pence(core["Committed"]), pence(svd["Committed"])) == (60_000_00, 40_000_00)
    # The contract's forecast: its actual plus what is outstanding on it, no more than its value.
    yf = figures.year_figures(year, 4)
    mine = [s for s in yf.shares if s.share.commission_id == contract.id]
    assert sum(s.paid_to_date + s.outstanding for s in mine) == 100_000_00
    assert "Not on a budget line" not in rows

    services = {r["stream"]: r for r in return_services(year)}
    assert (services["Home Office VRU core grant"]["paid_to_date"], services["Home Office VRU core grant"]["remaining"]) \
        == (60_000_00, 0)
    assert (services["Serious Violence Duty"]["paid_to_date"], services["Serious Violence Duty"]["remaining"]) \
        == (40_000_00, 0)

    assert claimable(year, "Serious Violence Duty") == 40_000_00
    assert claimable(year, "Home Office VRU core grant") == 60_000_00

    # The contract's page shows what each share was paid, and the claim schedule which part of a line is SVD's.
    auth.login("finance")
    page = client.get(f"/commissions/{contract.id}").text
    assert "£60,000.00" in page and "£40,000.00" in page
    grid = client.get(f"/funding/years/{year.id}/claims.xlsx")
    assert grid.status_code == 200
    values = [v for row in load_workbook(io.BytesIO(grid.data)).active.iter_rows(values_only=True) for v in row]
    assert 10000 in values  # SVD's quarterly £10,000.00 (40% of each £25,000.00 invoice)

    # Reconciliation and the unmatched lines page show how the contract's spend was apportioned; the stream table
    # puts each part in its stream and still balances.
    for url in ("/imports/reconciliation?year=2025-26", "/imports/unmatched"):
        text = client.get(url).text
        assert 'id="apportioned"' in text and "VRU-25-200" in text, url
        assert "£60,000.00" in text and "£40,000.00" in text, url
    r = reconciliation.reconcile(year)
    assert r.balances
    assert {row.name: row.commission for row in r.streams} == {
        "Home Office VRU core grant": 60_000_00, "Serious Violence Duty": 40_000_00}
    assert [(s.stream, s.paid) for s in r.apportioned[0].shares] == [
        ("Home Office VRU core grant", 60_000_00), ("Serious Violence Duty", 40_000_00)]


def test_a_line_coded_to_one_share_goes_there_and_the_rest_is_apportioned(client, auth, split_year):
    year = split_year["year"]
    enter_split_contract(client, auth, split_year)
    matching.add_account_rule("SVD01", split_year["svd"])  # the ledger's coding: account SVD01 is the SVD line
    db.session.commit()
    import_invoices(("", "SVD01", "", ""))

    rows = budget_download(client, auth)
    assert pence(rows["Core services"]["Actual to date"]) == 45_000_00
    assert pence(rows["SVD services"]["Actual to date"]) == 55_000_00
    services = {r["stream"]: r["paid_to_date"] for r in return_services(year)}
    assert services == {"Home Office VRU core grant": 45_000_00, "Serious Violence Duty": 55_000_00}
    assert claimable(year, "Serious Violence Duty") == 55_000_00


def test_apportioning_gives_the_rounding_to_the_largest_remainder():
    assert figures.apportion(25_000_00, [60_000_00, 40_000_00]) == [15_000_00, 10_000_00]
    assert figures.apportion(100, [1, 1, 1]) == [34, 33, 33]
    assert figures.apportion(-100, [1, 1, 1]) == [-34, -33, -33]
    assert figures.apportion(1, [2, 1]) == [1, 0]
    assert figures.apportion(5, [0, 0]) == [3, 2]  # shares of nothing: equal parts


@settings(deadline=None)  # these machines are shared: a slow example is not a failure
@given(amount=st.integers(-10**11, 10**11), weights=st.lists(st.integers(0, 10**10), min_size=1, max_size=6))
def test_apportioned_parts_always_add_up_to_the_line(amount, weights):
    parts = figures.apportion(amount, weights)
    assert sum(parts) == amount
    total = sum(weights) or len(weights)
    exact = [Fraction(amount * (w if sum(weights) else 1), total) for w in weights]
    assert all(abs(p - e) < 1 for p, e in zip(parts, exact))


def test_a_held_line_on_a_split_contract_counts_on_neither_share(client, auth, split_year, make):
    """A line matched by the rules but held (here: dated before the contract starts) is on no contract until finance
    confirms it, on every surface that apportions: the budget, the claim schedule and the reconciliation."""
    year = split_year["year"]
    contract = enter_split_contract(client, auth, split_year)
    import_invoices()
    make.ledger_line(posting_date=date(2025, 6, 1), net_pence=5_000_00, commission=contract, year=year,
                     held_reason="outside_dates", reference="HELD-1")
    db.session.commit()
    yf = figures.year_figures(year, 4)
    assert sum(s.paid_to_date for s in yf.shares if s.share.commission_id == contract.id) == 100_000_00
    assert yf.not_on_a_line.actual_to_date == 5_000_00
    assert claimable(year, "Serious Violence Duty") == 40_000_00
    r = reconciliation.reconcile(year)
    assert r.balances and [a.commission.reference for a in r.apportioned] == ["VRU-25-200"]
    assert figures.paid_by_share(contract.id)[(year.id, split_year["svd"].id)] == 40_000_00
