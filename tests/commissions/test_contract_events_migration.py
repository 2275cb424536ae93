"""Revision i19_events_contract_events moves today's history of each contract into contract events."""
from __future__ import annotations

from datetime import date, datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from tests.factories import Factories
from tests.test_models_and_migrations import empty_database
from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db
from tracker.models import ContractEvent, Variation


def test_history_from_the_audit_trail_and_the_variations_becomes_events(tmp_path):
    with empty_database(tmp_path) as url:
        config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
        app = create_app({**config, "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": str(tmp_path / "files")})
        with app.app_context():
            # The data is made with today's models (so at the newest revision), then the migration is run again
            # from the revision before it: the contract events it makes come from the audit trail alone.
            upgrade()
            make = Factories(db.session)
            entered = make.commission(status="terminated", value_pence=36_000_00)  # entered, changed, varied
            quiet = make.commission(status="live")  # no trail at all (made before the trail was kept)
            at = datetime(2025, 5, 2, 9, 30)
            make.audit_event(kind="create", object_id=entered.id, created_at=at, after={"status": "awarded"})
            make.audit_event(object_id=entered.id, created_at=datetime(2025, 6, 1, 10), before={"status": "awarded"},
                             after={"status": "live"})
            make.audit_event(object_id=entered.id, created_at=datetime(2025, 8, 1, 10),
                             before={"value_pence": 30_000_00, "_effective": "2025-07-20"},
                             after={"value_pence": 36_000_00, "_effective": "2025-07-20"})
            make.audit_event(object_id=entered.id, created_at=datetime(2026, 1, 20, 10), before={"status": "live"},
                             after={"status": "terminated"})
            make._add(Variation(commission_id=entered.id, variation_date=date(2025, 7, 20), reason="More sessions",
                                value_change_pence=6_000_00, created_at=datetime(2025, 8, 1, 10)))
            db.session.commit()
            entered_id, quiet_id = entered.id, quiet.id
            db.session.close()
            downgrade(revision="i19_outputs_funding_year")  # the revision before contract events

            upgrade(revision="i19_events_contract_events")
            rows = db.session.scalars(select(ContractEvent).order_by(ContractEvent.commission_id,
                                                                     ContractEvent.effective_date)).all()
            mine = [(e.kind, e.from_status, e.effective_date, e.value_before_pence, e.value_after_pence)
                    for e in rows if e.commission_id == entered_id]
            assert mine == [("awarded", None, date(2025, 5, 2), None, None),
                            ("live", "awarded", date(2025, 6, 1), None, None),
                            ("varied", None, date(2025, 7, 20), 30_000_00, 36_000_00),
                            ("terminated", "live", date(2026, 1, 20), None, None)]
            assert [(e.kind, e.from_status) for e in rows if e.commission_id == quiet_id] == [("live", None)]
            db.session.close()
            downgrade(revision="base")
            db.engine.dispose()
