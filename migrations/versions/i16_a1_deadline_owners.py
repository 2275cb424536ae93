"""Deadline owners: a finance lead per funding stream, and whether a generated deadline's owner was chosen by
the app (it then follows the contract manager or finance lead) or by a person.

Revision ID: i16_a1_deadline_owners
Revises: i18_a1_account_rules
Create Date: 2026-12-02 06:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'i16_a1_deadline_owners'
down_revision = 'i18_a1_account_rules'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('funding_streams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('finance_lead_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_funding_streams_finance_lead_id_users'), 'users',
                                    ['finance_lead_id'], ['id'])
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_is_default', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.drop_column('owner_is_default')
    with op.batch_alter_table('funding_streams', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_funding_streams_finance_lead_id_users'), type_='foreignkey')
        batch_op.drop_column('finance_lead_id')
