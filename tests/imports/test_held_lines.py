"""Ledger lines matched to a contract not yet awarded, or dated outside its start and end, land held: a warning at
the import's check (not a refusal), a group of their own on the unmatched page, and not counted on the contract
(its spend, the budget figures, the return) until finance confirms the match or takes the line off the contract.
A change to the contract's status or dates decides again whether its lines are held."""
from __future__ import annotations

import html
from datetime import date

import pytest
from sqlalchemy import select, text

from tests.imports.helpers import upload
from tracker import figures
from tracker.extensions import db
from tracker.imports import matching
from tracker.models import AuditEvent, Commission, FundingYear, LedgerTransaction
from tracker.returns import builder

HEADER = "Transaction Ref,Posting Date,Supplier Name,PO Number,Narrative,Net\n"
# The ledger: spend from April-September 2025 on a Pipeline contract starting 1 January 2026 and on a
# Procuring one; a line dated before a live contract starts; and one that is fine.
ROWS = [
    "P1,03/05/2025,Northgate Youth Trust,PO-014,Detached youth work,76389.18",
    "P2,10/06/2025,Eastside Mentors,PO-020,Mentoring,40717.76",
    "L1,03/05/2025,Harbour Family Support,PO-001,Family support,1000.00",
    "L2,15/08/2025,Harbour Family Support,PO-001,Family support,2500.00",
]


@pytest.fixture
def contracts(app, make):
    year = make.year("2025-26", status="open")
    make.year("2026-27", status="open")
    line = make.budget_line(year=year)
    pipeline = make.commission("VRU-25-014", budget_line=line, status="pipeline", po_number="PO-014",
                               value_pence=100_000_00, start_date=date(2026, 1, 1), end_date=date(2026, 12, 31),
                               provider=make.provider("Northgate Youth Trust"))
    procuring = make.commission("VRU-25-020", budget_line=line, status="procuring", po_number="PO-020",
                                value_pence=50_000_00, provider=make.provider("Eastside Mentors"))
    live = make.commission("VRU-25-001", budget_line=line, status="live", po_number="PO-001", value_pence=20_000_00,
                           start_date=date(2025, 7, 1), end_date=date(2026, 3, 31),
                           provider=make.provider("Harbour Family Support"))
    db.session.commit()
    return {"year": year, "line": line, "pipeline": pipeline, "procuring": procuring, "live": live}


def _import(client, tmp_path, rows=ROWS, name="ledger.csv"):
    """The documented ledger import: upload, the check (preview), commit. Returns the preview's text."""
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(rows) + "\n")
    response = upload(client, path, kind="ledger")
    assert response.status_code == 303, response.text
    draft = "/imports/drafts/" + response.location.split("/drafts/")[1].split("/")[0]
    preview = client.get(draft)
    assert preview.status_code == 200, preview.text
    committed = client.post(draft + "/commit")
    assert committed.status_code == 303, committed.text
    return html.unescape(preview.text)


def line(reference: str) -> LedgerTransaction:
    db.session.expire_all()
    return db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.reference == reference))


def audits_of(l: LedgerTransaction) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.summary).where(AuditEvent.object_type == "LedgerTransaction",
                                                                    AuditEvent.object_id == l.id)
                                   .order_by(AuditEvent.id)))


@pytest.fixture
def imported(contracts, client, auth, tmp_path):
    auth.login("admin")  # imports (finance) and changes contracts (manager)
    contracts["preview"] = _import(client, tmp_path)
    return contracts


def test_the_check_warns_in_finance_s_words_and_the_lines_land_held(imported):
    text = imported["preview"]
    assert "3 lines (£118,106.94) will be held" in text
    assert "Matched to a contract not yet awarded: 2 lines, £117,106.94" in text
    assert "Dated outside the contract: 1 line, £1,000.00" in text
    assert "matched to VRU-25-014, which is not yet awarded (Pipeline)" in text
    assert "matched to VRU-25-020, which is not yet awarded (Procuring)" in text
    assert "dated 03/05/2025, before VRU-25-001 starts on 01/07/2025" in text
    assert "Rows with problems</span> <span class=\"headline-figures__value\">0" in text  # a warning, not an error
    assert "Import 4 rows" in text
    assert "VRU-25-014 (held)" in text  # the sample says where the line goes, and that it is held
    # Committed, all four: the three held keep their contract (and their own coding: none here) but are marked held.
    held = {r: line(r).held_reason for r in ("P1", "P2", "L1", "L2")}
    assert held == {"P1": "not_awarded", "P2": "not_awarded", "L1": "outside_dates", "L2": None}
    assert line("P1").commission_id == imported["pipeline"].id and line("P1").match_method == "po"
    assert line("P1").budget_line_id is None


