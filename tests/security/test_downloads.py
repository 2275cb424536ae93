"""Every download is sent ``Cache-Control: private, no-store`` (issue 26: claim schedules and issued publications
were sent ``private, max-age=31536000, immutable``, although SECURITY.md promised no-store, and the claim
schedule's one address served version 2 where version 1 had been kept)."""
from __future__ import annotations

from tests.access import collect
from tests.test_access import _endpoints, _url
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db

# Downloads that must be among those walked, so the walk cannot pass by finding none.
EXPECTED = {"claims.schedule", "claims.submission_schedule", "claims.year_schedule", "procurement.publication_download",
            "procurement.publication_draft", "returns.download", "monitoring.download", "milestones.download"}
# Query strings a route needs to serve its file.
QUERIES = {"procurement.publication_draft": "?period=2025-05"}


def _issue_one_of_each(client) -> None:
    """An issued return, an issued publication and a kept document, each with id 1 (the demo has none)."""
    from tracker.funding.service import year_by_label
    from tracker.models import Commission
    from tracker.procurement import transparency
    from tracker.returns import service as returns

    returns.issue(year_by_label("2025-26"), 1, None)
    transparency.issue(db.session, transparency.get_kind("spend-monthly"),
                       transparency.parse_period("month", "2025-05"), None)
    commission = db.session.get(Commission, 1)
    db.session.commit()
    from tests.monitoring.test_documents import upload

    assert upload(client, commission, b"Minutes of the meeting.\n", "minutes.txt").status_code in (302, 303)


def test_every_download_route_is_private_and_never_stored(app, client, auth):
    seed_demo(DEMO_TODAY)
    db.session.commit()
    auth.login("admin")  # admins may read every download
    _issue_one_of_each(client)
    expected, values = collect()
    seen, wrong = set(), []
    for endpoint, rule in _endpoints(app).items():
        access = expected.get(endpoint)
        if endpoint == "static" or access is None or access.public or access.get is None:
            continue
        url = _url(app, rule, values) + QUERIES.get(endpoint, "")
        response = client.get(url)
        if "attachment" not in response.headers.get("Content-Disposition", ""):
            continue
        seen.add(endpoint)
        if response.headers.get("Cache-Control") != "private, no-store":
            wrong.append(f"{url}: {response.headers.get('Cache-Control')}")
    assert not wrong, wrong
    assert EXPECTED <= seen, f"downloads not reached: {sorted(EXPECTED - seen)}"


def test_each_claim_version_has_its_own_address_and_viewers_get_them_private(client, auth):
    """The demo's second-quarter claim is submitted; a correction makes version 2 at a new address, while
    version 1's address keeps version 1's bytes."""
    from sqlalchemy import select

    from tracker.claims import service
    from tracker.models import Claim

    seed_demo(DEMO_TODAY)
    claim = db.session.scalars(select(Claim).where(Claim.status == "submitted")).first()
    first = service.stored_schedule(claim.submissions[0])
    service.decide(claim, "queried", "Missing invoice")
    service.submit(claim, None, claim.submitted_on)
    db.session.commit()
    auth.login("viewer")
    v1 = client.get(f"/claims/{claim.id}/schedule/v1.xlsx")
    v2 = client.get(f"/claims/{claim.id}/schedule/v2.xlsx")
    latest = client.get(f"/claims/{claim.id}/schedule.xlsx")
    assert v1.data == first and v2.data != first and latest.data == v2.data
    assert {r.headers["Cache-Control"] for r in (v1, v2, latest)} == {"private, no-store"}
