"""Once a return has reported a quarter, that quarter's profile is what the PCC was told: re-profiling it needs a
reason, and the change is kept as a revision in the line's history. Quarters not yet reported change freely."""
from __future__ import annotations

from tracker.extensions import db
from tracker.models import AuditEvent, BudgetLine
from tracker.returns import service


def line_data(line, **profile):
    data = {"funding_stream_id": line.funding_stream_id, "category_id": line.category_id,
            "strand_id": line.strand_id, "description": line.description, "amount": "£20,000.00",
            "q1": "0", "q2": "10,000", "q3": "5,000", "q4": "5,000", "reason": ""}
    data.update(profile)
    return data


def test_reported_quarters_need_a_reason_to_re_profile(small, client, auth):
    service.issue(small.year, 2, None)
    db.session.commit()
    auth.login("finance")
    url = f"/funding/lines/{small.l3.id}/edit"
    assert "Reported to the PCC: a change needs a reason." in client.get(url).text

    # Q3 and Q4 are not reported yet: they move freely.
    assert client.post(url, data=line_data(small.l3, q3="2,000", q4="8,000")).status_code == 303
    db.session.expire_all()
    assert db.session.get(BudgetLine, small.l3.id).profile == [0, 10_000_00, 2_000_00, 8_000_00]

    # Q2 was reported: without a reason the change is refused and nothing changes.
    r = client.post(url, data=line_data(small.l3, q2="4,000", q3="8,000", q4="8,000"))
    assert r.status_code == 422 and "Give the reason for re-profiling Q2" in r.text
    db.session.expire_all()
    assert db.session.get(BudgetLine, small.l3.id).profile == [0, 10_000_00, 2_000_00, 8_000_00]

    # With a reason it is made, and recorded as a revision with the reason.
    r = client.post(url, data=line_data(small.l3, q2="4,000", q3="8,000", q4="8,000",
                                        reason="Q2 recruitment slipped: agreed with the OPCC"))
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(BudgetLine, small.l3.id).profile == [0, 4_000_00, 8_000_00, 8_000_00]
    event = db.session.scalars(db.select(AuditEvent).where(AuditEvent.object_type == "BudgetLine")
                               .order_by(AuditEvent.id.desc())).first()
    assert "re-profiled Q2, already reported to the PCC: Q2 recruitment slipped" in event.summary
    assert event.after["reprofile_reason"] == "Q2 recruitment slipped: agreed with the OPCC"
    assert event.after["reprofiled_reported_quarters"] == [2]


def test_no_lock_before_any_return(small, client, auth):
    auth.login("finance")
    url = f"/funding/lines/{small.l3.id}/edit"
    assert "Reported to the PCC" not in client.get(url).text
    assert client.post(url, data=line_data(small.l3, q1="1,000", q2="9,000")).status_code == 303
