"""The issue check's red lines: a line is explained when the notes name its description, category, strand or
stream (case and punctuation aside), and only the five largest unexplained lines are named, the rest counted."""
from __future__ import annotations

from types import SimpleNamespace

from tracker.figures import Figures
from tracker.returns.service import check_before_issue, unexplained_red_lines


def _line(description, category="Commissioned services", strand="Cross-cutting", stream="Core grant",
          variance=0, rag="R"):
    line = SimpleNamespace(description=description, category=SimpleNamespace(name=category),
                           strand=SimpleNamespace(name=strand), funding_stream=SimpleNamespace(name=stream))
    # A line's variance is its forecast less its budget: a budget of 0 and this much outstanding gives it.
    f = Figures(name=description, budget=0, outstanding=variance, rag=rag)
    return line, f


def test_a_line_is_explained_by_its_description_category_strand_or_stream_in_other_case_and_punctuation():
    pairs = [_line("Mentoring – schools", variance=100), _line("Team", category="Staffing", variance=200),
             _line("Night safety", strand="Sexual Violence", variance=300),
             _line("Panel", stream="Young Futures", variance=400), _line("Unnamed", variance=500),
             _line("Green line", rag="G", variance=900)]
    notes = ("MENTORING, schools: slow start. The staffing overspend is agency cover; sexual-violence work "
             "is behind. (young   futures) panel met late.")
    shown, more = unexplained_red_lines(pairs, notes)
    # "sexual-violence" names the strand "Sexual Violence"; a green line is never listed.
    assert [f.name for _, f in shown] == ["Unnamed"] and more == 0


def test_whole_words_only_so_a_fragment_does_not_explain_a_line():
    pairs = [_line("Team", category="Staffing", strand="Serious Youth Violence", variance=100)]
    shown, _ = unexplained_red_lines(pairs, "Staff were away; youth work paused; the teams met.")
    assert [f.name for _, f in shown] == ["Team"]


def test_at_most_the_five_largest_unexplained_lines_are_named_and_the_rest_counted():
    pairs = [_line(f"Line {n}", variance=v) for n, v in enumerate([10, -700, 30, 400, -50, 600, 20, 800, 5])]
    shown, more = unexplained_red_lines(pairs, "Nothing relevant here.")
    # Largest by size either way: an underspend of £7 is larger than an overspend of £6.
    assert [f.name for _, f in shown] == ["Line 7", "Line 1", "Line 5", "Line 3", "Line 4"] and more == 4


def test_the_check_names_five_and_counts_the_rest(make):
    year, stream = make.year("2025-26"), make.stream("Core grant")
    strand = make.strand("Cross-cutting")
    for n in range(7):
        # Budgets with a Q1-Q4 profile and no spend: every line is far behind profile, so red at Q4.
        make.budget_line(year, stream, make.category(f"Category {n}"), strand, (n + 1) * 1_000_00,
                         ((n + 1) * 250_00,) * 4, description=f"Line {n}")
    check = check_before_issue(year, 4)
    [warning] = [w for w in check.warnings if w.startswith("Red budget lines")]
    for n in (6, 5, 4, 3, 2):
        assert f"Line {n} (Core grant" in warning
    assert "Line 1 (" not in warning and "Line 0 (" not in warning
    assert warning.endswith("and 2 more red lines not mentioned.")


def test_issued_times_on_the_returns_pages_are_uk_local_with_no_utc(make, client, auth):
    from datetime import datetime

    from tracker.extensions import db
    from tracker.models import PccReturn

    year = make.year("2025-26")
    db.session.add(PccReturn(funding_year=year, quarter=1, version=1, status="issued",
                             issued_at=datetime(2025, 7, 28, 9, 5), stored_path="returns/x.xlsx", sha256="0" * 64))
    db.session.commit()
    auth.login("viewer")
    page = client.get("/returns/").text
    assert "28/07/2025 10:05" in page and "UTC" not in page
