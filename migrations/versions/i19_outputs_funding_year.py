"""Outputs belong to a funding year: measures (with their targets and actuals), quarter narratives and uploaded
monitoring returns get the funding year they are for (issue 25).

Today's rows go into the year whose quarters they were recorded as: their commission's funding year, the only year
the outputs page, the provider's workbook and the PCC return ever offered or read them in (see
docs/adr/outputs-per-funding-year.md). So every issued return's outputs read the same rows after
the migration as before it.

Revision ID: i19_outputs_funding_year
Revises: i19_credits_reversals_reinvoice
"""
import sqlalchemy as sa
from alembic import op

revision = "i19_outputs_funding_year"
down_revision = "i19_credits_reversals_reinvoice"
branch_labels = None
depends_on = None

TABLES = ("measures", "quarter_narratives", "monitoring_returns")
# (table, unique constraint before, its columns, after, its columns)
UNIQUES = (("measures", "uq_measures_commission_metric", ["commission_id", "metric_id"],
            "uq_measures_commission_year_metric", ["commission_id", "funding_year_id", "metric_id"]),
           ("quarter_narratives", "uq_quarter_narratives_commission_quarter", ["commission_id", "quarter"],
            "uq_quarter_narratives_commission_year_quarter", ["commission_id", "funding_year_id", "quarter"]))


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("funding_year_id", sa.Integer(), nullable=True))
        op.execute(f"UPDATE {table} SET funding_year_id = (SELECT commissions.funding_year_id FROM commissions "
                   f"WHERE commissions.id = {table}.commission_id)")
    unique = {table: (old, new, columns) for table, old, _, new, columns in UNIQUES}
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("funding_year_id", existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(batch_op.f(f"fk_{table}_funding_year_id_funding_years"), "funding_years",
                                        ["funding_year_id"], ["id"])
            batch_op.create_index(batch_op.f(f"ix_{table}_funding_year_id"), ["funding_year_id"], unique=False)
            if table in unique:
                old, new, columns = unique[table]
                batch_op.drop_constraint(old, type_="unique")
                batch_op.create_unique_constraint(new, columns)


def downgrade():
    # Going back keeps one measure per commission and metric, and one narrative per commission and quarter: those
    # of the commission's own funding year. Outputs recorded for its other years cannot be held and are removed.
    op.execute("DELETE FROM measure_actuals WHERE measure_id IN (SELECT measures.id FROM measures JOIN commissions "
               "ON commissions.id = measures.commission_id "
               "WHERE measures.funding_year_id <> commissions.funding_year_id)")
    for table in ("measures", "quarter_narratives"):
        op.execute(f"DELETE FROM {table} WHERE funding_year_id <> (SELECT commissions.funding_year_id FROM commissions "
                   f"WHERE commissions.id = {table}.commission_id)")
    unique = {table: (old, old_columns, new) for table, old, old_columns, new, _ in UNIQUES}
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in unique:
                old, columns, new = unique[table]
                batch_op.drop_constraint(new, type_="unique")
                batch_op.create_unique_constraint(old, columns)
            batch_op.drop_index(batch_op.f(f"ix_{table}_funding_year_id"))
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_funding_year_id_funding_years"), type_="foreignkey")
            batch_op.drop_column("funding_year_id")
