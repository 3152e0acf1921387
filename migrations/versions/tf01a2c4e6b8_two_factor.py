"""Two-factor sign-in (F-65): totp_credentials, totp_recovery_codes

Revision ID: tf01a2c4e6b8
Revises: sx01a2b4c6d8
Create Date: 2026-12-02 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'tf01a2c4e6b8'
down_revision = 'sx01a2b4c6d8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'totp_credentials',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret_encrypted', sa.String(length=255), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(), nullable=True),
        sa.Column('last_step', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], name=op.f('fk_totp_credentials_user_id_ab_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_totp_credentials')),
    )
    op.create_table(
        'totp_recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], name=op.f('fk_totp_recovery_codes_user_id_ab_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_totp_recovery_codes')),
    )
    with op.batch_alter_table('totp_recovery_codes') as batch:
        batch.create_index(batch.f('ix_totp_recovery_codes_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('totp_recovery_codes') as batch:
        batch.drop_index(batch.f('ix_totp_recovery_codes_user_id'))
    op.drop_table('totp_recovery_codes')
    op.drop_table('totp_credentials')
