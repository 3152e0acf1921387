"""Outgoing mail claims (who holds a message being sent, since when); request ids on queued rows

Revision ID: a1d3f0c2b7e4
Revises: c57645c8954b
Create Date: 2026-12-01 21:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a1d3f0c2b7e4'
down_revision = 'c57645c8954b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outgoing_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('request_id')
    with op.batch_alter_table('outgoing_mail', schema=None) as batch_op:
        batch_op.drop_column('request_id')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claimed_by')
