"""The return's Outputs table from delivery monitoring's measures: worked out by hand for 2025-26 Q2 on the
small data set, the same on the preview page and in the workbook, and a fixed number of queries."""
from __future__ import annotations

import io

import openpyxl
import pytest

from tracker.extensions import db
from tracker.returns.builder import build_return
from tracker.returns.workbook import HEADER_ROW, workbook_bytes

# Default thresholds: amber from 10% short of target, red from 25% short.
EXPECTED_Q2 = [
    # Q1 12 + Q2 15 = 27 against 10 + 20 = 30: 10% short, amber. Q3's 99 is after the quarter: left out.
    ["CYP engaged", "VRU-A-001", 20, 15, 30, 27, "A"],
    # Q2 7 against 10: 30% short, red.
    ["CYP engaged", "VRU-A-002", 10, 7, 10, 7, "R"],
    # Nothing recorded yet: blank actuals and no RAG.
    ["CYP engaged", "VRU-A-003", 5, None, 5, None, None],
    ["Sessions delivered", "VRU-A-002", 8, 8, 8, 8, "G"],
]


@pytest.fixture
def outputs(small, make):
    cyp = make.metric("CYP engaged", sort_order=1)
    sessions = make.metric("Sessions delivered", unit="sessions", sort_order=2)
    m1 = make.measure(small.c1, cyp, targets=(10, 20, 30, 40))
    for quarter, value in ((1, 12), (2, 15), (3, 99)):
        make.measure_actual(m1, quarter=quarter, value=value)
    make.measure_actual(make.measure(small.c2, cyp, targets=(0, 10, 0, 0)), quarter=2, value=7)
    make.measure(small.c3, cyp, targets=(0, 5, 5, 5))
    make.measure_actual(make.measure(small.c2, sessions, targets=(0, 8, 8, 8)), quarter=2, value=8)
    # Another year's commission is not in this year's return.
    other = make.commission("VRU-Z-001", year=make.year("2024-25"))
    make.measure_actual(make.measure(other, cyp), quarter=2, value=1)
    db.session.commit()
    return small


def test_outputs_rows_to_the_unit(outputs):
    table = build_return(outputs.year, 2).table("Outputs")
    assert [c.heading for c in table.columns] == ["Output", "Commissioned service", "Target this quarter",
                                                  "This quarter", "Target to date", "To date", "RAG to date"]
    assert table.rows == EXPECTED_Q2


def test_q1_and_q4(outputs):
    q1 = {(r[0], r[1]): r[2:] for r in build_return(outputs.year, 1).table("Outputs").rows}
    assert q1[("CYP engaged", "VRU-A-001")] == [10, 12, 10, 12, "G"]
    assert q1[("CYP engaged", "VRU-A-002")] == [0, None, 0, None, None]
    q4 = {(r[0], r[1]): r[2:] for r in build_return(outputs.year, 4).table("Outputs").rows}
    assert q4[("CYP engaged", "VRU-A-001")] == [40, None, 100, 126, "G"]


def test_the_workbook_sheet_holds_the_same_rows(outputs):
    ws = openpyxl.load_workbook(io.BytesIO(workbook_bytes(build_return(outputs.year, 2))))["Outputs"]
    rows = [list(r) for r in ws.iter_rows(min_row=HEADER_ROW + 2, max_row=HEADER_ROW + 1 + len(EXPECTED_Q2),
                                          max_col=7, values_only=True)]
    words = {"A": "Amber", "R": "Red", "G": "Green", None: None}
    assert rows == [r[:6] + [words[r[6]]] for r in EXPECTED_Q2]


def test_the_preview_shows_them(outputs, client, auth):
    auth.login("finance")  # (viewers see only issued returns)
    html = client.get("/returns/prepare?year=2025-26&quarter=2").text
    section = html[html.index("<h2>Outputs</h2>"):]
    section = section[:section.index("</table>")]
    assert "Sessions delivered" in section and "VRU-A-003" in section and "VRU-Z-001" not in section
    assert '<span class="tag tag--r">Red</span>' in section and '<span class="tag tag--a">Amber</span>' in section


def test_fixed_number_of_queries(outputs, make, count_queries):
    with count_queries() as few:
        build_return(outputs.year, 2)
    metric = make.metric("Hours of delivery")
    for n in range(10):
        c = make.commission(f"VRU-B-{n:03d}", outputs.l1, value_pence=1_000_00)
        make.measure_actual(make.measure(c, metric), quarter=1, value=n)
    db.session.commit()
    db.session.expire_all()
    with count_queries() as many:
        rows = build_return(outputs.year, 2).table("Outputs").rows
    assert len(rows) == len(EXPECTED_Q2) + 10 and many.count == few.count
