"""The connection pool's liveness check: cheaper than `pool_pre_ping`, as safe in practice.

`pool_pre_ping` sends a round trip (`SELECT 1`) before every checkout, that is before every
request's first statement. Instead, on checkout a pooled connection is pinged only when

- something arrived on its socket while it sat in the pool: an idle connection has nothing to
  read unless the server ended it (a terminated backend, a restart or failover sends its FATAL
  message and closes the socket), which a zero-timeout `select` sees without a round trip; or
- it sat idle longer than `DATABASE_PING_IDLE_SECONDS` (a connection cut without a word, by a
  firewall or a dead host, is found by the ping).

A failed ping raises `DisconnectionError`: the pool discards the connection and checks out a
fresh one (SQLAlchemy's pessimistic disconnect handling, with the ping decided per checkout).
"""
from __future__ import annotations

import select
import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

_RETURNED_AT = "sportello_returned_at"


def needs_ping(dbapi_connection, record_info: dict, idle_seconds: float, now: float) -> bool:
    """Whether a connection leaving the pool must be pinged first."""
    returned_at = record_info.get(_RETURNED_AT)
    if returned_at is None:  # just connected: nothing to check
        return False
    if idle_seconds <= 0 or now - returned_at > idle_seconds:
        return True
    if getattr(dbapi_connection, "closed", False):
        return True
    try:
        fd = dbapi_connection.fileno()
    except Exception:  # noqa: BLE001 (no socket to look at: ask the server)
        return True
    try:
        readable, _, _ = select.select([fd], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def ping(dbapi_connection) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT 1")
        cursor.fetchall()
    finally:
        cursor.close()
    # The ping's own transaction must not outlive it (psycopg opens one on the first statement).
    dbapi_connection.rollback()


def install(engine: Engine, idle_seconds: float) -> None:
    """Check pooled connections of `engine` on checkout as described above (not for SQLite,
    whose connections are files)."""

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record):
        if dbapi_connection is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection, record, proxy):
        if not needs_ping(dbapi_connection, record.info, idle_seconds, time.monotonic()):
            return
        try:
            ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 (any failure: the connection is unusable)
            record.info.pop(_RETURNED_AT, None)
            raise exc.DisconnectionError(f"pooled connection failed its liveness check: {error}") from error
