"""Mandate lifecycle: rejection reason and time of the last state change

Revision ID: ma01c3d5e7f9
Revises: re01c4a7d2f9
Create Date: 2026-12-02 01:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'ma01c3d5e7f9'
down_revision = 're01c4a7d2f9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('direct_debit_mandates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rejection_reason', sa.String(length=500), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('status_changed_at', sa.DateTime(), nullable=True))
    # The default only fills the existing rows; new rows get theirs from the model.
    with op.batch_alter_table('direct_debit_mandates', schema=None) as batch_op:
        batch_op.alter_column('rejection_reason', server_default=None)


def downgrade():
    with op.batch_alter_table('direct_debit_mandates', schema=None) as batch_op:
        batch_op.drop_column('status_changed_at')
        batch_op.drop_column('rejection_reason')
