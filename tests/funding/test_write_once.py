"""Budget lines, funding streams, year notes and planned figures saved from a form opened before someone else's
save are refused (409) with both versions shown, so no change is silently put back; create forms sent twice make
one record."""
from __future__ import annotations

from sqlalchemy import func, select

from tests.pages import hidden
from tracker.extensions import db
from tracker.models import AuditEvent, BudgetLine, FundingStream, FundingYear


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def line_data(line, version: str, **changes) -> dict:
    data = {"funding_stream_id": line.funding_stream_id, "category_id": line.category_id, "strand_id": line.strand_id,
            "description": line.description, "amount": "40,000", "q1": "10,000", "q2": "10,000", "q3": "10,000",
            "q4": "10,000", "reason": "", "version": version}
    return {**data, **changes}


def test_a_stale_budget_line_form_cannot_put_the_amount_back(client, auth, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year, amount_pence=40_000_00, description="Mentoring")
    db.session.commit()
    auth.login("finance")
    url = f"/funding/lines/{line.id}/edit"
    theirs = hidden(client.get(url).text, "version")
    mine = hidden(client.get(url).text, "version")  # opened earlier by a second finance user
    raised = client.post(url, data=line_data(line, theirs, amount="41,000", q4="11,000", reason="Top-up"))
    assert raised.status_code == 303
    stale = client.post(url, data=line_data(line, mine, description="Mentoring (schools)"))
    assert stale.status_code == 409
    assert "£41,000.00" in stale.text and "Mentoring (schools)" in stale.text and "not saved" in stale.text
    db.session.expire_all()
    saved = db.session.get(BudgetLine, line.id)
    assert (saved.amount_pence, saved.description) == (41_000_00, "Mentoring")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "BudgetLine", AuditEvent.summary.like("%amount revised%"))) == 1
    # From the 409 page (it carries the new version) the description alone can be saved over the new amount.
    again = client.post(url, data=line_data(line, hidden(stale.text, "version"), description="Mentoring (schools)",
                                            amount="41,000", q4="11,000"))
    assert again.status_code == 303


def test_a_double_posted_budget_line_is_added_once(client, auth, make):
    year = make.year("2025-26")
    stream, category, strand = make.stream(), make.category(), make.strand()
    db.session.commit()
    auth.login("finance")
    url = f"/funding/years/{year.id}/lines/new"
    token = hidden(client.get(url).text, "once")
    data = {"funding_stream_id": stream.id, "category_id": category.id, "strand_id": strand.id,
            "description": "Mentoring", "amount": "4,000", "q1": "1,000", "q2": "1,000", "q3": "1,000", "q4": "1,000",
            "once": token}
    first, second = client.post(url, data=data), client.post(url, data=data)
    assert first.status_code == second.status_code == 303
    assert count(BudgetLine) == 1


def test_a_stale_funding_stream_form_is_refused(client, auth, make):
    stream = make.stream("Home Office VRU core grant")
    db.session.commit()
    auth.login("finance")
    url = f"/funding/streams/{stream.id}/edit"
    version = hidden(client.get(url).text, "version")
    data = {"name": stream.name, "funder": "Home Office", "claim_frequency": "quarterly", "claim_due_days": "30",
            "claim_basis": "defrayed", "claim_timing": "arrears", "final_claim_due_days": "45", "active": "y",
            "finance_lead_id": "", "version": version}
    assert client.post(url, data={**data, "claim_due_days": "20"}).status_code == 303
    stale = client.post(url, data={**data, "funder": "The Home Office"})
    assert stale.status_code == 409 and "The Home Office" in stale.text
    db.session.expire_all()
    assert (db.session.get(FundingStream, stream.id).claim_due_days,
            db.session.get(FundingStream, stream.id).funder) == (20, "Home Office")


def test_a_stale_year_notes_form_is_refused(client, auth, make):
    year = make.year("2025-26", notes="")
    db.session.commit()
    auth.login("finance")
    url = f"/funding/years/{year.id}/edit"
    version = hidden(client.get(url).text, "version")
    assert client.post(url, data={"notes": "Grant letter arrived 3 June", "version": version}).status_code == 303
    stale = client.post(url, data={"notes": "Waiting for the letter", "version": version})
    assert stale.status_code == 409 and "Grant letter arrived 3 June" in stale.text
    db.session.expire_all()
    assert db.session.get(FundingYear, year.id).notes == "Grant letter arrived 3 June"


def test_a_double_posted_funding_year_is_set_up_once(client, auth):
    auth.login("finance")
    token = hidden(client.get("/funding/years/new").text, "once")
    first = client.post("/funding/years/new", data={"label": "2027-28", "notes": "", "once": token})
    second = client.post("/funding/years/new", data={"label": "2027-28", "notes": "", "once": token})
    assert first.status_code == second.status_code == 303 and first.location == second.location
    assert count(FundingYear) == 1


def test_a_stale_planned_figure_is_refused(client, auth, make):
    year = make.year("2025-26")
    line = make.budget_line(year=year)
    db.session.commit()
    auth.login("finance")
    url = f"/funding/lines/{line.id}/planned"
    version = hidden(client.get(url).text, "version")
    assert client.post(url, data={"planned": "5,000", "reason": "Two posts unfilled", "version": version}
                       ).status_code == 303
    stale = client.post(url, data={"planned": "9,000", "reason": "Guess", "version": version})
    assert stale.status_code == 409 and "£5,000.00" in stale.text and "£9,000.00" in stale.text
    db.session.expire_all()
    assert db.session.get(BudgetLine, line.id).planned_override_pence == 5_000_00


def test_a_budget_line_save_racing_another_at_the_database_is_stale_not_a_500(app, make):
    """The rival save commits after this request read the line: the UPDATE is conditional on the version read,
    finds another, and nothing of this save is written."""
    import pytest
    from sqlalchemy import update

    from tracker import locking
    from tracker.funding import service

    line = make.budget_line(amount_pence=40_000_00, description="Mentoring")
    db.session.commit()
    line = service.get_line_or_404(line.id)
    db.session.execute(update(BudgetLine).where(BudgetLine.id == line.id)
                       .values(amount_pence=41_000_00, version=BudgetLine.version + 1)
                       .execution_options(synchronize_session=False))
    with pytest.raises(locking.Stale) as lost:
        service.update_line(line, description="Mentoring (schools)")
    assert lost.value.record.description == "Mentoring"
