"""Every write once, no change silently lost: a version on every record people edit (a save from an older form is
refused), a change counter on claims (each transition is conditional on it), and the one-time tokens of create
forms (a second POST of a form answers with the record the first made).

Revision ID: i19_locks26_versions
Revises: i19_redact26_personal_data
"""
import sqlalchemy as sa
from alembic import op

revision = "i19_locks26_versions"
down_revision = "i19_redact26_personal_data"
branch_labels = None
depends_on = None

#: (table, column): every existing row starts at 1.
VERSIONED = (("funding_years", "version"), ("funding_streams", "version"), ("budget_lines", "version"),
             ("providers", "version"), ("milestones", "version"), ("measures", "version"),
             ("match_contributions", "version"), ("claims", "row_version"))


def upgrade():
    for table, column in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "form_uses",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_form_uses_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_form_uses")),
    )


def downgrade():
    op.drop_table("form_uses")
    for table, column in reversed(VERSIONED):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
