"""Viewers (the PCC office) never see a return before it is issued: not its figures, narrative or file, on the
full page, the HTMX fragment or by guessing URLs; once issued they can download it, and a correction being
drafted stays hidden. (tests/returns/test_pages.py covers the basic draft/issued download rule.)"""
from __future__ import annotations

from tests.returns.conftest import build_small
from tracker.extensions import db
from tracker.returns import service

PAGE = "/returns/?year=2025-26&quarter=2"
DRAFT_FIGURE = "£26,099.85"  # a figure of the Q2 draft (see tests/returns/test_pages.py)


def test_viewer_never_sees_a_draft_and_downloads_issued_ones(client, auth, make):
    small = build_small(make)
    finance = make.user(role="finance")
    service.save_notes(small.year, 2, "Underspend risk: DRAFT ONLY", finance)
    draft = service.get_draft(small.year, 2)
    db.session.commit()

    auth.login("viewer")
    for headers in ({}, {"HX-Request": "true"}):
        page = client.get(PAGE, headers=headers)
        assert page.status_code == 200
        for secret in (DRAFT_FIGURE, "DRAFT ONLY", "draft.xlsx", "/notes", "/issue"):
            assert secret not in page.text, (secret, headers)
    for quarter in (1, 2, 3, 4):
        assert client.get(f"/returns/2025-26/q{quarter}/draft.xlsx").status_code == 403
    assert client.get(f"/returns/issued/{draft.id}.xlsx").status_code == 404

    service.issue(small.year, 2, finance)
    db.session.commit()
    issued = client.get(f"/returns/issued/{draft.id}.xlsx")
    assert issued.status_code == 200 and issued.data[:2] == b"PK"
    assert "attachment" in issued.headers["Content-Disposition"]

    # A correction being drafted after the issue: its notes stay hidden, v1 stays downloadable.
    service.save_notes(small.year, 2, "Correction: NOT YET ISSUED", finance)
    correction = service.get_draft(small.year, 2)
    db.session.commit()
    assert correction.id != draft.id
    page = client.get(PAGE).text
    assert "NOT YET ISSUED" not in page and f"/returns/issued/{draft.id}.xlsx" in page
    assert client.get(f"/returns/issued/{correction.id}.xlsx").status_code == 404
    assert client.get("/returns/2025-26/q2/draft.xlsx").status_code == 403
