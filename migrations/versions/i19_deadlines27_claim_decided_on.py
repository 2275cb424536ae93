"""The date of the funder's decision on a claim (approved or queried): ``claims.decided_on``. Claims decided
before it existed keep no date (the audit trail has when the decision was recorded).

Revision ID: i19_deadlines27_claim_decided_on
Revises: i19_locks26_versions
"""
import sqlalchemy as sa
from alembic import op

revision = "i19_deadlines27_claim_decided_on"
down_revision = "i19_locks26_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("decided_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("decided_on")
