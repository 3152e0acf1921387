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

A transaction that only read ends with COMMIT instead of ROLLBACK (`install_read_commit`). Every
request ends its transaction by rolling back; psycopg answers a ROLLBACK by forgetting the
statements it prepared on the connection (and sends DEALLOCATE ALL), so without this each
request's statements were parsed and planned again by the server: about a quarter of a
millisecond of server CPU per statement. For a transaction that wrote nothing the two ends are
the same; one that wrote, or ran anything but SELECT, is rolled back as before. Every statement
the engine runs is seen on its way (`before_cursor_execute`); work on the driver's own cursor
(COPY) is not, so it goes through `driver_cursor`, which notes the transaction as written
(`tests/ops/test_db_pool.py` holds every use of the driver's cursor in the application to it).
Deciding on the client saves the round trip of asking the server on every request's end.

Statements that only read run outside a transaction (`install_read_commit`, PostgreSQL through
psycopg): a pooled connection is handed out in the driver's autocommit mode, so a request that
only reads sends neither BEGIN nor COMMIT, two of the round trips of a page that runs four or
five statements. The first statement that is not a plain read (a write, a row lock such as
`FOR UPDATE`, a server-side cursor, a `SET`, anything but SELECT), and any work on the driver's
own cursor, first leaves autocommit: the driver sends BEGIN with it and the transaction holds
every write until COMMIT or ROLLBACK, as before; then the connection reads outside one again.
At PostgreSQL's READ COMMITTED every statement sees the data committed when it starts, inside a
transaction or not, so reads see what they saw before; a transaction's reads after its writes
are inside it and see them.
"""
from __future__ import annotations

import re
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
    # The ping's own transaction must not outlive it (psycopg opens one on the first statement);
    # it only read, so COMMIT ends it and keeps the connection's prepared statements.
    dbapi_connection.commit()


def install(engine: Engine, idle_seconds: float) -> None:
    """Check pooled connections of `engine` on checkout as described above (not for SQLite,
    whose connections are files); on PostgreSQL through psycopg, end transactions that only
    read with COMMIT."""
    if engine.dialect.driver == "psycopg":
        install_read_commit(engine)

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


_WROTE = "sportello_wrote"  # in the connection's record: its transaction ran more than SELECTs


def _reads_only(statement: str, context) -> bool:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        return False
    return statement.lstrip()[:6].upper() == "SELECT"


_LOCKS = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.IGNORECASE)


def _outside_transaction_ok(statement: str, cursor, context) -> bool:
    """A plain read: it may run outside a transaction (no row locks, no server-side cursor)."""
    return (_reads_only(statement, context) and getattr(cursor, "name", None) is None
            and not _LOCKS.search(statement))


def _set_autocommit(driver_connection, value: bool) -> None:
    """Switch psycopg's autocommit where the driver allows it (no transaction open)."""
    from psycopg.pq import TransactionStatus

    if (driver_connection is not None and driver_connection.autocommit != value
            and not driver_connection.closed
            and driver_connection.info.transaction_status == TransactionStatus.IDLE):
        driver_connection.autocommit = value


def _begin_transaction(conn) -> None:
    """Leave autocommit before a statement that writes: the driver then begins a transaction."""
    _set_autocommit(conn.connection.driver_connection, False)


def _record_info(connection) -> dict | None:
    """The connection record's `info` of the pool's proxy SQLAlchemy hands the dialect (None for
    a connection without a record, as on the engine's first connect; psycopg's own `info` is
    something else)."""
    if not hasattr(connection, "driver_connection"):
        return None
    try:
        return connection.info
    except NotImplementedError:
        return None


@contextmanager
def driver_cursor(conn) -> Iterator:
    """A cursor of the driver's own connection under the SQLAlchemy connection `conn`, for work
    the engine can't do as fast (COPY, executemany without per-row processing). Its transaction
    counts as written: it ends with ROLLBACK unless committed."""
    conn.info[_WROTE] = True
    if conn.dialect.driver == "psycopg":
        _begin_transaction(conn)
    cursor = conn.connection.driver_connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def install_read_commit(engine: Engine) -> None:
    """PostgreSQL through psycopg: reads outside a transaction, and a transaction that only
    read ended with COMMIT; see the module's description."""
    from psycopg.pq import TransactionStatus

    dialect = engine.dialect
    rollback, commit = dialect.do_rollback, dialect.do_commit

    @event.listens_for(engine, "checkout")
    def _reads_outside_transactions(dbapi_connection, record, proxy):
        _set_autocommit(dbapi_connection, True)

    @event.listens_for(engine, "before_cursor_execute")
    def _note(conn, cursor, statement, parameters, context, executemany):
        if not _reads_only(statement, context):
            conn.info[_WROTE] = True
        if not _outside_transaction_ok(statement, cursor, context):
            _begin_transaction(conn)

    def do_rollback(connection):
        info = _record_info(connection)
        try:
            if (info is None or info.pop(_WROTE, False)
                    or connection.driver_connection.info.transaction_status != TransactionStatus.INTRANS):
                return rollback(connection)  # wrote, or failed, or (IDLE) has nothing to end
            return commit(connection)
        finally:
            _set_autocommit(getattr(connection, "driver_connection", connection), True)

    def do_commit(connection):
        info = _record_info(connection)
        if info is not None:
            info.pop(_WROTE, None)
        try:
            return commit(connection)
        finally:
            _set_autocommit(getattr(connection, "driver_connection", connection), True)

    dialect.do_rollback, dialect.do_commit = do_rollback, do_commit
