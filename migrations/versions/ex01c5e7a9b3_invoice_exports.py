"""Invoice ZIP exports prepared in the background (F-61): invoice_exports

Revision ID: ex01c5e7a9b3
Revises: ap01d4b6c8e2
Create Date: 2026-12-02 15:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'ex01c5e7a9b3'
down_revision = 'ap01d4b6c8e2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoice_exports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('invoice_ids', sa.JSON(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('PENDING', 'BUILDING', 'READY', 'FAILED', 'EXPIRED', name='exportstatus',
                                    native_enum=False, length=16), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('claimed_at', sa.DateTime(), nullable=True),
        sa.Column('ready_at', sa.DateTime(), nullable=True),
        sa.Column('expires_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_invoice_exports_customer_id_customers'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'],
                                name=op.f('fk_invoice_exports_user_id_ab_user'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_exports')),
    )
    with op.batch_alter_table('invoice_exports') as batch:
        batch.create_index(batch.f('ix_invoice_exports_customer_id'), ['customer_id'], unique=False)
        batch.create_index(batch.f('ix_invoice_exports_user_id'), ['user_id'], unique=False)
        batch.create_index(batch.f('ix_invoice_exports_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('invoice_exports') as batch:
        batch.drop_index(batch.f('ix_invoice_exports_status'))
        batch.drop_index(batch.f('ix_invoice_exports_user_id'))
        batch.drop_index(batch.f('ix_invoice_exports_customer_id'))
    op.drop_table('invoice_exports')
