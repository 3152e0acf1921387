"""Contracts carry their customer's identifiers for the wizard's search and duplicate checks

A customer entered with a contract is searchable by the agent before billing has created it
(tax code, VAT number, name), and a second contract for the same new customer points at the
contract that brought them (`customer_contract_id`), so billing creates the customer once.
Existing contracts get the columns filled from their wizard data.

Revision ID: wz01b3d5f7a9
Revises: sp01b3d5f7a9
Create Date: 2026-12-02 05:00:00

"""
import json

from alembic import op
import sqlalchemy as sa


revision = 'wz01b3d5f7a9'
down_revision = 'sp01b3d5f7a9'
branch_labels = None
depends_on = None

contracts = sa.table("contracts", sa.column("id", sa.Integer), sa.column("data", sa.JSON),
                     sa.column("tax_code", sa.String), sa.column("vat_number", sa.String),
                     sa.column("search_name", sa.String))


def upgrade():
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("tax_code", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("vat_number", sa.String(11), nullable=False, server_default=""))
        batch.add_column(sa.Column("search_name", sa.String(330), nullable=False, server_default=""))
        batch.add_column(sa.Column("customer_contract_id", sa.Integer, nullable=True))
        batch.create_index("ix_contracts_tax_code", ["tax_code"])
        batch.create_index("ix_contracts_vat_number", ["vat_number"])
        batch.create_index("ix_contracts_search_name", ["search_name"])
        batch.create_index("ix_contracts_customer_contract_id", ["customer_contract_id"])
        batch.create_foreign_key("fk_contracts_customer_contract_id_contracts", "contracts",
                                 ["customer_contract_id"], ["id"])
    conn = op.get_bind()
    for id_, data in conn.execute(sa.select(contracts.c.id, contracts.c.data)).all():
        if isinstance(data, str):
            data = json.loads(data or "{}")
        c = (data or {}).get("customer") or {}
        name = " ".join(p for p in (c.get("last_name"), c.get("first_name"), c.get("company_name")) if p)
        conn.execute(sa.update(contracts).where(contracts.c.id == id_).values(
            tax_code=(c.get("tax_code") or "")[:16], vat_number=(c.get("vat_number") or "")[:11],
            search_name=name.lower()[:330]))
    with op.batch_alter_table("contracts") as batch:  # the application writes these values
        for column in ("tax_code", "vat_number", "search_name"):
            batch.alter_column(column, server_default=None)


def downgrade():
    with op.batch_alter_table("contracts") as batch:
        batch.drop_constraint("fk_contracts_customer_contract_id_contracts", type_="foreignkey")
        batch.drop_index("ix_contracts_customer_contract_id")
        batch.drop_index("ix_contracts_search_name")
        batch.drop_index("ix_contracts_vat_number")
        batch.drop_index("ix_contracts_tax_code")
        batch.drop_column("customer_contract_id")
        batch.drop_column("search_name")
        batch.drop_column("vat_number")
        batch.drop_column("tax_code")
