"""A contract's ledger lines keep their own coding; the figures engine routes them to the contract's shares (issue 25).

Until now matching put a line on a contract's largest share's budget line, so a contract split across streams
charged all its spend there. From now on a line matched to a contract keeps the budget line its account rule gives
it (its own coding), or none, and ``figures.route_spend`` decides which share it counts on when figures are read:
the coded share when the coding names one of the contract's shares, else apportioned across them by amount.

This migration re-derives the coding of every line on a contract: the account rule for its account code and year
where there is one, else nothing. Lines not on a contract are untouched.

Revision ID: i19_spend_follows_the_share
Revises: i18d_ledger_partial_indexes
Create Date: 2026-12-07 23:55:00

"""
from alembic import op


revision = 'i19_spend_follows_the_share'
down_revision = 'i18d_ledger_partial_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
        UPDATE ledger_transactions SET budget_line_id = (
            SELECT r.budget_line_id FROM account_rules r
            WHERE r.account_code = UPPER(TRIM(ledger_transactions.account_code))
              AND r.funding_year_id = ledger_transactions.funding_year_id)
        WHERE commission_id IS NOT NULL
    """)


def downgrade():
    # The largest-share line is not worth restoring: the figures engine routes contract spend whatever the column says.
    pass
