"""One truth: the home page, the budget page, the budget download and the return show the same figures.

A property test builds random years (streams, allocations, lines with profiles, contracts split across lines
and years, some terminated with effect from a day in the year, some varied through the service, ledger lines in
every quarter (invoices, accruals, reversals, credits agreed or to be re-invoiced), some on no line, some in
adjustment period 13) and checks, for every quarter, that the four agree to the penny for every stream,
strand and total, and that every total is the sum of its rows. Then the pages' query counts are checked to stay the same as the data grows.
"""
from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from datetime import date, timedelta

from flask import template_rendered
from werkzeug.exceptions import HTTPException
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import PASSWORD, _empty_all_tables
from tests.factories import Factories
from tracker import figures
from tracker.extensions import db
from tracker.commissions.service import Conflict, FieldErrors, NotAllowed, add_variation
from tracker.models import ContractEvent
from tracker.models.commissions import COMMISSION_STATUSES
from tracker.periods import quarter_in_progress
from tracker.returns.builder import build_return

YEAR_START = date(2025, 4, 1)

line_st = st.fixed_dictionaries({
    "stream": st.integers(0, 2), "category": st.integers(0, 2), "strand": st.integers(0, 1),
    "labour": st.booleans(), "profile": st.lists(st.integers(0, 50_000_00), min_size=4, max_size=4),
})
contract_st = st.fixed_dictionaries({
    "status": st.sampled_from(COMMISSION_STATUSES),
    "shares": st.lists(st.tuples(st.integers(-1, 7), st.integers(1, 90_000_00)), min_size=1, max_size=3),
    "later": st.integers(0, 20_000_00),
    # Terminated with effect from this day of the year (None: not terminated), whenever it was recorded.
    "terminated_on": st.one_of(st.none(), st.integers(0, 364)),
    # A variation agreed on this day of the year changing the value by this much (None: not varied).
    "varied": st.one_of(st.none(), st.tuples(st.integers(0, 364), st.integers(-5_000_00, 20_000_00))),
})
ledger_st = st.fixed_dictionaries({
    "day": st.integers(0, 364), "pence": st.integers(-5_000_00, 60_000_00), "line": st.integers(-1, 7),
    "contract": st.integers(-1, 7), "period13": st.booleans(),
    # An invoice, an accrual, an accrual reversal, or a credit (agreed, or to be re-invoiced).
    "kind": st.sampled_from(("invoice", "invoice", "accrual", "reversal", "credit", "reinvoiced credit")),
})
year_st = st.fixed_dictionaries({
    "allocations": st.lists(st.one_of(st.none(), st.integers(0, 900_000_00)), min_size=3, max_size=3),
    "lines": st.lists(line_st, max_size=8),
    "contracts": st.lists(contract_st, max_size=8),
    "ledger": st.lists(ledger_st, max_size=20),
})


