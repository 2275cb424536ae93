"""Revision i19_outputs_funding_year: today's measures, narratives and monitoring returns go into the year whose
quarters they were recorded as, their commission's funding year (docs/adr/outputs-per-funding-year.md), and
downgrading keeps them."""
from __future__ import annotations

from datetime import date, datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import Boolean, Date, DateTime, Integer, MetaData, String, Text, text

from tests.test_models_and_migrations import empty_database
from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db


def _insert(conn, table: str, **values) -> int:
    """A row with ``values`` and a stand-in for every other required column (the schema as it is at this
    revision, read from the database, not from today's models)."""
    t = MetaData()
    t.reflect(conn, only=[table])
    for column in t.tables[table].columns:
        if column.name in values or column.nullable or column.primary_key or column.server_default is not None:
            continue
        kind = column.type
        values[column.name] = (
            False if isinstance(kind, Boolean) else datetime(2025, 4, 1) if isinstance(kind, DateTime)
            else date(2025, 4, 1) if isinstance(kind, Date) else 0 if isinstance(kind, Integer)
            else "x" if isinstance(kind, (String, Text)) else "{}")
    return conn.execute(t.tables[table].insert().values(**values)).inserted_primary_key[0]


def test_outputs_go_into_their_commission_s_year(tmp_path):
    with empty_database(tmp_path) as url:
        config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
        app = create_app({**config, "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": str(tmp_path / "files")})
        with app.app_context():
            upgrade(revision="i18d_ledger_partial_indexes")
            with db.engine.begin() as conn:
                y1 = _insert(conn, "funding_years", label="2025-26", start_date=date(2025, 4, 1),
                             end_date=date(2026, 3, 31), status="open")
                _insert(conn, "funding_years", label="2026-27", start_date=date(2026, 4, 1),
                        end_date=date(2027, 3, 31), status="open")
                provider = _insert(conn, "providers", name="Alpha CIC")
                strand = _insert(conn, "strands", name="Serious Youth Violence")
                # A contract let in 2025-26 that runs into 2026-27: its outputs were recorded as 2025-26's.
                c = _insert(conn, "commissions", reference="VRU-25-030", title="Youth work", provider_id=provider,
                            strand_id=strand, funding_year_id=y1, value_pence=36_000_00,
                            start_date=date(2026, 1, 1), end_date=date(2027, 3, 31), version=1)
                metric = _insert(conn, "metrics", name="CYP engaged")
                m = _insert(conn, "measures", commission_id=c, metric_id=metric, target_q4=12,
                            created_at=datetime(2026, 5, 2))  # made after 2025-26 ended: still 2025-26's
                _insert(conn, "measure_actuals", measure_id=m, quarter=4, value=11)
                _insert(conn, "quarter_narratives", commission_id=c, quarter=4, text="On plan.")
                batch = _insert(conn, "import_batches", kind="monitoring", filename="r.xlsx", funding_year_id=y1)
                _insert(conn, "monitoring_returns", import_batch_id=batch, commission_id=c, quarter=4)

            upgrade(revision="i19_outputs_funding_year")
            with db.engine.connect() as conn:
                for table in ("measures", "quarter_narratives", "monitoring_returns"):
                    assert conn.execute(text(f"SELECT funding_year_id FROM {table}")).scalars().all() == [y1], table
                assert conn.execute(text("SELECT value FROM measure_actuals")).scalars().all() == [11]
            downgrade(revision="i18d_ledger_partial_indexes")
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM measures")).scalar() == 1
                assert conn.execute(text("SELECT count(*) FROM measure_actuals")).scalar() == 1
                assert conn.execute(text("SELECT count(*) FROM quarter_narratives")).scalar() == 1
            db.engine.dispose()
