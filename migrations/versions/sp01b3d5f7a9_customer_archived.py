"""Customers deleted or merged in billing: archived locally

Revision ID: sp01b3d5f7a9
Revises: op01b2c4d6e8
Create Date: 2026-12-02 05:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'sp01b3d5f7a9'
down_revision = 'op01b2c4d6e8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('archived_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('merged_into_code', sa.String(length=20), server_default='',
                                   nullable=False))
    # The default only fills the existing rows; new rows get theirs from the model.
    with op.batch_alter_table('customers') as batch:
        batch.alter_column('merged_into_code', server_default=None)


def downgrade():
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('merged_into_code')
        batch.drop_column('archived_at')
