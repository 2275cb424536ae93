"""The funding-shares migration folds the old roll-over's REFERENCE/2026-27 copies back into their contract.

The database is built at the revision before it, with what the old roll-over left after rolling the demo's
£30,000.00 service (1 January to 31 December 2026) over: the original cut to £7,397.26 by a "Rolled over"
variation, and a copy worth £22,602.74 in 2026-27 with its own ledger lines, measure, milestone and document.
"""
from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import text

from tests.test_models_and_migrations import empty_database
from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db

NOW = "2026-04-02 10:00:00"


def _old_rollover(conn) -> None:
    run = lambda sql, **kw: conn.execute(text(sql), kw)  # noqa: E731
    run("INSERT INTO funding_years (id, label, start_date, end_date, status, notes, created_at) VALUES "
        "(1, '2025-26', '2025-04-01', '2026-03-31', 'open', '', :t), (2, '2026-27', '2026-04-01', '2027-03-31', 'draft', '', :t)", t=NOW)
    run("INSERT INTO funding_streams (id, name, funder, labour_split, claim_frequency, claim_due_days, active) "
        "VALUES (1, 'Home Office VRU core grant', 'Home Office', false, 'quarterly', 30, true)")
    run("INSERT INTO categories (id, name, labour, sort_order, active) VALUES (1, 'Commissioned services', false, 1, true)")
    run("INSERT INTO strands (id, name, description, sort_order, active) VALUES (1, 'Serious youth violence', '', 1, true)")
    for line_id, year_id in ((1, 1), (2, 2)):
        run("INSERT INTO budget_lines (id, funding_year_id, funding_stream_id, category_id, strand_id, labour, description, "
            "amount_pence, original_amount_pence, q1_pence, q2_pence, q3_pence, q4_pence) VALUES "
            "(:i, :y, 1, 1, 1, false, 'Mentoring', 8000000, 8000000, 2000000, 2000000, 2000000, 2000000)", i=line_id, y=year_id)
    run("INSERT INTO providers (id, name, charity_number, company_number, vcse, sme, notes, created_at) "
        "VALUES (1, 'Safe Steps CIC', '', '', true, true, '', :t)", t=NOW)
    cols = ("id, reference, title, description, provider_id, strand_id, funding_year_id, budget_line_id, procurement_route, "
            "competed, commission_type, value_pence, start_date, end_date, extension_options, status, pcc_decision_ref, "
            "po_number, contract_manager, version, created_at, updated_at, rolled_from_id")
    run(f"INSERT INTO commissions ({cols}) VALUES (1, 'VRU-25-030', 'Mentoring', '', 1, 1, 1, 1, 'Direct award', false, "
        "'contract', 739726, '2026-01-01', '2026-12-31', '', 'live', '', 'PO-1', 'Sam', 2, :t, :t, NULL)", t=NOW)
    run(f"INSERT INTO commissions ({cols}) VALUES (2, 'VRU-25-030/2026-27', 'Mentoring', '', 1, 1, 2, 2, 'Direct award', "
        "false, 'contract', 2260274, '2026-04-01', '2026-12-31', '', 'live', '', 'PO-1', 'Sam', 1, :t, :t, 1)", t=NOW)
    run("INSERT INTO variations (commission_id, variation_date, reason, value_change_pence, created_at) VALUES (1, "
        "'2026-04-02', 'Rolled over: £22,602.74 of the value, for delivery after 31 March, moved to 2026-27 as "
        "VRU-25-030/2026-27.', -2260274, :t)", t=NOW)
    ledger = ("INSERT INTO ledger_transactions (reference, posting_date, period, funding_year_id, cost_centre, account_code, "
              "account_description, supplier_id, supplier_name, invoice_number, po_number, narrative, net_pence, vat_pence, "
              "gross_pence, transaction_type, commission_id, match_method, budget_line_id, created_at) VALUES "
              "(:r, :d, :p, :y, '', '', '', 'S1', 'Safe Steps CIC', '', 'PO-1', '', 250000, 0, 250000, 'invoice', :c, 'po', :l, :t)")
    run(ledger, r="T1", d="2026-02-10", p=11, y=1, c=1, l=1, t=NOW)
    run(ledger, r="T2", d="2026-05-10", p=2, y=2, c=2, l=2, t=NOW)
    run("INSERT INTO metrics (id, name, unit, description, in_template, sort_order, active) VALUES (1, 'Referrals', 'people', '', true, 1, true)")
    for m, c in ((1, 1), (2, 2)):
        run("INSERT INTO measures (id, commission_id, metric_id, unit, target_q1, target_q2, target_q3, target_q4, target_year, "
            "created_at) VALUES (:m, :c, 1, 'people', 5, 5, 5, 5, 20, :t)", m=m, c=c, t=NOW)
    run("INSERT INTO measure_actuals (measure_id, quarter, value, recorded_at) VALUES (1, 4, 7, :t), (2, 1, 9, :t)", t=NOW)
    run("INSERT INTO milestones (title, programme, due_date, status, evidence, evidence_link, kind, commission_id, created_at, "
        "updated_at) VALUES ('Mid-contract review', 'Contracts', '2026-07-01', 'not started', '', '', 'task', 2, :t, :t)", t=NOW)
    run("INSERT INTO documents (kind, title, commission_id, created_at) VALUES ('contract', 'Signed contract', 2, :t)", t=NOW)


def test_old_rollover_copies_become_shares_of_their_contract_with_nothing_lost(tmp_path):
    with empty_database(tmp_path) as url:
        config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
        app = create_app({**config, "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": str(tmp_path / "files")})
        with app.app_context():
            upgrade(revision="c10c31be8654")
            with db.engine.begin() as conn:
                _old_rollover(conn)
            upgrade()
            with db.engine.connect() as conn:
                one = lambda sql: conn.execute(text(sql)).all()  # noqa: E731
                assert one("SELECT id, reference, value_pence, end_date FROM commissions") == [
                    (1, "VRU-25-030", 3_000_000, one("SELECT end_date FROM commissions")[0][0])]
                assert str(one("SELECT end_date FROM commissions")[0][0]) == "2026-12-31"
                assert sorted(one("SELECT year_label, funding_year_id, budget_line_id, amount_pence, commission_id "
                                  "FROM funding_shares")) == [("2025-26", 1, 1, 739_726, 1), ("2026-27", 2, 2, 2_260_274, 1)]
                assert one("SELECT count(*) FROM variations") == [(0,)]  # the contract itself never changed
                assert sorted(one("SELECT reference, commission_id FROM ledger_transactions")) == [("T1", 1), ("T2", 1)]
                assert one("SELECT id, commission_id FROM measures") == [(1, 1)]
                assert sorted(one("SELECT measure_id, quarter, value FROM measure_actuals")) == [(1, 1, 9), (1, 4, 7)]
                assert one("SELECT commission_id FROM milestones") == [(1,)]
                assert one("SELECT commission_id FROM documents") == [(1,)]
            db.engine.dispose()
