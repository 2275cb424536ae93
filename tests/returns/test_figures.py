"""Every figure of the 2025-26 Q2 return on the small data set, against numbers worked out by hand.

Hand working (pence):
- L1 Core/Commissioned services: budget 60,000.00 (original 70,000.00), profile 15,000.00 a quarter.
  Actual Q1 6,000.00; Q2 6,000.00 - 500.25 credit = 5,499.75; Q3 6,000.00 is after the quarter (left out).
  Committed: C1 live 24,000.00 + C3 awarded 12,000.00 = 36,000.00 (C2 on L3 is only approved: 0).
- L2 Core/Staffing (labour): 30,000.00, 7,500.00 a quarter; actual Q1 7,000.00, Q2 7,600.10.
- L3 SVD/Commissioned services: 20,000.00, profile 0/10,000/5,000/5,000; actual Q2 1,234.56.
- 99.99 in Q1 is on no budget line.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from tracker.returns.builder import build_return


def rows_by_name(table):
    return {r[0]: dict(zip([c.key for c in table.columns], r)) for r in table.rows}


def test_summary_by_funding_stream_to_the_penny(small):
    data = build_return(small.year, 2)
    t = data.table("Summary by funding stream")
    rows = rows_by_name(t)
    quarterly = data.table("Quarterly profile and spend")
    by_quarter = rows_by_name(quarterly)
    core = rows["Core grant"]
    assert (core["original"], core["revised"], core["profile_to_date"]) == (100_000_00, 90_000_00, 45_000_00)
    assert [by_quarter["Core grant"][f"profile_q{q}"] for q in range(1, 5)] == [22_500_00] * 4
    assert [by_quarter["Core grant"][f"actual_q{q}"] for q in range(1, 5)] == [13_000_00, 13_099_85, None, None]
    assert core["movement"] is None  # no return issued yet
    assert core["actual_to_date"] == 26_099_85
    assert core["committed"] == 36_000_00
    assert core["forecast"] == 71_099_85  # 26,099.85 + Q3 and Q4 profile 45,000.00
    assert core["variance"] == -18_900_15  # against the revised allocation 90,000.00
    assert core["variance_percent"] == Decimal("-21.0")
    assert core["rag"] == "R"  # 42% behind a profile to date of 45,000.00

    svd = rows["Serious Violence Duty"]
    assert (svd["original"], svd["revised"]) == (20_000_00, 20_000_00)
    assert [by_quarter["Serious Violence Duty"][f"actual_q{q}"] for q in range(1, 3)] == [0, 1_234_56]
    assert (svd["actual_to_date"], svd["committed"], svd["forecast"]) == (1_234_56, 0, 11_234_56)
    assert svd["variance"] == -8_765_44
    assert svd["variance_percent"] == Decimal("-43.8")
    assert svd["rag"] == "R"

    loose = rows["Not on a budget line"]
    assert (by_quarter["Not on a budget line"]["actual_q1"], loose["actual_to_date"], loose["forecast"],
            loose["variance"]) == (99_99,) * 4
    assert loose["variance_percent"] is None

    (total,) = t.totals
    v = total.values
    assert (v["original"], v["revised"]) == (120_000_00, 110_000_00)
    (quarter_total,) = quarterly.totals
    q = quarter_total.values
    assert [q[f"profile_q{n}"] for n in range(1, 5)] == [22_500_00, 32_500_00, 27_500_00, 27_500_00]
    assert [q["actual_q1"], q["actual_q2"], q["actual_q3"], q["actual_to_date"]] == [13_099_99, 14_334_41, None, 27_434_40]
    assert v["actual_to_date"] == 27_434_40
    assert v["committed"] == 36_000_00
    assert v["forecast"] == 82_434_40
    assert v["variance"] == -27_565_60
    assert v["variance_percent"] == Decimal("-25.1")
    assert v["rag"] == "R"
    # The totals row is the sum of the rows, column by column.
    for key in ("original", "revised", "actual_to_date", "committed", "forecast", "variance"):
        assert v[key] == sum(r[key] for r in rows.values())


def test_expenditure_by_category_labour_and_non_labour(small):
    t = build_return(small.year, 2).table("Expenditure by category")
    assert [r[:2] for r in t.rows] == [["Staffing", "Labour"], ["Commissioned services", "Non-labour"],
                                       ["Not on a budget line", "Not assigned"]]
    rows = rows_by_name(t)
    staff = rows["Staffing"]
    assert (staff["original"], staff["revised"], staff["actual_to_date"]) == (30_000_00, 30_000_00, 14_600_10)
    assert (staff["forecast"], staff["variance"], staff["variance_percent"], staff["rag"]) == (
        29_600_10, -399_90, Decimal("-1.3"), "A")  # 2.67% behind profile: amber
    services = rows["Commissioned services"]
    assert (services["original"], services["revised"]) == (90_000_00, 80_000_00)
    assert (services["profile_to_date"], services["actual_to_date"]) == (40_000_00, 12_734_31)
    assert (services["committed"], services["forecast"], services["variance"]) == (36_000_00, 52_734_31, -27_265_69)
    assert services["variance_percent"] == Decimal("-34.1")
    labour, non_labour, total = t.totals
    assert labour.match == ("labour", "Labour") and labour.values["actual_to_date"] == 14_600_10
    assert non_labour.values["actual_to_date"] == 12_734_31
    # The same grand total as the summary: every penny of the ledger is on both sheets.
    assert (total.values["actual_to_date"], total.values["forecast"], total.values["variance"]) == (
        27_434_40, 82_434_40, -27_565_60)


def test_commissioned_services(small):
    t = build_return(small.year, 2).table("Commissioned services")
    rows = rows_by_name(t)
    a1 = rows["VRU-A-001"]
    assert (a1["service"], a1["provider"], a1["strand"], a1["stream"]) == (
        "Mentoring in schools", "Alpha CIC", "Serious Youth Violence", "Core grant")
    assert (a1["value"], a1["paid_quarter"], a1["paid_to_date"], a1["committed"], a1["remaining"]) == (
        24_000_00, 5_499_75, 11_499_75, 24_000_00, 12_500_25)
    assert (a1["start"], a1["end"], a1["status"]) == (date(2025, 4, 1), date(2026, 3, 31), "Live")
    a2 = rows["VRU-A-002"]
    assert (a2["paid_quarter"], a2["paid_to_date"], a2["committed"], a2["remaining"]) == (1_234_56, 1_234_56, 0, 6_765_44)
    a3 = rows["VRU-A-003"]
    assert (a3["paid_to_date"], a3["committed"], a3["remaining"], a3["status"]) == (0, 12_000_00, 12_000_00, "Awarded")
    assert (a1["stage"], a2["stage"], a3["stage"]) == ("Contracted", "Pipeline", "Contracted")
    contracted, pipeline, total = t.totals
    assert total.values == {"value": 44_000_00, "paid_quarter": 6_734_31, "paid_to_date": 12_734_31,
                            "committed": 36_000_00, "remaining": 31_265_69}
    # The pipeline (C2, approved) commits nothing; the contracted total is what is committed.
    assert (contracted.label, contracted.match) == ("Contracted total", ("stage", "Contracted"))
    assert contracted.values == {"value": 36_000_00, "paid_quarter": 5_499_75, "paid_to_date": 11_499_75,
                                 "committed": 36_000_00, "remaining": 24_500_25}
    assert pipeline.values == {"value": 8_000_00, "paid_quarter": 1_234_56, "paid_to_date": 1_234_56,
                               "committed": 0, "remaining": 6_765_44}


def test_q1_and_q3_returns_move_with_the_quarter(small):
    q1 = rows_by_name(build_return(small.year, 1).table("Commissioned services"))["VRU-A-001"]
    assert (q1["paid_quarter"], q1["paid_to_date"]) == (6_000_00, 6_000_00)
    q3 = rows_by_name(build_return(small.year, 3).table("Commissioned services"))["VRU-A-001"]
    assert (q3["paid_quarter"], q3["paid_to_date"], q3["remaining"]) == (6_000_00, 17_499_75, 6_500_25)


def test_milestones_due_to_date_and_outputs_placeholder(small):
    data = build_return(small.year, 2)
    m = data.table("Milestones")
    # (The deadlines area may also make milestones of its own for the year: only ours are checked here.)
    ours = [(r[0], r[1], r[4], r[6]) for r in m.rows if r[1] in ("Q1 return sent", "Evaluation plan", "Q3 return")]
    assert ours == [
        (date(2025, 7, 31), "Q1 return sent", "Done", "Emailed to the PCC office"),
        (date(2025, 9, 30), "Evaluation plan", "In progress", ""),
    ]
    assert all(r[0] <= date(2025, 9, 30) for r in m.rows)
    outputs = data.table("Outputs")
    assert outputs.rows == [] and "has outputs to report" in outputs.empty_message


def test_the_return_runs_a_fixed_number_of_queries(small, make, count_queries):
    with count_queries() as few:
        build_return(small.year, 2)
    for n in range(10):
        c = make.commission(f"VRU-B-{n:03d}", small.l1, value_pence=1_000_00)
        make.ledger_line(date(2025, 8, 1), 100_00, commission=c)
    from tracker.extensions import db

    db.session.commit()
    db.session.expire_all()
    with count_queries() as many:
        build_return(small.year, 2)
    assert many.count == few.count


def test_status_and_dates_are_as_at_the_quarter_end_and_a_terminated_contract_has_nothing_remaining(small, make):
    from tracker.extensions import db

    # After Q2 ended, C1 was cut short and terminated: the trail keeps the dates it had, its contract event the
    # day the termination took effect.
    from tracker.models import ContractEvent

    small.c1.status, small.c1.end_date = "terminated", date(2025, 12, 31)
    make.audit_event(realm="commissions", kind="change", object_type="Commission", object_id=small.c1.id,
                     summary="Terminated", before={"status": "live", "end_date": "2026-03-31"},
                     after={"status": "terminated", "end_date": "2025-12-31"})
    db.session.add(ContractEvent(commission_id=small.c1.id, kind="terminated", from_status="live",
                                 effective_date=date(2025, 11, 15)))
    db.session.commit()
    q2 = rows_by_name(build_return(small.year, 2).table("Commissioned services"))["VRU-A-001"]
    assert (q2["status"], q2["end"], q2["committed"], q2["remaining"], q2["stage"]) == (
        "Live", date(2026, 3, 31), 24_000_00, 12_500_25, "Contracted")
    # A quarter not yet over is as now: terminated shows what was paid and no remaining money.
    from tracker import figures

    terminated = figures.year_figures(small.year, 4, today=date(2025, 11, 1))
    share = next(s for s in terminated.shares if s.share.commission_id == small.c1.id)
    assert (share.status, share.committed, share.remaining) == ("terminated", share.paid_to_date, 0)
