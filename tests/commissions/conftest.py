"""Helpers for the commissions tests: a signed-in manager and a valid form to post."""
from __future__ import annotations

import pytest

from tracker.extensions import db

HX = {"HX-Request": "true"}


@pytest.fixture
def manager(auth):
    return auth.login("manager")


@pytest.fixture
def setup(make):
    """A funding year with a budget line, a strand and a provider, committed so requests can see them."""
    line = make.budget_line()
    provider = make.provider("Medway Youth Mentoring CIC")
    db.session.commit()
    return {"line": line, "year": line.funding_year, "strand": line.strand, "provider": provider}


def form_data(setup, **overrides) -> dict:
    data = {
        "version": "0", "reference": "VRU-25-100", "title": "Mentoring in schools", "description": "",
        "provider_id": str(setup["provider"].id), "new_provider_name": "", "funding_year_id": str(setup["year"].id),
        "strand_id": str(setup["strand"].id),
        "procurement_route": "Direct award", "commission_type": "contract", "value_pence": "£12,345.67",
        "start_date": "01/04/2025", "end_date": "31/03/2026", "review_date": "", "extension_options": "",
        "status": "pipeline", "pcc_decision_ref": "", "po_number": "PO123", "contract_manager": "",
    }
    data.update(overrides)
    # One funding share: the whole value, on the setup's line (unless the test says otherwise).
    share = {"shares-0-year_label": setup["year"].label, "shares-0-funding_stream_id": str(setup["line"].funding_stream_id),
             "shares-0-budget_line_id": str(setup["line"].id), "shares-0-amount": data["value_pence"]}
    return {**share, **data}
