"""Hold only matched lines in the ledger's commission and budget-line indexes: every query that uses them asks for
a commission's or a line's lines (x = value, never true of a null), and the unmatched lines an import brings,
often most of a council's ledger, then cost no index entry.

Revision ID: i18d_ledger_partial_indexes
Revises: i18c_ledger_po_number_index
"""
import sqlalchemy as sa
from alembic import op

revision = "i18d_ledger_partial_indexes"
down_revision = "i18c_ledger_po_number_index"
branch_labels = None
depends_on = None

INDEXES = (("ix_ledger_transactions_commission_net", ["commission_id", "net_pence"], "commission_id"),
           ("ix_ledger_transactions_budget_line_id", ["budget_line_id"], "budget_line_id"))


def upgrade():
    for name, columns, column in INDEXES:
        op.drop_index(name, table_name="ledger_transactions")
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "ledger_transactions", columns, postgresql_where=where, sqlite_where=where)


def downgrade():
    for name, columns, _column in INDEXES:
        op.drop_index(name, table_name="ledger_transactions")
        op.create_index(name, "ledger_transactions", columns)
