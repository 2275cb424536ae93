"""Issue 12: one commit per draft (claim token, one active batch per file), one budget line per natural key,
and server-side session records.

Revision ID: i12_integrity_sessions
Revises: a19b_share_payments
Create Date: 2026-12-02 06:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'i12_integrity_sessions'
down_revision = 'a19b_share_payments'
branch_labels = None
depends_on = None

ACTIVE = "status IN ('committing', 'committed')"


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('ended_reason', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('draft_token', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_import_batches_draft_token'), ['draft_token'])
    # Before the one-active-batch-per-file index: a file committed twice keeps its first batch committed and
    # the later ones are marked failed (their rows are left for a person to withdraw or keep).
    op.execute(
        "UPDATE import_batches SET status = 'failed', error = 'The same file was committed twice; this later "
        "import was marked failed when the database was upgraded.' WHERE " + ACTIVE + " AND id NOT IN "
        "(SELECT min_id FROM (SELECT MIN(id) AS min_id FROM import_batches WHERE " + ACTIVE + " GROUP BY sha256) AS firsts)")
    op.create_index('uq_import_batches_active_sha256', 'import_batches', ['sha256'], unique=True,
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))

    duplicates = op.get_bind().execute(sa.text(
        "SELECT funding_year_id, funding_stream_id, category_id, strand_id, COUNT(*) FROM budget_lines "
        "GROUP BY funding_year_id, funding_stream_id, category_id, strand_id HAVING COUNT(*) > 1")).fetchall()
    if duplicates:
        raise RuntimeError(
            "Some budget lines share a funding year, stream, category and strand (year, stream, category, strand "
            f"ids: {[tuple(d[:4]) for d in duplicates]}). Move their commissions and ledger lines onto one line of "
            "each group and delete the others, then run the upgrade again.")
    with op.batch_alter_table('budget_lines', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_budget_lines_year_stream_category_strand',
                                          ['funding_year_id', 'funding_stream_id', 'category_id', 'strand_id'])


def downgrade():
    with op.batch_alter_table('budget_lines', schema=None) as batch_op:
        batch_op.drop_constraint('uq_budget_lines_year_stream_category_strand', type_='unique')
    op.drop_index('uq_import_batches_active_sha256', table_name='import_batches')
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_import_batches_draft_token'), type_='unique')
        batch_op.drop_column('draft_token')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
    op.drop_table('user_sessions')
