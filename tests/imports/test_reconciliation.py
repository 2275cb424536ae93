"""The ledger reconciliation: ledger total = on a commission + on a budget line only + unassigned, per stream and
per account, for a year or a quarter; each import against what it recorded; downloadable; bad addresses are 400."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from tests.imports.test_pipeline import csv_draft, ledger_csv
from tracker.extensions import db
from tracker.imports import reconciliation, service


@pytest.fixture
def ledger(app, make):
    year = make.year("2025-26", status="open")
    core = make.stream("Core grant")
    other = make.stream("Serious violence duty")
    core_line = make.budget_line(year=year, stream=core)
    duty_line = make.budget_line(year=year, stream=other, category=make.category("Staff"))
    c = make.commission("C1", budget_line=core_line)
    nowhere = make.commission("C2", shares=[], year=year)  # no share in the year: its spend is on no budget line
    make.ledger_line(posting_date=date(2025, 5, 1), net_pence=1_000_00, commission=c, account_code="5100")
    make.ledger_line(posting_date=date(2025, 8, 1), net_pence=-100_00, commission=c, account_code="5100")
    make.ledger_line(posting_date=date(2025, 5, 2), net_pence=300_00, commission=nowhere,
                                  account_code="5100")
    make.ledger_line(posting_date=date(2025, 6, 1), net_pence=2_000_00, budget_line=duty_line, account_code="1000")
    make.ledger_line(posting_date=date(2025, 6, 2), net_pence=45_67, account_code="")
    make.ledger_line(posting_date=date(2026, 4, 2), net_pence=999_00)  # another year
    db.session.commit()
    return year


def test_the_year_balances_per_stream_and_account(ledger):
    r = reconciliation.reconcile(ledger)
    t = r.total
    assert (t.commission, t.line_only, t.unassigned, t.total, t.lines) == (1_200_00, 2_000_00, 45_67, 3_245_67, 5)
    assert [(s.name, s.commission, s.line_only, s.unassigned) for s in r.streams] == [
        ("Core grant", 900_00, 0, 0), ("Serious violence duty", 0, 2_000_00, 0),
        ("Not on a budget line", 300_00, 0, 45_67)]
    assert [(a.name, a.total) for a in r.accounts] == [("(no account code)", 45_67), ("1000", 2_000_00),
                                                       ("5100", 1_200_00)]
    assert r.balances


def test_a_quarter_counts_only_its_own_dates(ledger):
    r = reconciliation.reconcile(ledger, 2)
    assert (r.total.commission, r.total.total, r.total.lines) == (-100_00, -100_00, 1)
    assert r.title.startswith("2025-26 Q2")


def test_each_import_is_checked_against_what_it_recorded(app, make):
    make.year("2025-26", status="open")
    db.session.commit()
    kept = service.commit(csv_draft(ledger_csv("T1,01/05/2025,S1,Acme,,Rent,100.00", "T2,02/05/2025,S1,Acme,,Rent,0.50")))
    gone = service.commit(csv_draft(ledger_csv("T3,01/06/2025,S1,Acme,,Rent,7.00"), "june.csv"))
    service.withdraw(gone)
    db.session.commit()
    r = reconciliation.reconcile(reconciliation.choose({"year": "2025-26", "quarter": ""})[0])
    checks = {c.batch.id: c for c in r.imports}
    k, g = checks[kept.id], checks[gone.id]
    assert (k.recorded_lines, k.recorded_pence, k.lines_now, k.pence_now, k.difference) == (2, 100_50, 2, 100_50, 0)
    assert (g.recorded_lines, g.recorded_pence, g.lines_now, g.pence_now, g.difference) == (1, 7_00, 0, 0, 0)
    # A line deleted behind the tracker's back shows as a difference.
    from tracker.models import LedgerTransaction

    db.session.execute(LedgerTransaction.__table__.delete().where(LedgerTransaction.reference == "T2"))
    db.session.commit()
    k = {c.batch.id: c for c in reconciliation.reconcile(r.year).imports}[kept.id]
    assert k.difference == -50


def test_the_page_and_the_download_agree(ledger, client, auth):
    auth.login("viewer")
    page = client.get("/imports/reconciliation?year=2025-26")
    assert page.status_code == 200 and "Balances to the penny" in page.text and "£3,245.67" in page.text
    download = client.get("/imports/reconciliation.csv?year=2025-26&quarter=")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.data.decode("utf-8-sig"))))
    assert rows[0][:6] == ["Section", "Item", "On a commission", "On a budget line only", "Unassigned", "Total"]
    assert rows[1][:2] == ["Ledger", "2025-26, the whole year"]
    assert rows[1][2:7] == ["1200.00", "2000.00", "45.67", "3245.67", "5"] and rows[1][9] == "balances"
    stream_total = [r for r in rows if r[0] == "Funding stream" and r[1] == "Total"][0]
    assert stream_total[5] == "3245.67"
    assert client.get("/imports/reconciliation.xlsx?year=2025-26&quarter=1").status_code == 200


@pytest.mark.parametrize("query, status, message", [
    ("year=2025", 400, "There is no funding year 2025."), ("year=2030-31", 404, "There is no funding year 2030-31."),
    ("year=2025-26&quarter=5", 400, "choose 1, 2, 3 or 4"), ("quarter=x", 400, "choose 1, 2, 3 or 4"),
])
def test_bad_addresses_are_refused_with_a_message(ledger, client, auth, query, status, message):
    auth.login("finance")
    for url in ("/imports/reconciliation", "/imports/reconciliation.csv"):
        response = client.get(f"{url}?{query}")
        assert response.status_code == status and message in response.text


def test_the_report_runs_a_fixed_number_of_queries(ledger, make, client, auth, count_queries):
    auth.login("finance")
    counts = []
    for n in (1, 30):
        for i in range(n):
            make.ledger_line(posting_date=date(2025, 7, 1), account_code=f"A{n}-{i}", year=ledger)
        db.session.commit()
        with count_queries() as q:
            assert client.get("/imports/reconciliation?year=2025-26").status_code == 200
        counts.append(q.count)
    assert counts[0] == counts[1]
