"""What every route shares from tracker/web.py: answering a successful POST, and errors for HTMX."""
from __future__ import annotations

from tracker.errors import render_error
from tracker.web import see_other


def test_a_successful_post_is_answered_with_see_other(app):
    with app.test_request_context("/", method="POST"):
        response = see_other("/commissions/7")
    assert (response.status_code, response.location) == (303, "/commissions/7")


def test_htmx_gets_a_whole_page_redirect_with_nothing_to_swap(app):
    with app.test_request_context("/", method="POST", headers={"HX-Request": "true"}):
        response = see_other("/commissions/7")
    assert (response.status_code, response.headers["HX-Redirect"], response.get_data()) == (204, "/commissions/7", b"")


def test_an_htmx_history_restore_gets_the_whole_error_page(app):
    with app.test_request_context("/", headers={"HX-Request": "true"}):
        fragment, status = render_error(404)
    with app.test_request_context("/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}):
        page, _ = render_error(404)
    assert status == 404 and "<html" not in fragment and "<html" in page


def test_an_htmx_redirect_to_the_same_page_drops_the_fragment_so_the_page_reloads(app):
    from tracker.web import see_other

    headers = {"HX-Request": "true", "HX-Current-URL": "http://localhost/commissions/4"}
    with app.test_request_context("/commissions/4/variations", method="POST", headers=headers):
        assert see_other("/commissions/4#variations").headers["HX-Redirect"] == "/commissions/4"
        assert see_other("/commissions/5#variations").headers["HX-Redirect"] == "/commissions/5#variations"
    with app.test_request_context("/commissions/4/variations", method="POST"):
        assert see_other("/commissions/4#variations").location.endswith("/commissions/4#variations")


def test_times_show_as_uk_local_time_in_summer_and_winter():
    """Stored in UTC; shown as the office clock: 12:00 UTC in July is 13:00 BST, in January 12:00 GMT."""
    from datetime import datetime, timezone

    from tracker.web import uk_datetime

    assert uk_datetime(datetime(2025, 7, 31, 12, 0)) == "31/07/2025 13:00"
    assert uk_datetime(datetime(2026, 1, 15, 12, 0)) == "15/01/2026 12:00"
    assert uk_datetime(datetime(2025, 10, 25, 23, 30, tzinfo=timezone.utc)) == "26/10/2025 00:30"  # the date moves too
    assert uk_datetime(None, "—") == "—"
