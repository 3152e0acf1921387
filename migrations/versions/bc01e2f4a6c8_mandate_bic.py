"""The mandate's BIC, optional (F-06): direct_debit_mandates.bic

Revision ID: bc01e2f4a6c8
Revises: ex01c5e7a9b3
Create Date: 2026-12-02 16:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'bc01e2f4a6c8'
down_revision = 'ex01c5e7a9b3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('direct_debit_mandates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bic', sa.String(length=11), server_default='', nullable=False))
    # The default only fills the existing rows; new rows get theirs from the model.
    with op.batch_alter_table('direct_debit_mandates', schema=None) as batch_op:
        batch_op.alter_column('bic', server_default=None)


def downgrade():
    with op.batch_alter_table('direct_debit_mandates', schema=None) as batch_op:
        batch_op.drop_column('bic')