def build(spec) -> object:
    make = Factories(db.session)
    year = make.year("2025-26")
    streams = [make.stream(name) for name in ("Core grant", "Serious Violence Duty", "Young Futures")]
    for stream, pence in zip(streams, spec["allocations"]):
        if pence is not None:
            make.allocation(year=year, stream=stream, pence=pence)
    categories = [make.category(name, labour=i == 0, sort_order=i) for i, name in enumerate(("Staffing", "Services", "Evaluation"))]
    strands = [make.strand(name) for name in ("Sexual Violence", "Serious Youth Violence")]
    lines, keys = [], set()
    for i, ls in enumerate(spec["lines"]):
        key = (ls["stream"], ls["category"], ls["strand"])
        if key in keys:
            continue  # a year has one line per stream, category and strand
        keys.add(key)
        lines.append(make.budget_line(year=year, stream=streams[ls["stream"]], category=categories[ls["category"]],
                                      strand=strands[ls["strand"]], labour=ls["labour"], amount_pence=sum(ls["profile"]),
                                      profile=tuple(ls["profile"]), description=f"Line {i}"))
    contracts = []
    for cs in spec["contracts"]:
        shares = [(year, lines[k] if 0 <= k < len(lines) else None, pence) for k, pence in cs["shares"]]
        # No two shares of one contract on one line (the form refuses that): put such a share with the first.
        merged: dict = {}
        for y, line, pence in shares:
            merged[line] = merged.get(line, 0) + pence
        shares = [(year, line, pence) for line, pence in merged.items()]
        if cs["later"]:
            shares.append(("2026-27", None, cs["later"]))
        contracts.append(make.commission(shares=shares, value_pence=sum(p for _, _, p in shares), year=year,
                                         status=cs["status"], start_date=YEAR_START, end_date=date(2027, 3, 31)))
    for cs, c in zip(spec["contracts"], contracts):
        if cs["terminated_on"] is not None and cs["status"] != "terminated":
            db.session.add(ContractEvent(commission_id=c.id, kind="terminated", from_status=c.status,
                                         effective_date=YEAR_START + timedelta(days=cs["terminated_on"])))
            c.status = "terminated"
    db.session.commit()  # a refused variation rolls back to here
    for cs, c in zip(spec["contracts"], contracts):
        if cs["varied"] is not None:
            day, change = cs["varied"]
            try:  # through the service, as the form does; a variation the rules refuse is simply not made
                add_variation(c, YEAR_START + timedelta(days=day), "Property test", change, None, c.version)
            except (FieldErrors, NotAllowed, Conflict, HTTPException):
                db.session.rollback()
    for ls in spec["ledger"]:
        day = YEAR_START + timedelta(days=ls["day"])
        fields = {"period": 13} if ls["period13"] and day.month == 3 else {}
        kind = ls["kind"]
        if kind.endswith("credit"):
            fields.update(transaction_type="credit", reinvoice=kind.startswith("reinvoiced"))
            ls = {**ls, "pence": -abs(ls["pence"]) or -1}
        else:
            fields["transaction_type"] = kind
        make.ledger_line(posting_date=day, net_pence=ls["pence"], year=year,
                         budget_line=lines[ls["line"]] if 0 <= ls["line"] < len(lines) else None,
                         commission=contracts[ls["contract"]] if 0 <= ls["contract"] < len(contracts) else None,
                         **fields)
    db.session.commit()
    return year


@contextmanager
def captured(app):
    """The context each template was rendered with, by template name."""
    seen = {}

    def record(sender, template, context, **extra):
        seen.setdefault(template.name, context)

    template_rendered.connect(record, app)
    try:
        yield seen
    finally:
        template_rendered.disconnect(record, app)


MONEY = ("budget", "committed", "actual_to_date", "outstanding", "planned", "forecast", "variance")


def key_figures(f) -> tuple:
    return tuple(getattr(f, k) for k in MONEY) + (f.target, f.rag)


def pence(text: str) -> int:
    negative = text.startswith("-")
    pounds, _, p = text.lstrip("-").partition(".")
    value = int(pounds) * 100 + int(p or 0)
    return -value if negative else value


