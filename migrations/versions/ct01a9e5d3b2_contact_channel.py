"""Contacts record their channel (back office, phone, agent)

Revision ID: ct01a9e5d3b2
Revises: b7e2c9d41f60
Create Date: 2026-12-02 01:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'ct01a9e5d3b2'
down_revision = 'b7e2c9d41f60'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('channel', sa.Enum('WEB', 'PHONE', 'AGENT', 'BACK_OFFICE',
                                                      name='channel', native_enum=False,
                                                      create_constraint=False, length=19),
                                   server_default='BACK_OFFICE', nullable=False))


def downgrade():
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('channel')
