"""Backup and restore of the whole database, stored documents included (invoice, contract and
mandate PDFs are columns of their rows, so a document never outlives its row nor the reverse).

- SQLite: SQLite's online backup API copies the database in one step under a read lock: a
  consistent snapshot while the web app and the scheduler keep writing (WAL), no downtime.
- PostgreSQL: `pg_dump --format=custom` (found on the PATH) in one repeatable-read snapshot;
  `pg_restore` loads it into an empty database. The password goes through the environment,
  never the command line.

A backup is a directory `sportello-<UTC time>/` with the database file or dump and
`manifest.json` (engine, migration revision, time, rows per table), written under a temporary
name and renamed when complete, so a directory with that name is always a whole backup.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"


class BackupError(RuntimeError):
    """A backup or restore that could not be made (the message says why)."""


@dataclass(frozen=True)
class Backup:
    path: Path
    engine: str
    revision: list[str]
    created_at: str
    rows: dict[str, int]


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string (no password) and the environment carrying the password."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not on the PATH: install the PostgreSQL client (Debian: postgresql-client)")
    return found


def _contents(conn: sa.Connection) -> tuple[dict[str, int], list[str]]:
    """Rows per table and the migration revision, read in the connection's transaction."""
    preparer = conn.dialect.identifier_preparer
    rows = {name: conn.execute(sa.text(f"SELECT count(*) FROM {preparer.quote(name)}")).scalar_one()
            for name in sorted(sa.inspect(conn).get_table_names())}
    return rows, sorted(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def backup(database_url: str, target_dir: str | Path, *, now: dt.datetime | None = None) -> Backup:
    """Back the database up into a new directory under `target_dir`; returns what was written."""
    url = make_url(database_url)
    now = now or dt.datetime.now(dt.UTC)
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    name = f"sportello-{now:%Y%m%dT%H%M%SZ}"
    final, partial = target_dir / name, target_dir / f".{name}.partial"
    if final.exists():
        raise BackupError(f"{final} exists already")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        if url.get_backend_name() == "sqlite":
            engine_name = "sqlite"
            _sqlite_backup(url.database, partial / SQLITE_FILE)
            snapshot = sa.create_engine(f"sqlite:///{partial / SQLITE_FILE}")
            try:
                with snapshot.connect() as conn:
                    rows, revision = _contents(conn)
            finally:
                snapshot.dispose()
        elif url.get_backend_name() == "postgresql":
            engine_name = "postgresql"
            rows, revision = _pg_dump(url, partial / PG_FILE)
        else:
            raise BackupError(f"no backup for {url.get_backend_name()} databases")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    manifest = {"engine": engine_name, "revision": revision, "created_at": now.isoformat(timespec="seconds"),
                "rows": rows}
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    partial.rename(final)
    return Backup(final, engine_name, revision, manifest["created_at"], rows)


def _sqlite_backup(source: str, dest: Path) -> None:
    if not source or source == ":memory:" or not Path(source).exists():
        raise BackupError(f"no SQLite database at {source!r}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)  # one step (pages=-1): a consistent snapshot under a read lock
    finally:
        dst.close()
        src.close()


def _pg_dump(url: URL, dest: Path) -> tuple[dict[str, int], list[str]]:
    """pg_dump in a snapshot this process exports and counts rows in, so the manifest's counts
    are exactly the dump's."""
    engine = sa.create_engine(url, isolation_level="REPEATABLE READ")
    conninfo, env = _libpq(url)
    try:
        with engine.connect() as conn:
            snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            done = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-acl",
                                   f"--snapshot={snapshot}", "--file", str(dest), "--dbname", conninfo],
                                  env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
            rows, revision = _contents(conn)
            conn.rollback()
    finally:
        engine.dispose()
    return rows, revision


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    if not (path / MANIFEST).exists():
        raise BackupError(f"{path} is not a Sportello backup (no {MANIFEST})")
    return json.loads((path / MANIFEST).read_text())


def restore(path: str | Path, database_url: str) -> dict:
    """Restore the backup at `path` into the (new, empty) database at `database_url`."""
    path = Path(path)
    manifest = read_manifest(path)
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend != manifest["engine"]:
        raise BackupError(f"the backup is of a {manifest['engine']} database, the target is {backend}")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            existing = sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
    if existing:
        raise BackupError("the target database is not empty: restore into a new database "
                          "(or drop this one first)")
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BackupError("restore needs a SQLite file")
        src = sqlite3.connect(path / SQLITE_FILE)
        dst = sqlite3.connect(url.database)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        conninfo, env = _libpq(url)
        done = subprocess.run([_tool("pg_restore"), "--no-owner", "--no-acl", "--exit-on-error",
                               "--single-transaction", "--dbname", conninfo, str(path / PG_FILE)],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()[-500:]}")
    return manifest


def prune(target_dir: str | Path, keep_daily: int, keep_monthly: int = 0) -> list[Path]:
    """Delete old backups under `target_dir`: keep the newest `keep_daily` days (the newest backup
    of each day) and the first backup of each of the last `keep_monthly` months; returns what went."""
    backups = sorted(p for p in Path(target_dir).glob("sportello-*") if (p / MANIFEST).exists())
    keep: set[Path] = set()
    days: dict[str, Path] = {}
    months: dict[str, Path] = {}
    for p in backups:
        stamp = p.name.removeprefix("sportello-")
        days[stamp[:8]] = p  # the newest of the day
        months.setdefault(stamp[:6], p)  # the first of the month
    keep.update(days[d] for d in sorted(days)[-keep_daily:] if keep_daily)
    keep.update(months[m] for m in sorted(months)[-keep_monthly:] if keep_monthly)
    gone = [p for p in backups if p not in keep]
    for p in gone:
        shutil.rmtree(p)
    return gone
