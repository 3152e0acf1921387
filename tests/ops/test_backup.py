"""Backup and restore under writes, on the engine of the run: a backup taken while customers'
data keeps being written, restored into a new instance, holds every row committed before the
backup started, no child row without its parent and no document without its row."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from config import TestConfig
from tests import factories as f


def _writer(app, stop: threading.Event, committed: list, errors: list) -> None:
    """A customer's data written transaction after transaction: customer, supply point, invoice
    with its PDF and lines (parent and children in one commit)."""
    from app.extensions import db

    with app.app_context():
        while not stop.is_set():
            try:
                c = f.customer()
                sp = f.supply_point(c)
                inv = f.invoice(c, sp, pdf=b"%PDF-1.4 " + uuid.uuid4().bytes)
                db.session.commit()
                committed.append((time.monotonic(), c.id, inv.id))
            except Exception as exc:  # noqa: BLE001 (a lock timeout under load: try again)
                db.session.rollback()
                errors.append(repr(exc))
                time.sleep(0.05)
        db.session.remove()


@pytest.fixture
def new_database(database_url, tmp_path):
    """The URL of a new, empty database of the run's engine (dropped afterwards)."""
    if not database_url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    url = sa.engine.make_url(database_url)
    name = f"{url.database}_restored"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _orphans(conn) -> list[str]:
    """Every foreign key of the schema whose child rows point at a missing parent."""
    found = []
    inspector = sa.inspect(conn)
    q = conn.dialect.identifier_preparer.quote
    for table in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(table):
            on = " AND ".join(f"p.{q(r)} = c.{q(l)}" for l, r in zip(fk["constrained_columns"], fk["referred_columns"]))
            not_null = " AND ".join(f"c.{q(l)} IS NOT NULL" for l in fk["constrained_columns"])
            first = fk["referred_columns"][0]
            count = conn.execute(sa.text(
                f"SELECT count(*) FROM {q(table)} c LEFT JOIN {q(fk['referred_table'])} p ON {on} "
                f"WHERE {not_null} AND p.{q(first)} IS NULL")).scalar_one()
            if count:
                found.append(f"{table}.{fk['constrained_columns']}: {count}")
    return found


def test_backup_under_writes_restores_every_committed_row_consistently(app, db, tmp_path, new_database):
    from app import create_app
    from app.models import Invoice

    for _ in range(5):
        c = f.customer()
        f.invoice(c, f.supply_point(c), pdf=b"%PDF-1.4 before")
    db.session.commit()
    stop, committed, errors = threading.Event(), [], []
    writer = threading.Thread(target=_writer, args=(app, stop, committed, errors), daemon=True)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while len(committed) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        before = [(cid, iid) for at, cid, iid in committed if at < started]
        result = app.test_cli_runner().invoke(args=["sportello", "backup", "--to", str(tmp_path / "backups")])
        ended = time.monotonic()
        deadline = ended + 15
        while not any(at >= ended for at, _, _ in committed) and time.monotonic() < deadline:
            time.sleep(0.05)
        during = sum(1 for at, _, _ in committed if started <= at < ended)
        after = [at for at, _, _ in committed if at >= ended]
    finally:
        stop.set()
        writer.join(30)
    assert result.exit_code == 0, result.output
    assert "Backup of the" in result.output
    [made] = list((tmp_path / "backups").glob("sportello-*"))
    assert len(before) >= 10
    # The instance was being written to around the backup: commits right up to its start and
    # again straight after it, from the same writer, so the backup ran under writes.
    assert after, "the writer stopped committing during the backup"

    class Restored(TestConfig):
        SQLALCHEMY_DATABASE_URI = new_database
        BILLING_WSDL_CACHE_DIR = str(tmp_path / "wsdl")

    restored_app = create_app(Restored)
    with restored_app.app_context():  # the command's app (the test's own context is the first app's)
        out = restored_app.test_cli_runner().invoke(args=["sportello", "restore", str(made)])
    assert out.exit_code == 0, out.output
    engine = sa.create_engine(new_database)
    try:
        with engine.connect() as conn:
            customers = set(conn.execute(sa.text("SELECT id FROM customers")).scalars())
            invoices = dict(conn.execute(sa.text("SELECT id, pdf FROM invoices")).all())
            assert {cid for cid, _ in before} <= customers  # every row committed before the backup
            assert all(invoices.get(iid) for _, iid in before)  # with its document
            assert _orphans(conn) == []  # no child row without its parent
            lines = set(conn.execute(sa.text("SELECT DISTINCT invoice_id FROM invoice_lines")).scalars())
            assert set(invoices) == lines  # an invoice restored whole: row, PDF and lines together
    finally:
        engine.dispose()
    # The restored instance serves: its schema is the code's.
    ready = restored_app.test_client().get("/readyz")
    assert ready.get_json()["checks"]["database"] and ready.get_json()["checks"]["migrations"]
    # A restore never overwrites a database in use.
    with restored_app.app_context():
        again = restored_app.test_cli_runner().invoke(args=["sportello", "restore", str(made)])
        from app.extensions import db as restored_db

        restored_db.engine.dispose()
    assert again.exit_code != 0 and "not empty" in again.output
    print(f"backup under writes: {len(before)} transactions before it, {during} during it, "
          f"{len(invoices)} invoices restored")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) >= len(invoices)
