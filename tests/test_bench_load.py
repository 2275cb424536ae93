"""The load test's data check (bench/load.py) finds lost and doubled writes: proven on made-up logs, no server."""
from bench.load import DoublePost, Edit, Import, Race, Stored, check_data, check_races


def _edits():
    # Commission 7 starts at version 1; two changes saved (from 1 and from 2), one refused as a conflict.
    return [Edit(7, "end_date", "2027-01-05", 1, 200), Edit(7, "status", "live", 1, 409),
            Edit(7, "status", "ended", 2, 200)]


def test_a_consistent_log_passes():
    stored = {7: Stored(version=3, status="ended", end_date="2027-01-05", audit_changes=2)}
    imports = [Import(["R1", "R2"], committed=True), Import(["R3"], committed=False)]
    assert check_data({7: 1}, _edits(), stored, imports, {"R1": 1, "R2": 1}) == []


def test_a_lost_write_is_found():
    # The database kept the end date but not the later status change.
    stored = {7: Stored(version=2, status="approved", end_date="2027-01-05", audit_changes=1)}
    problems = check_data({7: 1}, _edits(), stored, [], {})
    assert any("version 2 after 2 successful changes" in p for p in problems)
    assert any("status is approved" in p for p in problems)
    assert any("1 audit records for 2" in p for p in problems)


def test_two_successes_from_one_version_are_a_lost_update():
    edits = [Edit(7, "end_date", "2027-01-05", 1, 200), Edit(7, "end_date", "2027-01-06", 1, 200)]
    stored = {7: Stored(version=3, status="live", end_date="2027-01-06", audit_changes=2)}
    assert any("saved over twice" in p for p in check_data({7: 1}, edits, stored, [], {}))


def test_missing_doubled_and_stray_import_rows_are_found():
    imports = [Import(["R1", "R2"], committed=True), Import(["R3"], committed=False)]
    problems = check_data({}, [], {}, imports, {"R1": 2, "R3": 1})
    assert "committed import row R1 is present 2 times (expected once)" in problems
    assert "committed import row R2 is present 0 times (expected once)" in problems
    assert "row R3 of an import that was not committed is present 1 times" in problems


def test_a_double_submit_committed_twice_is_found():
    imports = [Import(["R1"], committed=True, filename="a.csv", double=True),
               Import(["R2"], committed=True, filename="b.csv", double=True),
               Import(["R3"], committed=False, filename="c.csv")]
    ok = check_data({}, [], {}, imports, {"R1": 1, "R2": 1}, {"a.csv": 1, "b.csv": 1})
    assert ok == []
    problems = check_data({}, [], {}, imports, {"R1": 1, "R2": 1}, {"a.csv": 2, "b.csv": 1})
    assert problems == ["import a.csv (double submit) was committed 2 times (expected once)"]


def test_double_posts_and_races_that_held_report_zero():
    doubles = [DoublePost("P1", (303, 303))]
    races = [Race("spend-monthly", "2025-01", (303, 409, 409))]
    counts, problems = check_races(doubles, races, {"P1": 1}, {("spend-monthly", "2025-01"): 1}, 0)
    assert problems == []
    assert counts == {"double posts": 1, "doubled rows": 0, "races": 1, "lost updates": 0, "5xx": 0,
                      "orphan files": 0}


def test_a_doubled_row_a_second_transition_a_5xx_and_an_orphan_are_counted():
    doubles = [DoublePost("P1", (303, 303)), DoublePost("P2", (303, 303))]
    races = [Race("spend-monthly", "2025-01", (303, 303, 409)), Race("spend-monthly", "2025-02", (303, 500, 409))]
    counts, problems = check_races(doubles, races, {"P1": 2, "P2": 1},
                                   {("spend-monthly", "2025-01"): 2, ("spend-monthly", "2025-02"): 1}, 1)
    assert (counts["doubled rows"], counts["lost updates"], counts["5xx"], counts["orphan files"]) == (1, 1, 1, 1)
    assert "double-posted contribution P1 made 2 rows (answers [303, 303])" in problems
    assert any("race on spend-monthly 2025-01: 2 winner(s), 2 version(s)" in p for p in problems)
    assert any("race on spend-monthly 2025-02: answers [500]" in p for p in problems)