def test_held_spend_counts_on_no_contract_in_the_figures_and_the_return(imported, client):
    pipeline, procuring, live = imported["pipeline"], imported["procuring"], imported["live"]
    assert figures.paid_by_contract([pipeline.id, procuring.id, live.id]) == {live.id: 2_500_00}
    assert figures.paid_by_quarter(pipeline.id) == []
    yf = figures.year_figures(imported["year"], 2, today=date(2025, 10, 15))
    rows = {r[0]: r for r in builder.commissions_table(yf).rows}
    pipeline_share = next(s.amount_pence for s in pipeline.funding_shares if s.year_label == "2025-26")
    # Reference, service, provider, strand, stream, share, paid this quarter, paid to date, committed, remaining...
    assert rows["VRU-25-014"][7] == 0 and rows["VRU-25-014"][9] == pipeline_share  # not "Remaining (£68,991.92)"
    assert rows["VRU-25-020"][7] == 0 and rows["VRU-25-020"][9] == 50_000_00
    assert rows["VRU-25-001"][7] == 2_500_00 and rows["VRU-25-001"][9] == 17_500_00  # L1 (held) not paid on it
    assert all(r[9] >= 0 for r in rows.values())
    # The money was spent, but on no contract's share until finance confirms it: with no coding of its own it is
    # "Not on a budget line", so it is neither lost nor counted twice (the line's actual and outstanding).
    [f] = [f for l, f in yf.lines if l.id == imported["line"].id]
    assert f.actual_to_date == 2_500_00
    assert f.outstanding == 20_000_00 - 2_500_00
    assert yf.not_on_a_line.actual_to_date == 76_389_18 + 40_717_76 + 1_000_00
    # The contract's own page counts only what is counted, and says which lines are held.
    page = html.unescape(client.get(f"/commissions/{live.id}").text)
    assert "£2,500.00</strong> spent of £20,000.00" in page and "Held: not counted" in page
    register = html.unescape(client.get("/commissions/?q=VRU-25-014").text)
    assert "£76,389.18" not in register


def test_the_unmatched_page_groups_held_lines_for_finance_to_confirm_or_take_off(imported, client, auth):
    page = html.unescape(client.get("/imports/unmatched").text)
    assert "Matched to a contract not yet awarded</strong>: 2 lines, £117,106.94" in page
    assert "Dated outside the contract</strong>: 1 line, £1,000.00" in page
    assert "Dated 03/05/2025, before VRU-25-001 starts on 01/07/2025" in page
    assert f'action="/imports/held/{line("P1").id}/confirm"' in page
    auth.logout()
    auth.login("manager")
    seen = html.unescape(client.get("/imports/unmatched").text)
    assert "Matched to a contract not yet awarded" in seen and "/confirm" not in seen  # read, not act
    assert client.post(f"/imports/held/{line('P1').id}/confirm").status_code == 403
    assert client.post(f"/imports/held/{line('P1').id}/release").status_code == 403
    assert line("P1").held_reason == "not_awarded"


def test_confirming_counts_the_line_once_audited(imported, client, auth):
    auth.logout()
    auth.login("finance")
    held = line("L1")
    first = client.post(f"/imports/held/{held.id}/confirm", follow_redirects=True)
    assert first.status_code == 200 and "Line L1 confirmed: it counts on VRU-25-001 now." in html.unescape(first.text)
    again = client.post(f"/imports/held/{held.id}/confirm", follow_redirects=True)  # the double click
    assert "no longer held" in again.text
    confirmed = line("L1")
    assert (confirmed.held_reason, confirmed.match_method) == (None, "manual")
    assert [s for s in audits_of(confirmed) if s.startswith("Confirmed")] == [
        "Confirmed ledger line L1 on VRU-25-001: it counts now"]
    assert figures.paid_by_contract([imported["live"].id]) == {imported["live"].id: 3_500_00}
    assert client.post("/imports/held/999999/confirm").status_code == 404


def test_taking_a_line_off_puts_it_among_the_unmatched_audited(imported, client):
    before = matching.unmatched_count()
    response = client.post(f"/imports/held/{line('P2').id}/release", follow_redirects=True)
    assert "taken off its contract" in response.text
    released = line("P2")
    assert (released.commission_id, released.budget_line_id, released.held_reason) == (None, None, None)
    assert matching.unmatched_count() == before + 1
    assert "Took ledger line P2 off VRU-25-020: unmatched now" in audits_of(released)
    assert "no longer held" in client.post(f"/imports/held/{released.id}/release", follow_redirects=True).text


def test_a_line_in_a_closed_year_cannot_be_confirmed(imported, client):
    db.session.get(FundingYear, imported["year"].id).status = "closed"
    db.session.commit()
    response = client.post(f"/imports/held/{line('P1').id}/confirm")
    assert response.status_code == 409 and "closed" in response.text
    assert line("P1").held_reason == "not_awarded"


