"""Drop the two ledger indexes that others already cover: ``reference`` leads the unique (reference, net) index
and ``commission_id`` leads (commission_id, net_pence). Each index is written on every inserted ledger line, so
the two cost an import time for no query.

Revision ID: i18b_ledger_redundant_indexes
Revises: i13_return_snapshots
"""
from alembic import op

revision = "i18b_ledger_redundant_indexes"
down_revision = "i13_return_snapshots"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("ledger_transactions") as batch:
        batch.drop_index("ix_ledger_transactions_reference")
        batch.drop_index("ix_ledger_transactions_commission_id")


def downgrade():
    with op.batch_alter_table("ledger_transactions") as batch:
        batch.create_index("ix_ledger_transactions_commission_id", ["commission_id"])
        batch.create_index("ix_ledger_transactions_reference", ["reference"])
