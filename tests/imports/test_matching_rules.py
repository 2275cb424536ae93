"""Matching you can trust: remembering a supplier is asked for, reaches only lines within the commission's dates in
open years, shows what it moves first, warns when a commission goes over its value; rules can be seen, changed
and deleted; spend that is not a commission goes to a budget line, by hand or by account-code rule."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tracker import figures
from tracker.extensions import db
from tracker.imports import matching
from tracker.models import AccountRule, AuditEvent, LedgerTransaction, SupplierAlias


@pytest.fixture
def setup(app, make):
    year = make.year("2025-26", status="open")
    provider = make.provider("Acme Mentoring")
    line = make.budget_line(year=year)
    commission = make.commission("C-ACME", provider=provider, budget_line=line, value_pence=1_000_00,
                                 start_date=date(2025, 6, 1), end_date=date(2025, 9, 30))
    db.session.commit()
    return {"year": year, "provider": provider, "line": line, "commission": commission}


@pytest.fixture
def finance(auth):
    return auth.login("finance")


def acme(make, on, ref, net=100_00, **fields):
    fields.setdefault("supplier_id", "ACME1")
    fields.setdefault("supplier_name", "Acme Mentoring Ltd")
    return make.ledger_line(posting_date=on, net_pence=net, reference=ref, **fields)


def get(ref):
    db.session.expire_all()
    return db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.reference == ref))


def test_remember_is_unticked_by_default(setup, make, client, finance):
    acme(make, date(2025, 7, 1), "L1")
    db.session.commit()
    page = client.get("/imports/unmatched")
    assert page.status_code == 200
    assert 'name="remember"' in page.text and 'name="remember" type="checkbox" value="y" checked' not in page.text
    assert 'id="remember" name="remember" type="checkbox" value="y">' in page.text


def test_a_remembered_rule_reaches_only_lines_within_the_commission_dates_in_open_years(setup, make):
    c = setup["commission"]
    ticked = acme(make, date(2025, 7, 1), "L1")
    inside = acme(make, date(2025, 8, 1), "L2")
    before = acme(make, date(2025, 5, 1), "L3")  # before the commission starts
    closed_year = make.year("2024-25", status="closed")
    old = acme(make, date(2024, 7, 1), "L4", year=closed_year)
    other = acme(make, date(2025, 8, 1), "L5", supplier_id="OTHER", supplier_name="Other")
    db.session.commit()
    plan = matching.plan_assignment([ticked], c, remember=True)
    assert [l.reference for l in plan.followers] == ["L2"]
    assert matching.assign([ticked], c, remember=True) == 2
    db.session.commit()
    assert {r: get(r).commission_id for r in ("L1", "L2", "L3", "L4", "L5")} == {
        "L1": c.id, "L2": c.id, "L3": None, "L4": None, "L5": None}
    assert {before.id, old.id, other.id, inside.id} == {get(r).id for r in ("L2", "L3", "L4", "L5")}
    # Future imports: the rule applies inside the dates only.
    m = matching.Matcher()
    year_id = setup["year"].id
    assert m.match("", "ACME1", "", date(2025, 8, 15), "", year_id)[::2] == (c.id, "supplier")
    assert m.match("", "ACME1", "", date(2026, 1, 15), "", year_id) == (None, None, "")


def test_the_rule_does_not_apply_in_a_year_that_is_not_open(setup, make):
    c = setup["commission"]
    make.commission("C-TWIN", provider=setup["provider"], budget_line=setup["line"], start_date=c.start_date,
                    end_date=c.end_date)  # two running, so only the rule could choose
    db.session.add(SupplierAlias(provider_id=c.provider_id, kind="supplier_id", value="ACME1", commission_id=c.id))
    db.session.commit()
    assert matching.Matcher().match("", "ACME1", "", date(2025, 8, 1), "", setup["year"].id)[0] == c.id
    setup["year"].status = "draft"
    db.session.commit()
    assert matching.Matcher().match("", "ACME1", "", date(2025, 8, 1), "", setup["year"].id)[0] is None


def test_the_page_shows_which_lines_the_rule_moves_before_moving_them(setup, make, client, finance):
    c = setup["commission"]
    l1 = acme(make, date(2025, 7, 1), "L1", net=10_00)
    acme(make, date(2025, 8, 1), "L2", net=20_00)
    db.session.commit()
    page = client.post("/imports/unmatched/assign", data={"lines": [l1.id], "commission": c.id, "remember": "y"})
    assert page.status_code == 200 and "1 more line" in page.text and "L2" in page.text
    assert get("L1").commission_id is None and get("L2").commission_id is None
    assert db.session.scalar(select(func.count(SupplierAlias.id))) == 0
    # A line that arrives after the preview is not moved by the confirmation: only what was shown.
    acme(make, date(2025, 9, 1), "L3", net=30_00)
    db.session.commit()
    done = client.post("/imports/unmatched/assign", data={"lines": [l1.id, get("L2").id], "commission": c.id,
                                                          "remember": "y", "confirm": "yes"})
    assert done.status_code == 303
    assert (get("L1").commission_id, get("L2").commission_id, get("L3").commission_id) == (c.id, c.id, None)
    alias = db.session.scalar(select(SupplierAlias))
    assert (alias.kind, alias.value, alias.commission_id) == ("supplier_id", "ACME1", c.id)


def test_without_remember_only_the_ticked_line_moves_and_nothing_is_remembered(setup, make, client, finance):
    c = setup["commission"]
    l1 = acme(make, date(2025, 7, 1), "L1", net=10_00)
    acme(make, date(2025, 8, 1), "L2", net=20_00)
    db.session.commit()
    assert client.post("/imports/unmatched/assign", data={"lines": [l1.id], "commission": c.id}).status_code == 303
    assert (get("L1").commission_id, get("L2").commission_id) == (c.id, None)
    assert db.session.scalar(select(func.count(SupplierAlias.id))) == 0
    # The line keeps its own coding (none); the figures engine counts it on the contract's share.
    assert get("L1").budget_line_id is None and get("L1").match_method == "manual"
    assert figures.paid_by_share(c.id) == {(setup["line"].funding_year_id, setup["line"].id): 10_00}


def test_a_warning_when_an_assignment_takes_a_commission_over_its_value(setup, make, client, finance):
    c = setup["commission"]  # value £1,000.00
    make.ledger_line(posting_date=date(2025, 7, 1), net_pence=900_00, commission=c, reference="SPENT")
    l1 = acme(make, date(2025, 7, 2), "L1", net=250_00)
    db.session.commit()
    page = client.post("/imports/unmatched/assign", data={"lines": [l1.id], "commission": c.id})
    assert page.status_code == 200
    assert "This takes C-ACME over its value" in page.text
    assert "£1,150.00" in page.text and "£150.00 over" in page.text
    assert get("L1").commission_id is None
    done = client.post("/imports/unmatched/assign", data={"lines": [l1.id], "commission": c.id, "confirm": "yes"},
                       follow_redirects=True)
    assert "£150.00 over its value of £1,000.00" in done.text
    assert get("L1").commission_id == c.id


def test_rules_can_be_seen_changed_and_deleted(setup, make, client, finance):
    c = setup["commission"]
    second = make.commission("C-TWO", provider=setup["provider"], budget_line=setup["line"])
    alias = SupplierAlias(provider_id=c.provider_id, kind="supplier_id", value="ACME1", commission_id=c.id)
    db.session.add(alias)
    db.session.commit()
    page = client.get("/imports/rules")
    assert page.status_code == 200 and "ACME1" in page.text and "C-ACME" in page.text
    form = client.get(f"/imports/rules/supplier/{alias.id}")
    assert form.status_code == 200
    assert client.post(f"/imports/rules/supplier/{alias.id}", data={"commission": 0}).status_code == 422
    assert client.post(f"/imports/rules/supplier/{alias.id}", data={"commission": second.id}).status_code == 303
    db.session.expire_all()
    assert db.session.get(SupplierAlias, alias.id).commission_id == second.id
    assert client.post(f"/imports/rules/supplier/{alias.id}/delete").status_code == 303
    db.session.expire_all()
    kept = db.session.get(SupplierAlias, alias.id)
    assert kept.commission_id is None and kept.provider_id == c.provider_id  # still known as the provider
    assert client.get(f"/imports/rules/supplier/{alias.id}").status_code == 404
    assert client.post(f"/imports/rules/supplier/{alias.id}/delete").status_code == 404
    summaries = db.session.scalars(select(AuditEvent.summary).where(AuditEvent.object_type == "SupplierAlias")).all()
    assert any("now sends its lines to C-TWO" in s for s in summaries) and any("Deleted the rule" in s for s in summaries)


def test_spend_that_is_not_a_commission_goes_straight_to_a_budget_line(setup, make, client, finance):
    salary = make.ledger_line(posting_date=date(2025, 7, 1), reference="SAL1", supplier_name="", account_code="5010")
    other_year = make.year("2026-27", status="open")
    later = make.ledger_line(posting_date=date(2026, 7, 1), reference="SAL2", year=other_year)
    db.session.commit()
    line = setup["line"]
    assert client.post("/imports/unmatched/assign", data={"lines": [salary.id], "commission": 0,
                                                          "budget_line": line.id}).status_code == 303
    assert (get("SAL1").budget_line_id, get("SAL1").commission_id, get("SAL1").match_method) == (line.id, None, "line")
    wrong = client.post("/imports/unmatched/assign", data={"lines": [later.id], "commission": 0, "budget_line": line.id})
    assert wrong.status_code == 422 and "choose a budget line of its own year" in wrong.text
    both = client.post("/imports/unmatched/assign", data={"lines": [later.id], "commission": setup["commission"].id,
                                                         "budget_line": line.id})
    assert both.status_code == 422 and "not both" in both.text
    assert get("SAL2").budget_line_id is None


def test_an_account_rule_moves_the_year_s_lines_now_and_in_later_imports(setup, make, client, finance):
    make.ledger_line(posting_date=date(2025, 7, 1), reference="V1", account_code=" 6100 ", supplier_name="Hall")
    make.ledger_line(posting_date=date(2025, 7, 1), reference="V2", account_code="6200", supplier_name="Hall")
    db.session.commit()
    line = setup["line"]
    response = client.post("/imports/rules/account", data={"account_code": "6100", "budget_line": line.id},
                           follow_redirects=True)
    assert "1 unassigned line moved" in response.text
    assert (get("V1").budget_line_id, get("V1").match_method, get("V2").budget_line_id) == (line.id, "account", None)
    again = client.post("/imports/rules/account", data={"account_code": "6100", "budget_line": line.id})
    assert again.status_code == 409 and "already goes to" in again.text
    assert client.post("/imports/rules/account", data={"account_code": " ", "budget_line": line.id}).status_code == 422
    m = matching.Matcher()
    assert m.match("", "", "Hall", date(2025, 8, 1), "6100", setup["year"].id) == (None, line.id, "account")
    assert m.match("", "", "Hall", date(2025, 8, 1), "6100", None) == (None, None, "")
    rule = db.session.scalar(select(AccountRule))
    assert client.post(f"/imports/rules/account/{rule.id}/delete").status_code == 303
    assert db.session.scalar(select(func.count(AccountRule.id))) == 0
    assert get("V1").budget_line_id == line.id  # lines it moved stay


def test_no_account_rule_for_a_closed_year(setup, make, client, finance):
    closed = make.year("2023-24", status="closed")
    old_line = make.budget_line(year=closed)
    db.session.commit()
    with pytest.raises(matching.RuleRefused):
        matching.add_account_rule("6100", old_line)


@pytest.mark.parametrize("po, supplier_id, name, on, reason", [
    ("PO-NOPE", "", "", date(2025, 7, 1), "PO PO-NOPE is not on any commission"),
    ("", "", "", date(2025, 7, 1), "No PO, and no supplier (a journal)"),
    ("", "", "Stranger Ltd", date(2025, 7, 1), "No PO, and supplier Stranger Ltd is not a provider with a commission"),
    ("", "", "Acme Mentoring", date(2025, 5, 1), "No commission of Acme Mentoring runs on 01/05/2025"),
])
def test_each_line_says_why_it_did_not_match(setup, po, supplier_id, name, on, reason):
    assert matching.Matcher().explain(po, supplier_id, name, on) == reason


def test_a_provider_without_a_commission_and_one_with_several(setup, make):
    make.provider("Lonely CIC")
    make.commission("C-B", provider=setup["provider"], budget_line=setup["line"], start_date=date(2025, 6, 1),
                    end_date=date(2025, 12, 31))
    db.session.commit()
    m = matching.Matcher()
    assert m.explain("", "", "Lonely CIC", date(2025, 7, 1)) == "Lonely CIC has no commission"
    assert m.explain("", "", "Acme Mentoring", date(2025, 7, 1)).startswith(
        "Acme Mentoring has 2 commissions running on 01/07/2025")
