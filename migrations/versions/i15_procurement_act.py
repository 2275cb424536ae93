"""Procurement Act 2023: commission and provider fields, thresholds (seeded) and notices; transparency publications.

Revision ID: i15_procurement_act
Revises: i14_claims_conditions
Create Date: 2026-12-02 07:00:00
"""
from datetime import date, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'i15_procurement_act'
down_revision = 'i14_claims_conditions'
branch_labels = None
depends_on = None

# The thresholds the Act started with (VAT inclusive): the same as tracker.procurement.rules.SEEDED_THRESHOLDS,
# copied so the migration does not change if the code does.
SEEDED = (
    ('services', 21490400, date(2025, 2, 24), 'Procurement Act 2023 Schedule 1, sub-central authority services'),
    ('services', 20772000, date(2026, 1, 1), 'Revised thresholds from 1 January 2026'),
    ('light-touch', 66354000, date(2025, 2, 24), 'Procurement Act 2023 Schedule 1, light-touch contracts'),
)


def upgrade():
    with op.batch_alter_table('providers') as batch_op:
        batch_op.add_column(sa.Column('supported_employment', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('public_service_mutual', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('individual', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('commissions') as batch_op:
        batch_op.add_column(sa.Column('light_touch', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('procurement_started_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('contract_entered_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('value_incl_vat_pence', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('cdp_procurement_id', sa.String(length=60), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('cdp_contract_id', sa.String(length=60), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('award_reason', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('grant_conditions', sa.Text(), nullable=False, server_default=''))
    thresholds = op.create_table(
        'procurement_thresholds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('category', sa.String(length=20), nullable=False),
        sa.Column('amount_pence', sa.BigInteger(), nullable=False),
        sa.Column('applies_from', sa.Date(), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_procurement_thresholds')),
        sa.UniqueConstraint('category', 'applies_from', name='uq_procurement_thresholds_category_from'),
    )
    op.bulk_insert(thresholds, [
        {'category': c, 'amount_pence': p, 'applies_from': d, 'source': s, 'created_at': datetime(2026, 12, 2)}
        for c, p, d, s in SEEDED])
    op.create_table(
        'procurement_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('commission_id', sa.Integer(), nullable=True),
        sa.Column('variation_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('source_key', sa.String(length=80), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('published_on', sa.Date(), nullable=True),
        sa.Column('link', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['commission_id'], ['commissions.id'], name=op.f('fk_procurement_notices_commission_id_commissions')),
        sa.ForeignKeyConstraint(['variation_id'], ['variations.id'], name=op.f('fk_procurement_notices_variation_id_variations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_procurement_notices')),
        sa.UniqueConstraint('source_key', name=op.f('uq_procurement_notices_source_key')),
    )
    with op.batch_alter_table('procurement_notices') as batch_op:
        batch_op.create_index(batch_op.f('ix_procurement_notices_commission_id'), ['commission_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_procurement_notices_variation_id'), ['variation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_procurement_notices_due_date'), ['due_date'], unique=False)
    op.create_table(
        'publications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('period', sa.String(length=12), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('row_count', sa.Integer(), nullable=False),
        sa.Column('correction_note', sa.Text(), nullable=False),
        sa.Column('stored_path', sa.String(length=500), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('issued_by_id', sa.Integer(), nullable=True),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('published_on', sa.Date(), nullable=True),
        sa.Column('published_where', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_publications_issued_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_publications')),
        sa.UniqueConstraint('kind', 'period', 'version', name='uq_publications_kind_period_version'),
    )


def downgrade():
    op.drop_table('publications')
    op.drop_table('procurement_notices')
    op.drop_table('procurement_thresholds')
    with op.batch_alter_table('commissions') as batch_op:
        for name in ('grant_conditions', 'award_reason', 'cdp_contract_id', 'cdp_procurement_id', 'value_incl_vat_pence', 'contract_entered_on',
                     'procurement_started_on', 'light_touch'):
            batch_op.drop_column(name)
    with op.batch_alter_table('providers') as batch_op:
        for name in ('individual', 'public_service_mutual', 'supported_employment'):
            batch_op.drop_column(name)
