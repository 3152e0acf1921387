"""Gas volumes: the supply point's conversion coefficient C and the corrector's digits

Revision ID: re01c4a7d2f9
Revises: of01c4d7e2a9
Create Date: 2026-12-02 01:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 're01c4a7d2f9'
down_revision = 'of01c4d7e2a9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('supply_points') as batch:
        batch.add_column(sa.Column('conversion_coefficient', sa.Numeric(precision=9, scale=6),
                                   server_default='1', nullable=False))
    with op.batch_alter_table('meters') as batch:
        batch.add_column(sa.Column('corrector_digits', sa.SmallInteger(), server_default='9',
                                   nullable=False))


def downgrade():
    with op.batch_alter_table('meters') as batch:
        batch.drop_column('corrector_digits')
    with op.batch_alter_table('supply_points') as batch:
        batch.drop_column('conversion_coefficient')
