"""The queue core: what the billing outbox, outgoing mail and the nightly invoice e-mails share.

A queue row is due (`pending` status, `next_attempt_at` passed), is claimed by one worker
(`claimed_by`, `claimed_at`, the claimed status), and ends delivered, failed, or due again
later. Claims commit before any network I/O, and outcomes are written after it, so no
database transaction stays open while a server is talked to.

- `claim()`: a conditional UPDATE per row on SQLite (the single writer makes it atomic; there
  is no SKIP LOCKED), `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL; disjoint rows per worker.
- `release()`: claimed rows back to due, now.
- `backoff()`: the capped exponential delay after a temporary failure. Temporary failures are
  retried for as long as it takes: a count never fails a row. `overdue()` counts rows waiting
  longer than the alert age, which the jobs log and report instead.
- One recovery policy, `stale_holders()`: a claim is stale when its holder was a process on this
  machine that no longer exists, or when it is older than the claim timeout.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

import sqlalchemy as sa

from app.extensions import db
from app.models.base import utcnow
from app.services.core import settings

log = logging.getLogger(__name__)

BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=1)


def backoff(attempts: int, *, base: dt.timedelta = BACKOFF_BASE, cap: dt.timedelta = BACKOFF_CAP) -> dt.timedelta:
    """The wait before attempt `attempts + 1`: base, 2x, 4x, ... never more than `cap`."""
    exponent = min(max(attempts - 1, 0), 30)
    return min(base * (2 ** exponent), cap)


def new_holder(prefix: str = "") -> str:
    """A claim holder's name: host, process id and a random part (host and pid make dead
    holders recognisable)."""
    return f"{prefix}{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """A claim of a process on this machine that no longer exists."""
    parts = holder.split(":")
    if len(parts) < 2:
        return False
    host = parts[0].rpartition("/")[2]
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if host != socket.gethostname()[:40]:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def stale_holders(holders: Iterable[tuple[str, dt.datetime | None]], timeout: dt.timedelta,
                  now: dt.datetime | None = None) -> list[str]:
    """The recovery policy: of (holder, oldest claim time), those whose claims are to be given back."""
    now = now or utcnow()
    return [h for h, since in holders if h and (holder_is_dead(h) or (since is not None and since < now - timeout))]


@dataclass(frozen=True)
class Queue:
    """One table used as a queue: its model and the status values of due and claimed rows."""

    model: Any
    due_status: Any
    claimed_status: Any

    def _due(self, now: dt.datetime):
        m = self.model
        return sa.and_(m.status == self.due_status,
                       sa.or_(m.next_attempt_at.is_(None), m.next_attempt_at <= now))

    def claim(self, holder: str, limit: int, now: dt.datetime | None = None) -> list[int]:
        """Take up to `limit` due rows for `holder` and commit; no two workers get one row."""
        now = now or utcnow()
        m = self.model
        due = sa.select(m.id).where(self._due(now)).order_by(m.id).limit(limit)
        claimed_values = {"status": self.claimed_status, "claimed_by": holder, "claimed_at": now}
        if db.engine.dialect.name == "postgresql":
            ids = list(db.session.scalars(due.with_for_update(skip_locked=True)))
            if ids:
                db.session.execute(sa.update(m).where(m.id.in_(ids)).values(**claimed_values)
                                   .execution_options(synchronize_session=False))
            db.session.commit()
            return ids
        claimed = []
        for id_ in list(db.session.scalars(due)):
            result = db.session.execute(
                sa.update(m).where(m.id == id_, m.status == self.due_status).values(**claimed_values)
                .execution_options(synchronize_session=False))
            if result.rowcount == 1:
                claimed.append(id_)
        db.session.commit()
        return claimed

    def release(self, ids: list[int], now: dt.datetime | None = None) -> int:
        """Give claimed rows back, due now (no commit)."""
        if not ids:
            return 0
        m = self.model
        return db.session.execute(
            sa.update(m).where(m.id.in_(ids), m.status == self.claimed_status)
            .values(status=self.due_status, claimed_by=None, claimed_at=None, next_attempt_at=now or utcnow())
            .execution_options(synchronize_session=False)).rowcount

    def recover_stale(self, timeout: dt.timedelta, now: dt.datetime | None = None) -> int:
        """Give back the claims of dead or timed-out holders (the one recovery policy); commit."""
        now = now or utcnow()
        m = self.model
        holders = db.session.execute(
            sa.select(m.claimed_by, sa.func.min(m.claimed_at))
            .where(m.status == self.claimed_status).group_by(m.claimed_by)).all()
        stale = stale_holders(holders, timeout, now)
        count = 0
        if stale:
            count = db.session.execute(
                sa.update(m).where(m.status == self.claimed_status, m.claimed_by.in_(stale))
                .values(status=self.due_status, claimed_by=None, claimed_at=None, next_attempt_at=now)
                .execution_options(synchronize_session=False)).rowcount
        # Claims without a holder (written before holders were recorded) count by age alone.
        count += db.session.execute(
            sa.update(m).where(m.status == self.claimed_status, m.claimed_by.is_(None),
                               sa.or_(m.claimed_at.is_(None), m.claimed_at < now - timeout))
            .values(status=self.due_status, claimed_at=None, next_attempt_at=now)
            .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        return count

    def overdue(self, age: dt.timedelta, now: dt.datetime | None = None) -> int:
        """Rows still waiting (due or claimed) that were queued longer than `age` ago."""
        now = now or utcnow()
        m = self.model
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(m)
            .where(m.status.in_((self.due_status, self.claimed_status)), m.created_at < now - age)) or 0

    def give_back(self, ids: list[int]) -> None:
        """An error of our own stopped a run: the rows it still held are due again; commit."""
        if ids:
            db.session.rollback()
            self.release(ids)
            db.session.commit()

    def report(self, counts: dict, recovered: int, what: str) -> dict:
        """A run's counts, with `recovered` claims and rows waiting longer than the alert age
        (setting `queue_alert_hours`, logged as a warning) added when there are any."""
        alert_age = dt.timedelta(hours=settings.get("queue_alert_hours"))
        overdue = self.overdue(alert_age)
        counts.update({k: v for k, v in (("recovered", recovered), ("overdue", overdue)) if v})
        if overdue:
            log.warning("%s: %d rows queued more than %s ago are still waiting", what, overdue, alert_age)
        return counts
