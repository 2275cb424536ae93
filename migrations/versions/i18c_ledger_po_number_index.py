"""Drop the ledger's po_number index: no query looks ledger lines up by PO number (matching reads the PO of each
line as it is imported, and the unmatched page searches PO numbers with LIKE, which a plain index cannot serve),
and every imported line paid to write it.

Revision ID: i18c_ledger_po_number_index
Revises: i18b_ledger_redundant_indexes
"""
from alembic import op

revision = "i18c_ledger_po_number_index"
down_revision = "i18b_ledger_redundant_indexes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("ledger_transactions") as batch:
        batch.drop_index("ix_ledger_transactions_po_number")


def downgrade():
    with op.batch_alter_table("ledger_transactions") as batch:
        batch.create_index("ix_ledger_transactions_po_number", ["po_number"])
