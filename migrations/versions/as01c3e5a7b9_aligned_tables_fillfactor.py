"""PostgreSQL: the tables the alignment updates keep a tenth of each page free (fillfactor 90),
so an aligned change is a HOT update (no new index entries). Pages already written keep their
fill until the table is rewritten (VACUUM FULL, see docs/operations.md); SQLite has no such
setting.

Revision ID: as01c3e5a7b9
Revises: pg01c3e5a7b9
Create Date: 2026-12-03 14:50:00

"""
from alembic import op


revision = 'as01c3e5a7b9'
down_revision = 'pg01c3e5a7b9'
branch_labels = None
depends_on = None

TABLES = ("customers", "supply_points", "mailing_addresses", "meters", "meter_readings", "invoices",
          "payments")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 90)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
