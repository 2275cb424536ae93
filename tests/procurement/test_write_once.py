"""Marking a notice published is done once: a second POST (a double click, a colleague at the same moment)
records nothing more and says it was already recorded."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from tests.procurement.test_notices import _notices, _public
from tracker.extensions import db
from tracker.models import AuditEvent, ProcurementNotice


def test_a_notice_marked_published_twice_is_recorded_once(thresholds, make, client, manager):
    c = _public(make)
    notice = _notices(c)[0]
    first = client.post(f"/notices/{notice.id}/published", data={
        f"n{notice.id}-published_on": "28/04/2025", f"n{notice.id}-link": "https://www.find-tender.service.gov.uk/1"})
    second = client.post(f"/notices/{notice.id}/published", data={
        f"n{notice.id}-published_on": "29/04/2025", f"n{notice.id}-link": "https://www.find-tender.service.gov.uk/2"})
    assert first.status_code == second.status_code == 303 and first.location == second.location
    assert "already recorded as published on 28/04/2025" in client.get(second.location).text
    db.session.expire_all()
    saved = db.session.get(ProcurementNotice, notice.id)
    assert (saved.published_on, saved.link) == (date(2025, 4, 28), "https://www.find-tender.service.gov.uk/1")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "ProcurementNotice")) == 1
