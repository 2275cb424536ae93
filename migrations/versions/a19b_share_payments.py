"""Payment schedules on funding shares (optional: due dates and amounts).

Revision ID: a19b_share_payments
Revises: i17_relative_file_paths
"""
from alembic import op
import sqlalchemy as sa

revision = "a19b_share_payments"
down_revision = "i17_relative_file_paths"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "share_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("funding_share_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["funding_share_id"], ["funding_shares.id"], name=op.f("fk_share_payments_funding_share_id_funding_shares")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_payments")),
        sa.UniqueConstraint("funding_share_id", "due_date", name="uq_share_payments_share_due_date"),
    )
    with op.batch_alter_table("share_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_payments_funding_share_id"), ["funding_share_id"], unique=False)


def downgrade():
    with op.batch_alter_table("share_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_payments_funding_share_id"))
    op.drop_table("share_payments")
