"""Returns keep a correction reason, their figures as issued (JSON), and each line's and stream's forecast.

Revision ID: i13_return_snapshots
Revises: i15_procurement_act
Create Date: 2026-12-02 07:00:00

Returns issued before this have no frozen figures or snapshots: their on-screen view says so and offers the
file, and forecast movement counts from the first return issued after it.
"""
from alembic import op
import sqlalchemy as sa

revision = "i13_return_snapshots"
down_revision = "i15_procurement_act"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("pcc_returns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("correction_reason", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("frozen", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "forecast_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pcc_return_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("budget_line_id", sa.Integer(), nullable=True),
        sa.Column("funding_stream_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("profile_q1_pence", sa.BigInteger(), nullable=False),
        sa.Column("profile_q2_pence", sa.BigInteger(), nullable=False),
        sa.Column("profile_q3_pence", sa.BigInteger(), nullable=False),
        sa.Column("profile_q4_pence", sa.BigInteger(), nullable=False),
        sa.Column("actual_to_date_pence", sa.BigInteger(), nullable=False),
        sa.Column("committed_pence", sa.BigInteger(), nullable=False),
        sa.Column("forecast_pence", sa.BigInteger(), nullable=False),
        sa.Column("variance_pence", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["budget_line_id"], ["budget_lines.id"],
                                name=op.f("fk_forecast_snapshots_budget_line_id_budget_lines"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["funding_stream_id"], ["funding_streams.id"],
                                name=op.f("fk_forecast_snapshots_funding_stream_id_funding_streams"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["pcc_return_id"], ["pcc_returns.id"],
                                name=op.f("fk_forecast_snapshots_pcc_return_id_pcc_returns"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_snapshots")),
    )
    with op.batch_alter_table("forecast_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forecast_snapshots_pcc_return_id"), ["pcc_return_id"], unique=False)


def downgrade():
    with op.batch_alter_table("forecast_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forecast_snapshots_pcc_return_id"))
    op.drop_table("forecast_snapshots")
    with op.batch_alter_table("pcc_returns", schema=None) as batch_op:
        batch_op.drop_column("frozen")
        batch_op.drop_column("correction_reason")
