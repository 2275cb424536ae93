"""The return runs the same number of SQL statements however many streams, categories, lines and contracts the
year has: building it, issuing it, and the pages that show it (prepare, check and issue, the archive, the view)."""
from __future__ import annotations

from datetime import date

from tracker.extensions import db
from tracker.returns import service
from tracker.returns.builder import build_return


def grow(make, small, n: int) -> None:
    """``n`` more streams, each with its own category, strand, line, contract and spend."""
    for i in range(n):
        stream = make.stream(f"Extra stream {i}")
        make.allocation(small.year, stream, original_pence=10_000_00, revised_pence=10_000_00)
        line = make.budget_line(small.year, stream, make.category(f"Extra category {i}"), make.strand(f"Extra strand {i}"),
                                10_000_00, (2_500_00,) * 4, description=f"Extra line {i}")
        c = make.commission(f"VRU-X-{i:03d}", line, provider=make.provider(f"Extra provider {i}"), value_pence=5_000_00,
                            status="live", start_date=date(2025, 4, 1), end_date=date(2026, 3, 31))
        make.ledger_line(date(2025, 8, 1), 1_000_00, commission=c)
    db.session.commit()


def counts(small, client, count_queries) -> dict[str, int]:
    out = {}
    db.session.expire_all()
    with count_queries() as q:
        build_return(small.year, 2)
    out["build"] = q.count
    for name, url in (("prepare", "/returns/prepare?year=2025-26&quarter=2"), ("check", "/returns/2025-26/q2/issue"),
                      ("archive", "/returns/")):
        with count_queries() as q:
            assert client.get(url).status_code == 200
        out[name] = q.count
    return out


def test_query_counts_do_not_grow_with_the_year(small, make, client, auth, count_queries):
    finance = auth.login("finance")
    record = service.issue(small.year, 1, finance)
    db.session.commit()
    before = counts(small, client, count_queries)
    with count_queries() as q:
        assert client.get(f"/returns/issued/{record.id}").status_code == 200
    before["view"] = q.count
    grow(make, small, 6)
    record2 = service.issue(small.year, 3, finance)  # a second, bigger return
    db.session.commit()
    after = counts(small, client, count_queries)
    with count_queries() as q:
        assert client.get(f"/returns/issued/{record2.id}").status_code == 200
    after["view"] = q.count
    assert after == before


def test_issuing_runs_the_same_number_of_queries_however_big(small, make, count_queries):
    def issue_count(quarter):
        db.session.expire_all()
        with count_queries() as q:
            service.issue(small.year, quarter, None)
            db.session.commit()
        return q.count

    small_year = issue_count(1)
    grow(make, small, 6)
    assert issue_count(2) == small_year
