"""Credits and reversals: ledger lines get a "to be re-invoiced" flag (false for every line: a credit is agreed,
and settled, until finance says it will be invoiced again), and accrual reversals get their own type.

The ledger's own type text is not kept (only the type it was read as), so the lines already imported as a
credit from a "Reversal" or "Rev" cannot be told from real credits here: only a stored type that itself says
reversal is reclassified. Importing the same ledger again corrects the rest (its lines are matched on reference
and amount, and a changed type is an ordinary change, in any open year).

Revision ID: i19_credits_reversals_reinvoice
Revises: i19_spend_follows_the_share
"""
import sqlalchemy as sa
from alembic import op

revision = "i19_credits_reversals_reinvoice"
down_revision = "i19_spend_follows_the_share"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("ledger_transactions", sa.Column("reinvoice", sa.Boolean(), server_default=sa.false(),
                                                   nullable=False))
    op.execute("UPDATE ledger_transactions SET transaction_type = 'reversal' "
               "WHERE lower(transaction_type) LIKE '%revers%' OR lower(trim(transaction_type)) = 'rev'")


def downgrade():
    # Before this revision a reversal was read by its sign, as a credit or an invoice.
    op.execute("UPDATE ledger_transactions SET transaction_type = CASE WHEN net_pence < 0 THEN 'credit' "
               "ELSE 'invoice' END WHERE transaction_type = 'reversal'")
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.drop_column("reinvoice")
