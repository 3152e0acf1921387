"""Scheduler heartbeats: each scheduler process's last periodic check (system status page);
outgoing e-mails' contents may be emptied after their retention days

Revision ID: op01b2c4d6e8
Revises: wo01a7c3e5d2
Create Date: 2026-12-02 05:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'op01b2c4d6e8'
down_revision = 'wo01a7c3e5d2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'scheduler_heartbeats',
        sa.Column('holder', sa.String(length=120), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('beat_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('holder', name=op.f('pk_scheduler_heartbeats')),
    )
    with op.batch_alter_table('outgoing_mail') as batch:
        batch.alter_column('context', existing_type=sa.JSON(), nullable=True)


def downgrade():
    op.execute("UPDATE outgoing_mail SET context = '{}' WHERE context IS NULL")
    with op.batch_alter_table('outgoing_mail') as batch:
        batch.alter_column('context', existing_type=sa.JSON(), nullable=False)
    op.drop_table('scheduler_heartbeats')
