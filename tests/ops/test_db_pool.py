"""Pooled connections: checked on checkout only when they may have died (app.dbpool), and a
connection the server ended is replaced before a request uses it."""
from __future__ import annotations

import os
import socket
import time

import pytest
import sqlalchemy as sa

from app import dbpool

ON_PG = os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")


class _Conn:
    """A DB-API connection as far as the check looks at it: its socket."""

    def __init__(self, sock):
        self.sock, self.closed = sock, False

    def fileno(self):
        return self.sock.fileno()


def test_ping_is_decided_by_the_socket_and_the_idle_time():
    ours, server = socket.socketpair()
    try:
        conn, now = _Conn(ours), time.monotonic()
        assert not dbapi_needs(conn, {}, now)  # just connected
        assert not dbapi_needs(conn, {dbpool._RETURNED_AT: now - 1}, now)  # quiet and recent
        assert dbapi_needs(conn, {dbpool._RETURNED_AT: now - 31}, now)  # idle too long
        assert dbpool.needs_ping(conn, {dbpool._RETURNED_AT: now}, 0, now)  # 0: every checkout
        server.sendall(b"E")  # the server said something while the connection sat in the pool
        assert dbapi_needs(conn, {dbpool._RETURNED_AT: now - 1}, now)
        conn.closed = True
        assert dbapi_needs(conn, {dbpool._RETURNED_AT: now - 1}, now)
    finally:
        ours.close()
        server.close()


def dbapi_needs(conn, info, now):
    return dbpool.needs_ping(conn, info, 30, now)


