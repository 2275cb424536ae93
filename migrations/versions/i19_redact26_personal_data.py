"""Finance's decisions on ledger lines a public spend file may name a person by: redact, or let through with a
reason (``personal_data_decisions``), kept so every later version of a file keeps them.

Revision ID: i19_redact26_personal_data
Revises: i19_held_ledger_holds
"""
import sqlalchemy as sa
from alembic import op

revision = "i19_redact26_personal_data"
down_revision = "i19_held_ledger_holds"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "personal_data_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ledger_transaction_id", sa.Integer(), nullable=False),
        sa.Column("publish", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("findings", sa.String(length=1000), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ledger_transaction_id"], ["ledger_transactions.id"],
                                name=op.f("fk_personal_data_decisions_ledger_transaction_id_ledger_transactions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"],
                                name=op.f("fk_personal_data_decisions_decided_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_decisions")),
        sa.UniqueConstraint("ledger_transaction_id", name=op.f("uq_personal_data_decisions_ledger_transaction_id")),
    )


def downgrade():
    op.drop_table("personal_data_decisions")