def test_awarding_or_varying_the_contract_decides_the_holds_again(imported, client):
    pipeline, live = imported["pipeline"], imported["live"]
    # Awarded: its April-September lines are still dated before it starts (held, now for that reason).
    response = client.post(f"/commissions/{pipeline.id}/status",
                           data={"status": "awarded", "version": pipeline.version})
    assert response.status_code == 303
    assert line("P1").held_reason == "outside_dates"
    procuring = db.session.get(Commission, imported["procuring"].id)
    client.post(f"/commissions/{procuring.id}/status", data={"status": "live", "version": procuring.version})
    assert line("P2").held_reason is None  # awarded and dated within it: counts now
    assert "Ledger line P2 now counts on VRU-25-020" in audits_of(line("P2"))
    # The live contract's end brought forward before L2's date: L2 is held; L1 (confirmed first) is finance's call.
    client.post(f"/imports/held/{line('L1').id}/confirm")
    live = db.session.get(Commission, live.id)
    assert client.post(f"/commissions/{live.id}/end-date",
                       data={"end_date": "31/07/2025", "version": live.version}).status_code == 303
    assert line("L2").held_reason == "outside_dates"
    assert line("L1").held_reason is None
    assert any("dated 15/08/2025, after VRU-25-001 ends on 31/07/2025" in s for s in audits_of(line("L2")))


def test_a_person_s_assignment_is_never_held(contracts, make, client, auth):
    auth.login("finance")
    stray = make.ledger_line(posting_date=date(2025, 5, 3), reference="S1", supplier_name="Someone")
    db.session.commit()
    response = client.post("/imports/unmatched/assign", data={"lines": [stray.id],
                                                              "commission": contracts["pipeline"].id})
    assert response.status_code == 303, response.text
    assert (line("S1").commission_id, line("S1").held_reason) == (contracts["pipeline"].id, None)
    assert matching.recheck_holds(contracts["pipeline"].id) == 0


def test_the_rule(app):
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    assert matching.hold_for("pipeline", start, end, date(2026, 2, 1)) == matching.NOT_AWARDED
    assert matching.hold_for("approved", start, end, date(2026, 2, 1)) == matching.NOT_AWARDED
    assert matching.hold_for("procuring", start, end, date(2026, 2, 1)) == matching.NOT_AWARDED
    for status in ("awarded", "live", "ended", "terminated"):
        assert matching.hold_for(status, start, end, date(2026, 2, 1)) is None
        assert matching.hold_for(status, start, end, date(2025, 12, 31)) == matching.OUTSIDE_DATES
        assert matching.hold_for(status, start, end, date(2027, 1, 1)) == matching.OUTSIDE_DATES
    assert matching.hold_for("live", start, end, start) is None and matching.hold_for("live", start, end, end) is None


def test_held_lines_are_not_among_the_unassigned(imported):
    assert matching.held_count() == 3
    assert matching.unmatched_count() == 0  # they keep their contract: the held group, not the supplier groups
    shown = [l.reference for g in matching.held_lines().values() for l, _c, _why in g["lines"]]
    assert shown == ["P1", "P2", "L1"]  # by group, then contract


def test_the_migration_holds_lines_already_imported(tmp_path):
    """Revision i19_held_ledger_holds: lines the rules matched to a contract not yet awarded or outside its dates,
    in years not closed, are held; a person's assignment and a closed year's lines are left as they were."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from flask_migrate import downgrade, upgrade

    from tests.factories import Factories
    from tests.test_models_and_migrations import empty_database
    from tracker import create_app
    from tracker.config import TestConfig
    from tracker.models import Base

    with empty_database(tmp_path) as url:
        config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
        app = create_app({**config, "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": str(tmp_path / "files")})
        with app.app_context():
            upgrade()
            make = Factories(db.session)
            year = make.year("2025-26", status="open")
            closed = make.year("2024-25", status="closed")
            pipeline = make.commission("PIPE", status="pipeline", year=year)
            live = make.commission("LIVE", status="live", start_date=date(2025, 7, 1), end_date=date(2026, 3, 31),
                                   year=year)
            old_pipeline = make.commission("OLD", status="pipeline", year=closed)
            for ref, when, commission, method in (("P", date(2025, 5, 1), pipeline, "po"),
                                                  ("O", date(2025, 5, 1), live, "supplier"),
                                                  ("IN", date(2025, 8, 1), live, "po"),
                                                  ("M", date(2025, 5, 1), pipeline, "manual"),
                                                  ("C", date(2024, 5, 1), old_pipeline, "po")):
                make.ledger_line(posting_date=when, reference=ref, commission=commission, match_method=method)
            db.session.commit()
            db.session.remove()
            downgrade(revision="i19_events_contract_events")  # the revision before this one
            upgrade()
            with db.engine.connect() as conn:
                held = dict(conn.execute(text("SELECT reference, held_reason FROM ledger_transactions")).all())
                diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            assert held == {"P": "not_awarded", "O": "outside_dates", "IN": None, "M": None, "C": None}
            assert diff == [], f"models and migrations differ after a round trip: {diff}"
            db.session.remove()
            db.engine.dispose()


def test_the_command_line_says_which_lines_land_held_and_still_imports(contracts, runner, tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_text(HEADER + "\n".join(ROWS) + "\n")
    result = runner.invoke(args=["import", str(path), "--kind", "ledger", "--commit"])
    assert result.exit_code == 0, result.output
    assert "matched to VRU-25-014, which is not yet awarded (Pipeline)" in result.output
    assert "Held: " in result.output and "Problem:" not in result.output
    assert line("P1").held_reason == "not_awarded"
