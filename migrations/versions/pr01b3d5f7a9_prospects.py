"""Prospects of the sales network (F-17): pipeline, services of interest, consents, history;
contacts and follow-up activities linked to a prospect

Revision ID: pr01b3d5f7a9
Revises: cd01b5e8a2c4
Create Date: 2026-12-02 04:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'pr01b3d5f7a9'
down_revision = 'cd01b5e8a2c4'
branch_labels = None
depends_on = None


def _enum(*names):
    return sa.Enum(*names, native_enum=False, create_constraint=False, length=max(map(len, names)) + 8)


STATUS = ('NEW', 'CONTACTED', 'OFFER_MADE', 'WON', 'LOST')
SERVICE = ('GAS', 'ELECTRICITY', 'WATER', 'LPG', 'TELECOM')


def upgrade():
    op.create_table(
        'prospects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('kind', _enum('PERSON', 'COMPANY'), nullable=False),
        sa.Column('last_name', sa.String(80), nullable=False),
        sa.Column('first_name', sa.String(80), nullable=False),
        sa.Column('company_name', sa.String(160), nullable=False),
        sa.Column('tax_code', sa.String(16), nullable=False),
        sa.Column('vat_number', sa.String(11), nullable=False),
        sa.Column('phone', sa.String(30), nullable=False),
        sa.Column('email', sa.String(254), nullable=False),
        sa.Column('town', sa.String(80), nullable=False),
        sa.Column('source', _enum('REFERRAL', 'EVENT', 'WEBSITE', 'COLD_CALL', 'DOOR_TO_DOOR', 'OTHER'),
                  nullable=False),
        sa.Column('status', _enum(*STATUS), nullable=False),
        sa.Column('lost_reason', _enum('PRICE', 'COMPETITOR', 'NOT_INTERESTED', 'UNREACHABLE',
                                       'NOT_ELIGIBLE', 'OTHER'), nullable=True),
        sa.Column('lost_note', sa.Text(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('contract_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('erased_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_prospects_agent_id_agents')),
        sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_prospects_contract_id_contracts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prospects')),
    )
    op.create_index('ix_prospects_agent_status', 'prospects', ['agent_id', 'status'])
    op.create_index(op.f('ix_prospects_contract_id'), 'prospects', ['contract_id'])
    op.create_table(
        'prospect_interests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('prospect_id', sa.Integer(), nullable=False),
        sa.Column('service', _enum(*SERVICE), nullable=False),
        sa.Column('annual_consumption', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['prospect_id'], ['prospects.id'], ondelete='CASCADE',
                                name=op.f('fk_prospect_interests_prospect_id_prospects')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prospect_interests')),
        sa.UniqueConstraint('prospect_id', 'service', name=op.f('uq_prospect_interests_prospect_id')),
    )
    op.create_table(
        'prospect_consents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('prospect_id', sa.Integer(), nullable=False),
        sa.Column('channel', _enum('PHONE', 'EMAIL', 'SMS'), nullable=False),
        sa.Column('given', sa.Boolean(), nullable=False),
        sa.Column('source', _enum('SIGNED_FORM', 'VERBAL', 'EMAIL', 'WEB_FORM'), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['prospect_id'], ['prospects.id'], ondelete='CASCADE',
                                name=op.f('fk_prospect_consents_prospect_id_prospects')),
        sa.ForeignKeyConstraint(['actor_id'], ['ab_user.id'], name=op.f('fk_prospect_consents_actor_id_ab_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prospect_consents')),
    )
    op.create_index(op.f('ix_prospect_consents_prospect_id'), 'prospect_consents', ['prospect_id'])
    op.create_table(
        'prospect_history',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('prospect_id', sa.Integer(), nullable=False),
        sa.Column('from_status', _enum(*STATUS), nullable=True),
        sa.Column('to_status', _enum(*STATUS), nullable=False),
        sa.Column('action', sa.String(40), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['prospect_id'], ['prospects.id'], ondelete='CASCADE',
                                name=op.f('fk_prospect_history_prospect_id_prospects')),
        sa.ForeignKeyConstraint(['actor_id'], ['ab_user.id'], name=op.f('fk_prospect_history_actor_id_ab_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prospect_history')),
    )
    op.create_index(op.f('ix_prospect_history_prospect_id'), 'prospect_history', ['prospect_id'])
    for table in ('contacts', 'activities'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('prospect_id', sa.Integer(), nullable=True))
            batch.create_index(f'ix_{table}_prospect_id', ['prospect_id'])
            batch.create_foreign_key(f'fk_{table}_prospect_id_prospects', 'prospects', ['prospect_id'], ['id'])


def downgrade():
    for table in ('activities', 'contacts'):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f'fk_{table}_prospect_id_prospects', type_='foreignkey')
            batch.drop_index(f'ix_{table}_prospect_id')
            batch.drop_column('prospect_id')
    op.drop_index(op.f('ix_prospect_history_prospect_id'), table_name='prospect_history')
    op.drop_table('prospect_history')
    op.drop_index(op.f('ix_prospect_consents_prospect_id'), table_name='prospect_consents')
    op.drop_table('prospect_consents')
    op.drop_table('prospect_interests')
    op.drop_index(op.f('ix_prospects_contract_id'), table_name='prospects')
    op.drop_index('ix_prospects_agent_status', table_name='prospects')
    op.drop_table('prospects')
