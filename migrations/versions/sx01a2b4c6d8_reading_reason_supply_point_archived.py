"""Meter readings carry billing's reason for a reading being checked or rejected; supply
points deleted in billing are marked archived

Revision ID: sx01a2b4c6d8
Revises: il01c5e7a9b3
Create Date: 2026-12-02 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'sx01a2b4c6d8'
down_revision = 'il01c5e7a9b3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('meter_readings') as batch:
        batch.add_column(sa.Column('status_reason', sa.String(length=250), server_default='',
                                   nullable=False))
    # The default only fills the existing rows; new rows get theirs from the model.
    with op.batch_alter_table('meter_readings') as batch:
        batch.alter_column('status_reason', server_default=None)
    with op.batch_alter_table('supply_points') as batch:
        batch.add_column(sa.Column('archived_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('supply_points') as batch:
        batch.drop_column('archived_at')
    with op.batch_alter_table('meter_readings') as batch:
        batch.drop_column('status_reason')
