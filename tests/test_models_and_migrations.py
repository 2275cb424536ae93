"""The migrations build exactly the tables the models describe, on SQLite and on PostgreSQL."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError as OrmStaleDataError

from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db
from tracker.models import Base, Commission


@contextmanager
def empty_database(tmp_path):
    """A database with nothing in it, of the same kind as the suite's."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"vru_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_from_empty_reaches_the_models_and_downgrades_cleanly(tmp_path):
    with empty_database(tmp_path) as url:
        config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
        app = create_app({**config, "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": str(tmp_path / "files")})
        with app.app_context():
            upgrade()
            with db.engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
            tables = set(inspect(db.engine).get_table_names())
            assert set(Base.metadata.tables) <= tables
            _partial_ledger_indexes_serve_a_commission_s_lines()
            downgrade(revision="base")
            assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
            db.engine.dispose()


def test_monitoring_file_paths_become_relative_to_data_dir_and_back(tmp_path):
    """Revision i17_relative_file_paths: the absolute paths monitoring used to store become "monitoring/<name>"."""
    with empty_database(tmp_path) as url:
        config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
        data_dir = str(tmp_path / "files")
        app = create_app({**config, "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": data_dir})
        with app.app_context():
            upgrade(revision="c10c31be8654")
            with db.engine.begin() as conn:
                for kind, path in (("monitoring", "/srv/old-data/monitoring/ab12.xlsx"), ("ledger", "imports/cd34.csv")):
                    conn.execute(text(
                        "INSERT INTO import_batches (kind, filename, stored_path, sha256, size_bytes, sheet_name, "
                        "status, mapping, counts, problems, excluded_rows, undo, progress, total_rows, error, worker, "
                        "created_at) VALUES (:kind, 'f', :path, 'x', 1, 's', 'committed', '{}', '{}', '[]', '[]', "
                        "'{}', 0, 0, '', '', CURRENT_TIMESTAMP)"), {"kind": kind, "path": path})

            def paths():
                with db.engine.connect() as conn:
                    return conn.execute(text("SELECT stored_path FROM import_batches ORDER BY id")).scalars().all()

            upgrade(revision="i17_relative_file_paths")
            assert paths() == ["monitoring/ab12.xlsx", "imports/cd34.csv"]
            downgrade(revision="c10c31be8654")
            assert paths() == [os.path.join(data_dir, "monitoring", "ab12.xlsx"), "imports/cd34.csv"]
            downgrade(revision="base")
            db.engine.dispose()


def test_commission_reference_is_unique(app, make):
    make.commission(reference="VRU-25-001")
    with pytest.raises(IntegrityError):
        make.commission(reference="VRU-25-001")
    db.session.rollback()


def test_commission_version_counter_refuses_a_stale_save(app, make):
    commission = make.commission()
    db.session.commit()
    assert commission.version == 1
    # Another person saves first.
    with db.engine.begin() as other:
        other.execute(text("UPDATE commissions SET version = version + 1, title = 'theirs' WHERE id = :id"),
                      {"id": commission.id})
    commission.title = "mine"
    with pytest.raises(OrmStaleDataError):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(Commission, commission.id).title == "theirs"


def test_money_columns_are_integers_not_floats():
    from sqlalchemy import BigInteger, Float, Numeric

    for table in Base.metadata.tables.values():
        for column in table.columns:
            assert not isinstance(column.type, Float), f"{table.name}.{column.name} is a float"
            if column.name.endswith("_pence"):
                assert isinstance(column.type, BigInteger) and not isinstance(column.type, Numeric), column


def test_every_column_says_what_it_means():
    """Each mapped column carries a #: comment in the model source (the users' words)."""
    import inspect as pyinspect

    missing = []
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        lines = pyinspect.getsource(cls).splitlines()
        for column in mapper.columns:
            if column.primary_key and column.name == "id":
                continue
            where = next((i for i, line in enumerate(lines) if line.strip().startswith(f"{column.key}:")), None)
            # A column defined elsewhere (a mixin) has no comment here either: report it rather than skip it.
            if where is None or not lines[where - 1].strip().startswith("#:"):
                missing.append(f"{cls.__name__}.{column.key}")
    assert not missing, f"columns with no #: comment: {missing}"


def _partial_ledger_indexes_serve_a_commission_s_lines() -> None:
    """The ledger's commission and budget-line indexes hold only matched lines (compare_metadata does not compare
    an index's WHERE), and a query for one commission's or line's lines can still use them."""
    queries = {"ix_ledger_transactions_commission_net":
               "SELECT sum(net_pence) FROM ledger_transactions WHERE commission_id = 7",
               "ix_ledger_transactions_budget_line_id":
               "SELECT count(*) FROM ledger_transactions WHERE budget_line_id = 7"}
    with db.engine.connect() as conn:
        for name, query in queries.items():
            if db.engine.dialect.name == "sqlite":
                definition = conn.scalar(text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name})
                plan = " ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {query}")))
            else:
                definition = conn.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": name})
                conn.execute(text("SET enable_seqscan = off"))
                plan = " ".join(r[0] for r in conn.execute(text(f"EXPLAIN {query}")))
            assert "IS NOT NULL" in definition.upper(), definition
            assert name in plan, plan
