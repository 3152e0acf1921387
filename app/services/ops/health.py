"""Readiness: can this node serve? (`/readyz`, the proxy's health check, the status page.)

Hard checks answer 503 when they fail — the database does not answer, its schema is behind the
code (a migration not applied), or the rate limiter's shared storage (Redis) is down. Soft
checks never take a node out of rotation: when billing or SMTP is down the pages keep working
from the local copy and the queues wait, so they are reported as `degraded`.

Checks are cheap: the database one is one `SELECT` of the Alembic version; billing (Ping) and
SMTP (connect, EHLO, QUIT) are asked at most every `READYZ_SOFT_CHECK_SECONDS` (15) per process, with a
short timeout. No answer carries a secret: failures are named, never the error text.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from app.extensions import db

log = logging.getLogger(__name__)

SOFT_CHECK_SECONDS = 15.0  # default of READYZ_SOFT_CHECK_SECONDS
SOFT_TIMEOUT = 2.0


# What a failed hard check means, for whoever reads the 503 (no error text, host or secret).
REASONS = {
    "database": "the database does not answer",
    "migrations": "the database schema is behind this release (flask db upgrade has not run)",
    "redis": "the rate limiter's shared storage (Redis) does not answer",
}


@dataclass
class Readiness:
    ready: bool
    failed: list[str] = field(default_factory=list)  # hard checks that failed: database, migrations, redis
    degraded: list[str] = field(default_factory=list)  # soft checks that failed: billing, smtp
    checks: dict[str, bool] = field(default_factory=dict)
    database_revision: tuple[str, ...] = ()
    code_heads: tuple[str, ...] = ()

    def body(self) -> dict:
        out = {"status": "ready" if self.ready else "unavailable", "checks": self.checks}
        if self.failed:
            out["failed"] = self.failed
            out["reason"] = "; ".join(REASONS[name] for name in self.failed)
        if self.degraded:
            out["degraded"] = self.degraded
        return out


@functools.cache
def _migrations(directory: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The heads and every revision of the migrations in `directory` (read once per process)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(directory)))
    script = ScriptDirectory.from_config(cfg)
    return tuple(sorted(script.get_heads())), frozenset(rev.revision for rev in script.walk_revisions())


def code_heads() -> tuple[str, ...]:
    """The migration heads this code expects."""
    return _migrations(str(current_app.config["MIGRATIONS_DIR"]))[0]


def database_revision() -> tuple[str, ...]:
    """The revisions the database is at (raises when it does not answer)."""
    rows = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    db.session.rollback()
    return tuple(sorted(rows))


def _migrations_current(revision: tuple[str, ...], heads: tuple[str, ...]) -> bool:
    """True when the database is at the code's heads or ahead of them (a newer release is being
    rolled out next to this one: its migrations only add, see docs/operations.md "Upgrades")."""
    if set(revision) == set(heads):
        return True
    known = _migrations(str(current_app.config["MIGRATIONS_DIR"]))[1]
    # A revision this code does not know is a newer release's: the schema is not behind.
    return bool(revision) and any(rev not in known for rev in revision)


def check_redis() -> bool | None:
    """The rate limiter's storage answers (None: not shared storage, nothing to check)."""
    uri = current_app.config.get("RATELIMIT_STORAGE_URI") or ""
    if not current_app.config.get("RATELIMIT_ENABLED") or not uri.startswith(("redis", "rediss")):
        return None
    from app.extensions import limiter

    try:
        return bool(limiter.storage.check())
    except Exception:
        return False


class _Cached:
    """A soft check's last answer, per process, for SOFT_CHECK_SECONDS."""

    def __init__(self):
        self.values: dict[tuple, tuple[float, bool]] = {}
        self.lock = threading.Lock()

    def get(self, key: tuple, probe) -> bool:
        now = time.monotonic()
        known = self.values.get(key)
        if known is not None and known[0] > now:
            return known[1]
        try:
            probe()
            ok = True
        except Exception as exc:
            log.warning("Readiness: %s does not answer (%s)", key[0], type(exc).__name__)
            ok = False
        keep = float(current_app.config.get("READYZ_SOFT_CHECK_SECONDS", SOFT_CHECK_SECONDS))
        with self.lock:
            self.values[key] = (time.monotonic() + keep, ok)
        return ok

    def clear(self) -> None:
        with self.lock:
            self.values.clear()


SOFT = _Cached()


def check_billing() -> bool:
    import copy

    from app.services.sync.gateway import gateway

    def probe():
        gw = gateway()
        if hasattr(gw, "timeout"):
            gw = copy.copy(gw)
            gw.timeout = SOFT_TIMEOUT
        gw.ping()

    return SOFT.get(("billing", current_app.config.get("BILLING_URL"), id(current_app.extensions.get("billing_gateway"))),
                    probe)


def check_smtp() -> bool:
    from app.services.mailing.mail import check_smtp as smtp_probe

    cfg = current_app.config
    return SOFT.get(("smtp", cfg.get("MAIL_SERVER"), cfg.get("MAIL_PORT")), lambda: smtp_probe(timeout=SOFT_TIMEOUT))


def readiness(*, soft: bool = True) -> Readiness:
    """Every check of this node; `ready` is False only when a hard check failed."""
    result = Readiness(ready=True)
    try:
        result.database_revision = database_revision()
        result.checks["database"] = True
    except Exception as exc:
        db.session.rollback()
        log.error("Readiness: the database does not answer (%s)", type(exc).__name__)
        result.checks["database"] = False
        result.failed.append("database")
    result.code_heads = code_heads()
    if result.checks["database"]:
        current = _migrations_current(result.database_revision, result.code_heads)
        result.checks["migrations"] = current
        if not current:
            result.failed.append("migrations")
    redis_ok = check_redis()
    if redis_ok is not None:
        result.checks["redis"] = redis_ok
        if not redis_ok:
            result.failed.append("redis")
    if soft:
        for name, check in (("billing", check_billing), ("smtp", check_smtp)):
            ok = check()
            result.checks[name] = ok
            if not ok:
                result.degraded.append(name)
    result.ready = not result.failed
    return result
