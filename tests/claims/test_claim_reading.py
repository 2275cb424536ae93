"""A claim reads rightly: the date it went to the funder apart from when it was typed in, the funder's decision
with its date, and a projected underspend of none said as "none" (not left out, which reads as "switched off")."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from tracker.extensions import db
from tracker.models import AuditEvent, Claim


def _submitted_claim(client, make):
    year = make.year("2025-26")
    stream = make.stream("PCC contribution", claim_due_days=20)
    make.allocation(year=year, stream=stream, pence=1_200_000_00)
    line = make.budget_line(year=year, stream=stream, amount_pence=1_200_000_00)
    make.ledger_line(date(2025, 5, 1), 250_000_00, budget_line=line)
    db.session.commit()
    client.post(f"/funding/years/{year.id}/claims/prepare", data={"stream_id": stream.id, "period": 1})
    claim = db.session.scalars(select(Claim)).one()
    client.post(f"/claims/{claim.id}", data={"claimed": "250,000", "signed_off_by": "CFO", "note": ""})
    assert client.post(f"/claims/{claim.id}/submit", data={"submitted_on": "25/07/2025"}).status_code == 303
    return claim


def _versions_table(text: str) -> str:
    start = text.index("<h2>Submitted versions</h2>")
    return text[start:text.index("</table>", start)]


def test_submitted_versions_show_the_claims_date_apart_from_when_it_was_recorded(client, auth, make):
    auth.login("finance")
    claim = _submitted_claim(client, make)
    typed = db.session.get(Claim, claim.id).submissions[0].submitted_at
    table = _versions_table(client.get(f"/claims/{claim.id}").text)
    assert '<th scope="col">Submitted</th><th scope="col">Recorded</th>' in table
    # The claim's own date under Submitted, the moment it was typed under Recorded: never the other way round.
    assert table.index("25/07/2025") < table.index(f"{typed:%d/%m/%Y %H:%M}")
    assert isinstance(typed, datetime)


def test_the_funders_decision_has_its_date(client, auth, make):
    auth.login("finance")
    claim = _submitted_claim(client, make)
    missing = client.post(f"/claims/{claim.id}/decision", data={"decision": "approved", "note": ""})
    assert missing.status_code == 422 and "Enter the date the funder decided" in missing.text
    before = client.post(f"/claims/{claim.id}/decision", data={"decision": "approved", "decided_on": "20/07/2025"})
    assert before.status_code == 422 and "cannot be before the claim was submitted (25/07/2025)" in before.text
    db.session.expire_all()
    assert (db.session.get(Claim, claim.id).status, db.session.get(Claim, claim.id).decided_on) == ("submitted", None)
    assert client.post(f"/claims/{claim.id}/decision",
                       data={"decision": "approved", "decided_on": "04/08/2025"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Claim, claim.id).decided_on == date(2025, 8, 4)
    assert "Approved on 04/08/2025" in client.get(f"/claims/{claim.id}").text
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "Claim")
                               .order_by(AuditEvent.id.desc())).first()
    assert event.after["decided_on"] == "2025-08-04"


def test_no_projected_underspend_is_said_as_none(client, auth, make):
    # 2025-26 has ended (the real clock is past its Q3), and its stream is forecast to spend more than it has.
    year = make.year("2025-26")
    stream = make.stream("Serious Violence Duty")
    make.allocation(year=year, stream=stream, pence=100_000_00)
    line = make.budget_line(year=year, stream=stream, amount_pence=150_000_00)
    make.ledger_line(date(2025, 5, 1), 150_000_00, budget_line=line)
    db.session.commit()
    auth.login("finance")
    text = client.get(f"/funding/years/{year.id}").text
    assert "Projected underspend at risk: none" in text and "and more" in text
