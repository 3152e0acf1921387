"""Personal API tokens (F-61): api_tokens

Revision ID: ap01d4b6c8e2
Revises: tf01a2c4e6b8
Create Date: 2026-12-02 09:55:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'ap01d4b6c8e2'
down_revision = 'tf01a2c4e6b8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('scope', sa.Enum('READ', 'READINGS', name='tokenscope', native_enum=False,
                                   length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_api_tokens_customer_id_customers'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'],
                                name=op.f('fk_api_tokens_user_id_ab_user'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('secret_hash', name=op.f('uq_api_tokens_secret_hash')),
    )
    with op.batch_alter_table('api_tokens') as batch:
        batch.create_index(batch.f('ix_api_tokens_customer_id'), ['customer_id'], unique=False)
        batch.create_index(batch.f('ix_api_tokens_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_index(batch.f('ix_api_tokens_user_id'))
        batch.drop_index(batch.f('ix_api_tokens_customer_id'))
    op.drop_table('api_tokens')
