"""The funding screens through HTTP: forms with and without HTMX, bad input, closed years, roles, query counts."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Allocation, AuditEvent, BudgetLine, FundingStream, FundingYear

HX = {"HX-Request": "true"}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def line_data(line=None, **overrides):
    data = {"funding_stream_id": line.funding_stream_id if line else "", "category_id": line.category_id if line else "",
            "strand_id": line.strand_id if line else "", "description": "Mentoring services",
            "amount": "£100,000.00", "q1": "25,000", "q2": "25,000", "q3": "25,000", "q4": "£25,000.00"}
    data.update(overrides)
    return data


# --- Funding years --------------------------------------------------------------------------------------------

def test_finance_sets_up_a_year_without_javascript(client, auth):
    auth.login("finance")
    response = client.post("/funding/years/new", data={"label": "2026-27", "notes": "Letter due in February"})
    assert response.status_code == 303
    year = db.session.scalars(select(FundingYear)).one()
    assert (year.start_date, year.end_date, year.status) == (date(2026, 4, 1), date(2027, 3, 31), "draft")
    assert "2026-27 set up" in client.get(response.location).text


def test_finance_sets_up_a_year_with_htmx(client, auth):
    auth.login("finance")
    response = client.post("/funding/years/new", data={"label": "2026-27"}, headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"].startswith("/funding/years/")


@pytest.mark.parametrize("label, message", [("2026-28", "two consecutive years"), ("26-27", "must look like 2025-26"),
                                            ("", "Enter the funding year"), ("2025-26", "already exists")])
def test_a_bad_year_label_is_refused_at_the_field(client, auth, make, label, message):
    make.year("2025-26")
    auth.login("finance")
    before = count(FundingYear)
    page = client.post("/funding/years/new", data={"label": label})
    assert page.status_code == 422 and message in page.text and "<title>Error: " in page.text
    fragment = client.post("/funding/years/new", data={"label": label}, headers=HX)
    assert fragment.status_code == 422 and message in fragment.text and "<html" not in fragment.text
    db.session.expire_all()
    assert count(FundingYear) == before


def test_open_then_close_a_year(client, auth, make):
    year = make.year(status="draft")
    db.session.commit()
    auth.login("finance")
    assert client.post(f"/funding/years/{year.id}/open").status_code == 303
    assert client.post(f"/funding/years/{year.id}/close").status_code == 303
    db.session.expire_all()
    assert db.session.get(FundingYear, year.id).status == "closed"
    summaries = db.session.scalars(select(AuditEvent.summary).where(AuditEvent.object_type == "FundingYear")).all()
    assert summaries == ["Funding year 2025-26 opened", "Funding year 2025-26 closed"]


@pytest.fixture
def closed(make):
    year = make.year(status="closed")
    allocation = make.allocation(year=year)
    line = make.budget_line(year=year)
    db.session.commit()
    return year, allocation, line


def test_every_write_to_a_closed_year_is_refused(client, auth, closed):
    year, allocation, line = closed
    auth.login("finance")
    writes = [
        ("post", f"/funding/years/{year.id}/edit", {"notes": "x"}),
        ("get", f"/funding/years/{year.id}/edit", None),
        ("post", f"/funding/years/{year.id}/open", {}),
        ("post", f"/funding/years/{year.id}/close", {}),
        ("post", f"/funding/years/{year.id}/allocations/new", {"amount": "1"}),
        ("post", f"/funding/allocations/{allocation.id}", {"amount": "1", "reason": "x", "status": "confirmed"}),
        ("post", f"/funding/years/{year.id}/lines/new", line_data(line)),
        ("get", f"/funding/years/{year.id}/lines/new", None),
        ("post", f"/funding/lines/{line.id}/edit", line_data(line)),
        ("post", f"/funding/lines/{line.id}/delete", {}),
    ]
    for method, url, data in writes:
        response = getattr(client, method)(url, data=data)
        assert response.status_code == 409, (url, response.status_code)
        assert "is closed, so its records cannot be changed" in response.text, url
        htmx = getattr(client, method)(url, data=data, headers=HX)
        assert htmx.status_code == 409 and "<html" not in htmx.text
    db.session.expire_all()
    assert db.session.get(BudgetLine, line.id).amount_pence == line.amount_pence
    assert db.session.get(Allocation, allocation.id).revised_pence == allocation.revised_pence
    assert count(BudgetLine) == 1


def test_a_closed_year_hides_its_edit_controls(client, auth, closed):
    year, allocation, line = closed
    auth.login("finance")
    budget = client.get("/funding/budget?year=2025-26").text
    assert "Read-only." in budget and "Add a budget line" not in budget and f"/funding/lines/{line.id}/edit" not in budget
    page = client.get(f"/funding/years/{year.id}").text
    assert "Close the year" not in page and "Add an allocation" not in page and "Reopen" not in page
    assert "Revise the allocation" not in client.get(f"/funding/allocations/{allocation.id}").text


def test_only_an_admin_may_reopen_and_it_is_audited(client, auth, closed):
    year, _, _ = closed
    auth.login("finance")
    assert client.post(f"/funding/years/{year.id}/reopen", data={"reason": "Correction"}).status_code == 403
    auth.logout()
    auth.login("admin")
    assert "Reopen 2025-26" in client.get(f"/funding/years/{year.id}").text
    missing = client.post(f"/funding/years/{year.id}/reopen", data={"reason": ""}, headers=HX)
    assert missing.status_code == 422 and "Say why the year needs reopening" in missing.text
    db.session.expire_all()
    assert db.session.get(FundingYear, year.id).status == "closed"
    assert client.post(f"/funding/years/{year.id}/reopen", data={"reason": "Late credit note"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(FundingYear, year.id).status == "open"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "FundingYear")).one()
    assert event.summary == "Funding year 2025-26 reopened: Late credit note"


# --- Streams --------------------------------------------------------------------------------------------------

def test_streams_create_edit_and_refuse_bad_input(client, auth, make):
    make.stream("Young Futures")
    db.session.commit()
    auth.login("finance")
    good = {"name": "Hotspot Action Fund", "funder": "Home Office", "claim_frequency": "quarterly", "claim_due_days": "30",
            "claim_basis": "defrayed", "claim_timing": "arrears", "final_claim_due_days": "45",
            "active": "y", "labour_split": "y"}
    assert client.post("/funding/streams/new", data=good).status_code == 303
    for bad, message in [({"name": "young futures"}, "already a stream called"), ({"claim_due_days": "soon"}, "Not a valid integer"),
                         ({"claim_due_days": "400"}, "from 0 to 365"), ({"name": ""}, "Enter the stream"),
                         ({"claim_basis": "cash"}, "Not a valid choice"), ({"final_claim_due_days": ""}, "final claim is due")]:
        response = client.post("/funding/streams/new", data={**good, **bad})
        assert response.status_code == 422 and message in response.text, bad
    stream = db.session.scalar(select(FundingStream).where(FundingStream.name == "Hotspot Action Fund"))
    assert stream.labour_split and stream.claim_due_days == 30
    assert (stream.claim_basis, stream.claim_timing, stream.final_claim_due_days) == ("defrayed", "arrears", 45)
    response = client.post(f"/funding/streams/{stream.id}/edit", data={**good, "claim_due_days": "45"}, headers=HX)
    assert response.status_code == 204
    db.session.expire_all()
    assert db.session.get(FundingStream, stream.id).claim_due_days == 45
    assert count(FundingStream) == 2


# --- Allocations ----------------------------------------------------------------------------------------------

def test_allocation_revision_keeps_history_visible(client, auth, make):
    year = make.year()
    stream = make.stream()
    db.session.commit()
    auth.login("finance")
    response = client.post(f"/funding/years/{year.id}/allocations/new",
                           data={"funding_stream_id": stream.id, "amount": "£1,370,000.00", "status": "confirmed"})
    assert response.status_code == 303
    allocation = db.session.scalars(select(Allocation)).one()
    no_reason = client.post(f"/funding/allocations/{allocation.id}", data={"amount": "1,400,000", "status": "confirmed"}, headers=HX)
    assert no_reason.status_code == 422 and "Give the reason for the change" in no_reason.text
    bad = client.post(f"/funding/allocations/{allocation.id}", data={"amount": "lots", "reason": "x", "status": "confirmed"})
    assert bad.status_code == 422 and "Enter an amount in pounds" in bad.text
    ok = client.post(f"/funding/allocations/{allocation.id}",
                     data={"amount": "1,400,000", "reason": "Virement agreed 3 November", "status": "confirmed"})
    assert ok.status_code == 303
    page = client.get(f"/funding/allocations/{allocation.id}").text
    assert "£1,370,000.00" in page and "£1,400,000.00" in page and "Virement agreed 3 November" in page
    history = client.get(f"/funding/allocations/{allocation.id}/history", headers=HX)
    assert "Virement agreed 3 November" in history.text and "<html" not in history.text
    db.session.expire_all()
    allocation = db.session.get(Allocation, allocation.id)
    assert (allocation.original_pence, allocation.revised_pence, len(allocation.revisions)) == (137_000_000, 140_000_000, 1)


def test_viewers_read_allocations_but_cannot_revise(client, auth, make):
    allocation = make.allocation()
    db.session.commit()
    auth.login("viewer")
    page = client.get(f"/funding/allocations/{allocation.id}")
    assert page.status_code == 200 and "Revise the allocation" not in page.text
    assert client.post(f"/funding/allocations/{allocation.id}", data={"amount": "1", "reason": "x"}).status_code == 403


# --- Budget lines ---------------------------------------------------------------------------------------------

def test_budget_line_created_without_javascript(client, auth, make):
    line = make.budget_line()
    other = make.category("Evaluation")  # a line is unique per year, stream, category and strand
    db.session.commit()
    auth.login("finance")
    response = client.post(f"/funding/years/{line.funding_year_id}/lines/new",
                           data=line_data(line, labour="y", category_id=other.id))
    assert response.status_code == 303 and response.location.startswith("/funding/budget")
    new = db.session.scalars(select(BudgetLine).order_by(BudgetLine.id.desc())).first()
    assert (new.amount_pence, new.original_amount_pence, new.profile, new.labour) == (
        100_000_00, 100_000_00, [25_000_00] * 4, True)


def test_a_profile_that_does_not_add_up_shows_the_difference(client, auth, make):
    line = make.budget_line()
    db.session.commit()
    auth.login("finance")
    before = count(BudgetLine)
    data = line_data(line, q4="24,000.00")
    page = client.post(f"/funding/years/{line.funding_year_id}/lines/new", data=data)
    assert page.status_code == 422
    assert "The profile adds up to £99,000.00, £1,000.00 less than the amount (£100,000.00)" in page.text
    assert 'value="24,000.00"' in page.text  # what was typed comes back
    fragment = client.post(f"/funding/years/{line.funding_year_id}/lines/new", data=data, headers=HX)
    assert fragment.status_code == 422 and "£1,000.00 less" in fragment.text and "<html" not in fragment.text
    db.session.expire_all()
    assert count(BudgetLine) == before


@pytest.mark.parametrize("overrides, message", [
    ({"amount": "abc"}, "Enter an amount in pounds"), ({"amount": ""}, "Enter the amount for the year"),
    ({"amount": "-5"}, "must be zero or more"), ({"q2": ""}, "Enter the Q2 profile"),
    ({"strand_id": "999"}, "Choose the strand"), ({"category_id": "x"}, "Choose the category"),
    ({"description": "x" * 201}, "Field cannot be longer than 200"),
])
def test_bad_budget_line_input_is_refused(client, auth, make, overrides, message):
    line = make.budget_line()
    db.session.commit()
    auth.login("finance")
    response = client.post(f"/funding/lines/{line.id}/edit", data=line_data(line, **overrides))
    assert response.status_code == 422 and message in response.text
    db.session.expire_all()
    assert db.session.get(BudgetLine, line.id).description == ""


def test_revising_a_line_keeps_its_original_amount_and_is_audited(client, auth, make):
    line = make.budget_line(amount_pence=40_000_00)
    db.session.commit()
    auth.login("finance")
    response = client.post(f"/funding/lines/{line.id}/edit", headers=HX,
                           data=line_data(line, amount="50,000", q1="20,000", q2="10,000", q3="10,000", q4="10,000",
                                          reason="Virement from evaluation"))
    assert response.status_code == 204
    db.session.expire_all()
    line = db.session.get(BudgetLine, line.id)
    assert (line.amount_pence, line.original_amount_pence) == (50_000_00, 40_000_00)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "BudgetLine")).one()
    assert "Virement from evaluation" in event.summary and event.before["amount_pence"] == 40_000_00
    assert "originally £40,000.00" in client.get("/funding/budget?year=2025-26").text


def test_deleting_a_line_only_when_unused(client, auth, make):
    used = make.line_of(make.commission())
    unused = make.budget_line(description="Spare")
    db.session.commit()
    used_id, unused_id = used.id, unused.id
    auth.login("finance")
    refused = client.post(f"/funding/lines/{used_id}/delete")
    assert refused.status_code == 409 and "cannot be deleted" in refused.text
    assert client.post(f"/funding/lines/{unused_id}/delete").status_code == 303
    db.session.expire_all()
    assert db.session.get(BudgetLine, unused_id) is None and db.session.get(BudgetLine, used_id) is not None
    assert db.session.scalars(select(AuditEvent.kind).where(AuditEvent.object_type == "BudgetLine")).all() == ["delete"]


# --- The budget page ------------------------------------------------------------------------------------------

def _budget_data(make, n: int):
    year = make.year()
    for i in range(n):
        stream = make.stream(f"Stream {i % 3}")
        strand = make.strand(f"Strand {i % 4}")
        line = make.budget_line(year=year, stream=stream, strand=strand, description=f"Line {i}")
        if i % 3 == 0:
            make.allocation(year=year, stream=stream) if not db.session.scalar(
                select(Allocation).where(Allocation.funding_stream_id == stream.id)) else None
        make.commission(budget_line=line, value_pence=50_000_00)
        make.ledger_line(posting_date=date(2025, 4 + i % 9, 10), net_pence=1_000_00 + i, budget_line=line)
    db.session.commit()


def test_budget_page_runs_a_fixed_number_of_queries(client, auth, make, count_queries):
    auth.login("viewer")
    _budget_data(make, 3)
    client.get("/funding/budget?year=2025-26&quarter=2")
    with count_queries() as small:
        assert client.get("/funding/budget?year=2025-26&quarter=2").status_code == 200
    _budget_data(make, 40)
    with count_queries() as big:
        page = client.get("/funding/budget?year=2025-26&quarter=2")
    assert page.status_code == 200 and "Line 39" in page.text and "Over-committed" in page.text
    assert big.count == small.count, big.statements


def test_budget_page_year_and_quarter_choice(client, auth, make):
    make.budget_line(year=make.year("2024-25"), description="Old line")
    make.budget_line(year=make.year("2025-26"), description="New line")
    db.session.commit()
    auth.login("viewer")
    page = client.get("/funding/budget?year=2024-25&quarter=3")
    assert page.status_code == 200 and "Old line" in page.text and "New line" not in page.text
    assert "2024-25 as at the end of Q3" in page.text
    fragment = client.get("/funding/budget?year=2025-26&quarter=1", headers=HX)
    assert fragment.status_code == 200 and 'id="budget-table"' in fragment.text and "<html" not in fragment.text
    assert "New line" in fragment.text


@pytest.mark.parametrize("query, status, message", [
    ("year=1999-00", 404, "There is no funding year 1999-00."),
    ("year=nonsense&quarter=7", 400, "There is no funding year nonsense."),
    ("quarter=Q9", 400, "“Q9” is not a quarter: choose 1, 2, 3 or 4."),
    ("quarter=-1", 400, "“-1” is not a quarter: choose 1, 2, 3 or 4."),
])
def test_a_bad_budget_query_is_refused_with_a_message(client, auth, make, query, status, message):
    # Not a fall-back to another year or quarter: a page must never show figures other than those its address
    # names (tracker/funding/rules.py).
    make.budget_line()
    db.session.commit()
    auth.login("viewer")
    for headers in ({}, HX):
        response = client.get(f"/funding/budget?{query}", headers=headers)
        assert response.status_code == status and message in response.text


def test_home_page_lists_over_committed_lines(client, auth, make):
    line = make.budget_line(amount_pence=10_000_00, description="Mentoring")
    make.commission(budget_line=line, value_pence=12_500_00)
    db.session.commit()
    auth.login("viewer")
    page = client.get("/").text
    assert "Over-committed budget lines" in page and "£2,500.00 over" in page


def _tiles(html: str) -> dict[str, str]:
    """The headline tiles (label -> figure) of a page."""
    import re

    block = html.split('<dl class="headline-figures">', 1)[1].split("</dl>", 1)[0]
    return dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block))


def test_the_headline_tiles_show_pence_like_the_tables_below_them(client, auth, make):
    """The tiles used to round to whole pounds with nothing saying so (£2,334,568 above a table's £2,334,567.89)."""
    year = make.year("2025-26")
    stream = make.stream("Core grant")
    make.allocation(year=year, stream=stream, pence=2_334_567_89)
    line = make.budget_line(year=year, stream=stream, amount_pence=2_000_000_49)
    make.ledger_line(date(2025, 5, 15), 1_234_50, budget_line=line)
    db.session.commit()
    auth.login("viewer")
    home = _tiles(client.get("/?year=2025-26").text)
    assert (home["Allocation"], home["Actual to date"]) == ("£2,334,567.89", "£1,234.50")
    assert home["Remaining"] == "£2,333,333.39"
    budget = _tiles(client.get("/funding/budget?year=2025-26&quarter=4").text)
    assert (budget["Allocation"], budget["Budget"], budget["Actual to date"]) == (
        "£2,334,567.89", "£2,000,000.49", "£1,234.50")


# --- Roll-over ------------------------------------------------------------------------------------------------

def test_rollover_preview_then_do_it_once(client, auth, make):
    line = make.budget_line(description="Mentoring")
    make.allocation(year=line.funding_year)
    make.commission("VRU-25-019", budget_line=line, start_date=date(2025, 4, 1), end_date=date(2027, 3, 31),
                    value_pence=14_800_00)
    db.session.commit()
    auth.login("finance")
    preview = client.get(f"/funding/years/{line.funding_year_id}/roll-over").text
    assert "VRU-25-019" in preview and "£7,400.00" in preview and "Create 4 item(s) in 2026-27" in preview
    assert "VRU-25-019/2026-27" not in preview  # the contract is not copied
    assert client.post(f"/funding/years/{line.funding_year_id}/roll-over").status_code == 303
    again = client.get(f"/funding/years/{line.funding_year_id}/roll-over").text
    assert "Already there" in again and "there is nothing to create" in again
    response = client.post(f"/funding/years/{line.funding_year_id}/roll-over", headers=HX)
    assert response.status_code == 204
    db.session.expire_all()
    assert count(FundingYear) == 2 and count(BudgetLine) == 2 and count(Allocation) == 2


def test_viewer_reads_the_budget_but_changes_nothing(client, auth, make):
    line = make.budget_line()
    db.session.commit()
    auth.login("viewer")
    page = client.get("/funding/budget").text
    assert "Add a budget line" not in page and "/edit" not in page
    assert client.post(f"/funding/years/{line.funding_year_id}/lines/new", data=line_data(line)).status_code == 403
