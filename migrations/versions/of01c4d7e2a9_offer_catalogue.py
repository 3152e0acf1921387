"""The offer catalogue: offers per service with structured price components

Revision ID: of01c4d7e2a9
Revises: ct01a9e5d3b2
Create Date: 2026-12-02 01:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'of01c4d7e2a9'
down_revision = 'ct01a9e5d3b2'
branch_labels = None
depends_on = None


def _enum(name, *members):
    return sa.Enum(*members, name=name, native_enum=False, create_constraint=False,
                   length=max(len(m) for m in members) + 8)


def upgrade():
    op.create_table(
        'offers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=30), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('service', _enum('service', 'GAS', 'ELECTRICITY', 'WATER', 'LPG', 'TELECOM'), nullable=False),
        sa.Column('price_kind', _enum('pricekind', 'FIXED', 'VARIABLE'), nullable=False),
        sa.Column('arera_code', sa.String(length=40), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=True),
        sa.Column('conditions', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_offers')),
        sa.UniqueConstraint('code', name=op.f('uq_offers_code')),
        sa.UniqueConstraint('service', 'name', name=op.f('uq_offers_service')),
    )
    op.create_index(op.f('ix_offers_service'), 'offers', ['service'], unique=False)
    op.create_table(
        'offer_components',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('offer_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.SmallInteger(), nullable=False),
        sa.Column('kind', _enum('componentkind', 'FIXED_FEE', 'ENERGY', 'POWER'), nullable=False),
        sa.Column('band', _enum('band', 'F0', 'F1', 'F2', 'F3', 'F23'), nullable=False),
        sa.Column('price', sa.Numeric(precision=12, scale=6), nullable=False),
        sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_offer_components_offer_id_offers'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_offer_components')),
    )
    op.create_index(op.f('ix_offer_components_offer_id'), 'offer_components', ['offer_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_offer_components_offer_id'), table_name='offer_components')
    op.drop_table('offer_components')
    op.drop_index(op.f('ix_offers_service'), table_name='offers')
    op.drop_table('offers')
