"""Every record that can hold documents links to its documents page: provider, milestone (page, edit and
complete), funding year (the commission page's link is tested with the commission page)."""
from __future__ import annotations

import pytest

from tracker.extensions import db


@pytest.mark.parametrize("role", ["viewer", "manager"])
def test_documents_links(client, auth, make, role):
    c = make.commission()
    m = make.milestone("Panel terms agreed")
    db.session.commit()
    auth.login(role)
    pages = {
        f"/providers/{c.provider_id}": f"/documents/provider/{c.provider_id}",
        f"/milestones/{m.id}": f"/documents/milestone/{m.id}",
        f"/funding/years/{c.funding_year_id}": f"/documents/funding_year/{c.funding_year_id}",
    }
    if role == "manager":
        pages[f"/milestones/{m.id}/edit"] = f"/documents/milestone/{m.id}"
        pages[f"/milestones/{m.id}/complete"] = f"/documents/milestone/{m.id}"
    for page, link in pages.items():
        response = client.get(page)
        assert response.status_code == 200, page
        assert f'href="{link}"' in response.text, page
        assert client.get(link).status_code == 200, link
