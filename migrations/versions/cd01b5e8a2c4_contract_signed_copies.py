"""Signed copies of contracts, uploaded by the agent or the back office

Revision ID: cd01b5e8a2c4
Revises: wz01b3d5f7a9
Create Date: 2026-12-02 04:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'cd01b5e8a2c4'
down_revision = 'wz01b3d5f7a9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'contract_signed_copies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contract_id', sa.Integer(), nullable=False),
        sa.Column('media_type', sa.String(length=40), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('uploaded_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'],
                                name=op.f('fk_contract_signed_copies_contract_id_contracts'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['ab_user.id'],
                                name=op.f('fk_contract_signed_copies_uploaded_by_id_ab_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_signed_copies')),
    )
    op.create_index(op.f('ix_contract_signed_copies_contract_id'), 'contract_signed_copies', ['contract_id'],
                    unique=False)


def downgrade():
    op.drop_index(op.f('ix_contract_signed_copies_contract_id'), table_name='contract_signed_copies')
    op.drop_table('contract_signed_copies')
