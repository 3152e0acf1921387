"""Invoice links revocable: invoice_delivery_settings.links_valid_after

Revision ID: il01c5e7a9b3
Revises: pr01b3d5f7a9
Create Date: 2026-12-02 06:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'il01c5e7a9b3'
down_revision = 'pr01b3d5f7a9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoice_delivery_settings') as batch:
        batch.add_column(sa.Column('links_valid_after', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('invoice_delivery_settings') as batch:
        batch.drop_column('links_valid_after')
