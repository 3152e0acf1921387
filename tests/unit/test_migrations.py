"""The migrations build exactly the schema the models describe, on the engine under test."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


def test_migrations_match_models(db):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": True,
            "include_name": lambda name, type_, parents: name != "apscheduler_jobs"})
        diff = compare_metadata(ctx, db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_model_table_exists(db):
    import sqlalchemy as sa

    tables = set(sa.inspect(db.engine).get_table_names())
    missing = {t.name for t in db.metadata.sorted_tables} - tables
    assert not missing
