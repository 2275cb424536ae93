"""Hold ledger lines matched to a contract not yet awarded (pipeline, approved, procuring) or dated outside its
start and end: ``ledger_transactions.held_reason``, and the lines already imported that meet the rule held now
(automatic matches in years not closed, as ``imports.matching.hold_for`` decides; a line a person assigned stays
counted, and a closed year's reported figures are not changed).

Revision ID: i19_held_ledger_holds
Revises: i19_events_contract_events
"""
import sqlalchemy as sa
from alembic import op

revision = "i19_held_ledger_holds"
down_revision = "i19_events_contract_events"
branch_labels = None
depends_on = None

# As in tracker.imports.matching (HELD_METHODS, NOT_AWARDED, OUTSIDE_DATES) and models.commissions: a migration
# keeps its own copy, so a later change there does not rewrite what this one did.
AUTOMATIC = "('po', 'supplier')"
NOT_YET_AWARDED = "('pipeline', 'approved', 'procuring')"
OPEN_LINES = (f"match_method IN {AUTOMATIC} AND commission_id IS NOT NULL AND held_reason IS NULL "
              "AND funding_year_id IN (SELECT id FROM funding_years WHERE status != 'closed')")


INDEX = "ix_ledger_transactions_commission_net"
MATCHED = sa.text("commission_id IS NOT NULL")


def _index(*columns: str) -> None:
    op.drop_index(INDEX, table_name="ledger_transactions")
    op.create_index(INDEX, "ledger_transactions", list(columns), postgresql_where=MATCHED, sqlite_where=MATCHED)


def upgrade():
    with op.batch_alter_table("ledger_transactions") as batch:
        batch.add_column(sa.Column("held_reason", sa.String(length=20), nullable=True))
    # A contract's counted spend (held lines left out) stays answered from the index alone.
    _index("commission_id", "net_pence", "held_reason")
    op.execute(f"UPDATE ledger_transactions SET held_reason = 'not_awarded' WHERE {OPEN_LINES} AND commission_id IN "
               f"(SELECT id FROM commissions WHERE status IN {NOT_YET_AWARDED})")
    op.execute(f"UPDATE ledger_transactions SET held_reason = 'outside_dates' WHERE {OPEN_LINES} AND EXISTS "
               "(SELECT 1 FROM commissions c WHERE c.id = ledger_transactions.commission_id "
               "AND (ledger_transactions.posting_date < c.start_date "
               "OR ledger_transactions.posting_date > c.end_date))")


def downgrade():
    _index("commission_id", "net_pence")
    with op.batch_alter_table("ledger_transactions") as batch:
        batch.drop_column("held_reason")
