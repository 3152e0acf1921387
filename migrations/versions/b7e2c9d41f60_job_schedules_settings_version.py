"""Job schedules as the scheduler planned them; the settings version stamp

Revision ID: b7e2c9d41f60
Revises: a1d3f0c2b7e4
Create Date: 2026-12-02 09:00:00

"""
import datetime as dt
import uuid

from alembic import op
import sqlalchemy as sa


revision = 'b7e2c9d41f60'
down_revision = 'a1d3f0c2b7e4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'job_schedules',
        sa.Column('job_id', sa.String(length=60), nullable=False),
        sa.Column('next_run_at', sa.DateTime(), nullable=True),
        sa.Column('trigger', sa.JSON(), nullable=False),
        sa.Column('holder', sa.String(length=120), nullable=False),
        sa.Column('reported_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('job_id', name=op.f('pk_job_schedules')),
    )
    # The stamp row exists from the start, so a change only ever updates it.
    settings = sa.table('settings', sa.column('key', sa.String), sa.column('value', sa.Text),
                        sa.column('updated_at', sa.DateTime))
    op.execute(settings.delete().where(settings.c.key == 'settings.version'))
    op.bulk_insert(settings, [{'key': 'settings.version', 'value': uuid.uuid4().hex,
                               'updated_at': dt.datetime.now(dt.UTC).replace(tzinfo=None)}])


def downgrade():
    op.execute("DELETE FROM settings WHERE key = 'settings.version'")
    op.drop_table('job_schedules')
