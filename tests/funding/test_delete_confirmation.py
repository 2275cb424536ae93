"""Deleting a budget line goes through a page that says what will change (issue 16): no browser confirm()."""
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import BudgetLine


def test_deleting_a_line_asks_first_and_refuses_a_used_one_on_the_same_page(client, auth, make):
    used = make.line_of(make.commission())
    unused = make.budget_line(description="Spare", amount_pence=2_500_00)
    db.session.commit()
    used_id, unused_id = used.id, unused.id
    auth.login("finance")
    form = client.get(f"/funding/lines/{unused_id}/edit").text
    assert f'href="/funding/lines/{unused_id}/delete"' in form and "data-confirm" not in form
    confirm = client.get(f"/funding/lines/{unused_id}/delete")
    assert confirm.status_code == 200 and "What will change" in confirm.text and "falls by £2,500.00" in confirm.text
    assert db.session.get(BudgetLine, unused_id) is not None  # asking changed nothing
    refused = client.get(f"/funding/lines/{used_id}/delete")
    assert refused.status_code == 409 and "1 commission(s)" in refused.text and "Yes, delete" not in refused.text
    assert client.post(f"/funding/lines/{unused_id}/delete").status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(BudgetLine.id).where(BudgetLine.id == unused_id)) is None
