"""Account rules: an account code's ledger lines go straight to a budget line (issue 18).

Revision ID: i18_a1_account_rules
Revises: i12_integrity_sessions
Create Date: 2026-12-02 06:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'i18_a1_account_rules'
down_revision = 'i12_integrity_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('account_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_code', sa.String(length=40), nullable=False),
    sa.Column('funding_year_id', sa.Integer(), nullable=False),
    sa.Column('budget_line_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['budget_line_id'], ['budget_lines.id'], name=op.f('fk_account_rules_budget_line_id_budget_lines')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_account_rules_created_by_id_users')),
    sa.ForeignKeyConstraint(['funding_year_id'], ['funding_years.id'], name=op.f('fk_account_rules_funding_year_id_funding_years')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_rules')),
    sa.UniqueConstraint('account_code', 'funding_year_id', name='uq_account_rules_account_code_funding_year_id')
    )
    with op.batch_alter_table('account_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_rules_budget_line_id'), ['budget_line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_rules_funding_year_id'), ['funding_year_id'], unique=False)


def downgrade():
    with op.batch_alter_table('account_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_rules_funding_year_id'))
        batch_op.drop_index(batch_op.f('ix_account_rules_budget_line_id'))
    op.drop_table('account_rules')
