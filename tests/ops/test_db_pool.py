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
