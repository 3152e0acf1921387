"""Indexes for the hot statements found by EXPLAIN on PostgreSQL: the requests list's newest-first
page (activities.created_at, id) and the call center's name search in (search_name, id) order,
which replaces the index on search_name alone (its leading column)

Revision ID: pg01c3e5a7b9
Revises: bc01e2f4a6c8
Create Date: 2026-12-02 21:00:00

"""
from alembic import op


revision = 'pg01c3e5a7b9'
down_revision = 'bc01e2f4a6c8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_created_id', ['created_at', 'id'], unique=False)
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_search_name_id', ['search_name', 'id'], unique=False)
        batch_op.drop_index('ix_customers_search_name')


def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_search_name', ['search_name'], unique=False)
        batch_op.drop_index('ix_customers_search_name_id')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_created_id')