@pytest.mark.postgres
@pytest.mark.skipif(not ON_PG, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_a_pooled_connection_the_server_ended_is_replaced_before_the_next_request(app, db, client,
                                                                                monkeypatch):
    assert not db.engine.pool._pre_ping  # no round trip on every checkout
    pings = []
    real_ping = dbpool.ping
    monkeypatch.setattr(dbpool, "ping", lambda c: (pings.append(1), real_ping(c)))

    assert client.get("/readyz").get_json()["checks"]["database"] is True
    assert client.get("/readyz").get_json()["checks"]["database"] is True
    assert pings == []  # a warm pool answers without pinging

    pooled = db.session.scalar(sa.text("select pg_backend_pid()"))
    db.session.remove()  # the connection goes back to the pool
    admin = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            victims = conn.execute(sa.text(
                "select pid from pg_stat_activity where datname = current_database() "
                "and pid <> pg_backend_pid()")).scalars().all()
            assert pooled in victims
            for pid in victims:
                conn.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 10
            while conn.execute(sa.text("select count(*) from pg_stat_activity where pid = any(:pids)"),
                               {"pids": victims}).scalar() and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        admin.dispose()

    resp = client.get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["checks"]["database"] is True
    assert pings  # the dead connection was found and replaced
    assert db.session.scalar(sa.text("select pg_backend_pid()")) != pooled


# --- how a transaction that only read ends (app.dbpool.install_read_commit) ----------------------

def _prepared_on(conn) -> int:
    return conn.exec_driver_sql("select count(*) from pg_prepared_statements").scalar()


@pytest.mark.postgres
@pytest.mark.skipif(not ON_PG, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_statements_stay_prepared_across_transactions_that_only_read(db):
    """Each request reads in its own transaction, ended by a rollback: the driver prepares a
    statement it has run five times, and keeps it only if those ends are not ROLLBACK."""
    from app.models import Setting

    stmt = sa.select(Setting.value).where(Setting.key == sa.bindparam("key"))
    with db.engine.connect() as conn:
        conn.exec_driver_sql("DEALLOCATE ALL")
        conn.commit()
        for _ in range(8):
            conn.execute(stmt, {"key": "no such setting"}).all()
            conn.rollback()  # as every request's end does
        assert _prepared_on(conn) >= 1
        conn.rollback()
        # A transaction that wrote is still rolled back, and the driver then forgets its
        # prepared statements, as it must.
        conn.execute(sa.text("create temporary table scratch (n int)"))
        conn.rollback()
        assert _prepared_on(conn) == 0
        conn.rollback()


@pytest.mark.postgres
@pytest.mark.skipif(not ON_PG, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_a_transaction_that_wrote_is_rolled_back_however_it_wrote(db):
    """Written through the ORM, through Core, through the driver's COPY (the alignment's bulk
    insert), a changed session setting, a statement that failed: rollback undoes each."""
    from app.models import Setting
    from app.services.sync.alignment import bulk_insert

    table = Setting.__table__

    def keys():
        return set(db.session.scalars(sa.select(Setting.key).where(Setting.key.like("rb-%"))))

    db.session.add(Setting(key="rb-orm", value="1"))
    db.session.flush()
    db.session.rollback()
    assert keys() == set()

    db.session.execute(table.insert().values(key="rb-core", value="1"))
    db.session.rollback()
    assert keys() == set()

    db.session.scalar(sa.select(sa.func.count()).select_from(table))  # the transaction began by reading
    bulk_insert(table, [{"key": "rb-copy", "value": "1"}])  # COPY on the driver's own cursor
    db.session.rollback()
    assert keys() == set()

    db.session.execute(sa.text("set statement_timeout = '4321ms'"))
    db.session.rollback()
    assert db.session.scalar(sa.text("show statement_timeout")) != "4321ms"
    db.session.rollback()

    db.session.execute(table.insert().values(key="rb-failed", value="1"))
    with pytest.raises(sa.exc.DBAPIError):
        db.session.execute(sa.text("select 1 / 0"))
    db.session.rollback()
    assert keys() == set()


@pytest.mark.postgres
@pytest.mark.skipif(not ON_PG, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_a_request_that_only_reads_sends_neither_begin_nor_commit(db, tmp_path):
    """Reads run outside a transaction: what the connection sends (libpq's own trace) is the
    statement alone, and its end costs no round trip."""
    from app.models import Setting

    trace = tmp_path / "libpq.trace"
    with db.engine.connect() as conn:
        pgconn = conn.connection.driver_connection.pgconn
        with trace.open("w") as out:
            pgconn.trace(out.fileno())
            try:
                conn.execute(sa.select(Setting.value).where(Setting.key == "no such setting")).all()
                conn.rollback()
            finally:
                pgconn.untrace()
    sent = [line for line in trace.read_text().splitlines() if "\tF\t" in line]  # frontend messages
    assert any("no such setting" in line or "settings" in line for line in sent), sent
    assert not [line for line in sent if any(w in line for w in ("BEGIN", "COMMIT", "ROLLBACK"))], sent


@pytest.mark.postgres
@pytest.mark.skipif(not ON_PG, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_a_write_or_a_row_lock_begins_a_transaction_and_its_end_reads_outside_again(db):
    from psycopg.pq import TransactionStatus

    from app.models import Setting

    table = Setting.__table__

    def status(conn):
        return conn.connection.driver_connection.info.transaction_status

    with db.engine.connect() as conn:
        assert conn.connection.driver_connection.autocommit  # as the pool hands it out
        conn.execute(sa.select(table.c.key)).all()
        assert status(conn) == TransactionStatus.IDLE  # read outside a transaction
        conn.execute(sa.select(table.c.key).with_for_update()).all()
        assert status(conn) == TransactionStatus.INTRANS  # the rows stay locked until the end
        conn.commit()
        conn.execute(sa.select(table.c.key)).all()
        assert status(conn) == TransactionStatus.IDLE
        conn.execute(table.insert().values(key="tx-a", value="1"))
        assert status(conn) == TransactionStatus.INTRANS
        conn.execute(table.insert().values(key="tx-b", value="1"))
        conn.rollback()  # both writes went, as one transaction
        assert conn.execute(sa.select(sa.func.count()).select_from(table).where(
            table.c.key.like("tx-%"))).scalar() == 0
        assert status(conn) == TransactionStatus.IDLE


def test_the_drivers_own_cursor_is_used_only_through_dbpool():
    """Work on the driver's cursor is invisible to the engine; `dbpool.driver_cursor` notes it,
    so the transaction it wrote in is rolled back, never committed as one that only read."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2] / "app"
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                   if "driver_connection" in p.read_text() and p.name != "dbpool.py")
    assert users == [], users