def assert_total_is_sum(rows, total):
    for k in MONEY:
        assert getattr(total, k) == sum(getattr(r, k) for r in rows), k
    assert total.target == sum(r.target for r in rows)
    assert total.actual_by_quarter == [sum(r.actual_by_quarter[i] for r in rows) for i in range(4)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(spec=year_st)
def test_home_budget_page_download_and_return_agree_to_the_penny(app, client, spec):
    db.session.remove()  # end the test's own transaction first: PostgreSQL's TRUNCATE would wait for it
    _empty_all_tables()
    year = build(spec)
    make = Factories(db.session)
    viewer = make.user(role="viewer", password=PASSWORD)
    db.session.commit()
    assert client.post("/sign-in", data={"email": viewer.email, "password": PASSWORD}).status_code == 302

    for quarter in (1, 2, 3, 4):
        yf = figures.year_figures(year, quarter)
        # Every total is the sum of its rows, in every table.
        assert_total_is_sum(figures.with_not_on_a_line(yf.streams, yf), yf.total)
        for rows in (figures.with_not_on_a_line(yf.strands, yf), figures.with_not_on_a_line(yf.categories, yf),
                     yf.line_rows()):
            total = figures.table_total(rows, quarter)
            assert_total_is_sum(rows, total)
            assert total.actual_to_date == yf.total.actual_to_date and total.forecast == yf.total.forecast
            assert total.committed == yf.total.committed

        # The budget page shows exactly these figures.
        with captured(app) as seen:
            assert client.get(f"/funding/budget?year=2025-26&quarter={quarter}").status_code == 200
        page = seen["funding/budget.html"]["page"]
        assert [key_figures(f) for f in page.streams] == [key_figures(f) for f in yf.streams]
        assert [key_figures(f) for f in page.strands] == [key_figures(f) for f in yf.strands]
        assert key_figures(page.total) == key_figures(yf.total)

        # The download: one row per line, the "Not on a budget line" row, and a Total row that adds up.
        text = client.get(f"/exports/budget.csv?year=2025-26&quarter={quarter}").data.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows[-1]["Funding stream"] == "Total"
        assert [pence(r["Forecast outturn"]) for r in rows[:-1]] == [f.forecast for f in yf.line_rows()]
        for heading, attr in (("Committed", "committed"), ("Actual to date", "actual_to_date"),
                              ("Forecast outturn", "forecast"), ("Outstanding commitment", "outstanding")):
            assert pence(rows[-1][heading]) == sum(pence(r[heading]) for r in rows[:-1]) == getattr(yf.total, attr)

        # The return: the same streams and total.
        data = build_return(year, quarter)
        summary = data.table("Summary by funding stream")
        keys = [c.key for c in summary.columns]
        by_name = {r[0]: dict(zip(keys, r)) for r in summary.rows}
        for f in figures.with_not_on_a_line(yf.streams, yf):
            row = by_name[f.name]
            assert (row["actual_to_date"], row["committed"], row["outstanding"], row["planned"], row["forecast"],
                    row["variance"], row["revised"], row["rag"]) == (
                f.actual_to_date, f.committed, f.outstanding, f.planned, f.forecast, f.variance, f.target, f.rag)
        totals = summary.totals[0].values
        assert (totals["actual_to_date"], totals["forecast"], totals["variance"], totals["committed"]) == (
            yf.total.actual_to_date, yf.total.forecast, yf.total.variance, yf.total.committed)
        category_total = data.table("Expenditure by category").totals[-1].values
        assert (category_total["actual_to_date"], category_total["forecast"], category_total["committed"]) == (
            yf.total.actual_to_date, yf.total.forecast, yf.total.committed)
        services = data.table("Commissioned services")
        assert services.totals[0].values["committed"] == yf.total.committed

    # The home page shows the year as at its reporting quarter (Q4 for a year that has ended).
    with captured(app) as seen:
        assert client.get("/?year=2025-26").status_code == 200
    home = seen["main/home.html"]["summary"]
    yf = figures.year_figures(year, quarter_in_progress(year.label, date.today()))
    assert key_figures(home.total) == key_figures(yf.total)
    assert [key_figures(f) for f in home.streams] == [key_figures(f) for f in yf.streams]
    client.post("/sign-out")


def _grow(make, year, n: int) -> None:
    """Add n of everything: streams, categories, lines, contracts and ledger lines."""
    for i in range(n):
        stream = make.stream(f"Stream {n}-{i}")
        make.allocation(year=year, stream=stream, pence=50_000_00)
        category = make.category(f"Category {n}-{i}")
        strand = make.strand(f"Strand {n}-{i}")
        line = make.budget_line(year=year, stream=stream, category=category, strand=strand)
        c = make.commission(budget_line=line, value_pence=9_000_00)
        make.commission(shares=[(year, line, 1_000_00), (year, None, 2_000_00)], value_pence=3_000_00)
        make.ledger_line(posting_date=date(2025, 5, 1), net_pence=100_00, commission=c)
        make.ledger_line(posting_date=date(2026, 3, 31), net_pence=50_00, budget_line=line, period=13)
        make.ledger_line(posting_date=date(2025, 9, 1), net_pence=7_00)


def test_query_counts_stay_the_same_as_the_year_grows(client, auth, make, count_queries):
    year = make.year("2025-26")
    _grow(make, year, 1)
    db.session.commit()
    auth.login("finance")
    urls = ["/?year=2025-26", "/funding/budget?year=2025-26&quarter=2", "/returns/prepare?year=2025-26&quarter=2",
            "/exports/budget.csv?year=2025-26&quarter=2", "/returns/2025-26/q2/draft.xlsx"]

    def counts():
        out = []
        for url in urls:
            with count_queries() as q:
                assert client.get(url).status_code == 200, url
            out.append(q.count)
        return out

    small = counts()
    _grow(make, year, 6)
    db.session.commit()
    assert counts() == small
