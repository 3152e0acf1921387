"""Database leases: one holder per job at a time, across processes and machines.

A lease row per job: `holder` and `expires_at`. Taking it is one conditional UPDATE (atomic on
SQLite and PostgreSQL). A crashed holder's lease is taken over once it expires. A scheduled run
that finished keeps the lease, marked `done:<holder>`, until shortly before the next slot: other
scheduler processes firing the same slot skip it, while a run started by hand may take it. A
lease whose holder was a process on this machine that no longer exists is free at once.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import JobLease, JobRun
from app.models.base import utcnow
from app.services.core import metrics, request_id
from app.services.core.queue import holder_is_dead

log = logging.getLogger(__name__)

DONE = "done:"


def acquire(name: str, holder: str, seconds: int, *, take_finished: bool = False) -> bool:
    """Take the lease if it is free or expired (or, with `take_finished`, held by a finished run)."""
    now = utcnow()
    if db.session.get(JobLease, name) is None:
        try:
            db.session.add(JobLease(name=name, holder=None, expires_at=None))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
    free = [JobLease.holder.is_(None), JobLease.expires_at < now]
    if take_finished:
        free.append(JobLease.holder.like(DONE + "%"))
    current = db.session.scalar(sa.select(JobLease.holder).where(JobLease.name == name))
    if current and not current.startswith(DONE) and holder_is_dead(current):
        # Its holder was a process on this machine that no longer exists (killed mid-run): no
        # need to wait for the lease to expire. Holders on other machines are trusted until then.
        free.append(JobLease.holder == current)
    result = db.session.execute(
        sa.update(JobLease)
        .where(JobLease.name == name)
        .where(sa.or_(*free))
        .values(holder=holder, expires_at=now + dt.timedelta(seconds=seconds)))
    if result.rowcount == 1:
        # Runs still "running" under an earlier lease ended without a word (a crash).
        db.session.execute(sa.update(JobRun).where(JobRun.job_id == name, JobRun.status == "running")
                           .values(status="interrupted", finished_at=now,
                                   error="The process running this job stopped before it finished.")
                           .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def release(name: str, holder: str, until: dt.datetime | None = None) -> None:
    """Free the lease now, or keep it as finished until `until` (naive UTC) when that is ahead."""
    if until is not None and until > utcnow():
        values = {"holder": (DONE + holder)[:120], "expires_at": until}
    else:
        values = {"holder": None, "expires_at": None}
    db.session.execute(sa.update(JobLease).where(JobLease.name == name, JobLease.holder == holder)
                       .values(**values))
    db.session.commit()


def run_with_lease(name: str, func: Callable[[], dict], holder: str, seconds: int,
                   hold: Callable[[], dt.datetime | None] | None = None) -> str:
    """Run `func` if this holder gets the lease; record the run; return ok/failed/busy.

    `hold` (scheduled runs) gives the time until which the finished run keeps the lease. Without
    it (a run by hand) a finished slot's lease may be taken, and its hold is kept afterwards.
    """
    previous_hold = None
    if hold is None:
        lease = db.session.get(JobLease, name)
        if lease is not None and (lease.holder or "").startswith(DONE):
            previous_hold = lease.expires_at
        db.session.rollback()
    if not acquire(name, holder, seconds, take_finished=hold is None):
        log.info("Job %s skipped: another process holds its lease", name)
        metrics.observe_job(name, "busy", 0)
        return "busy"
    started = time.perf_counter()
    run = JobRun(job_id=name, holder=holder, status="running")
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    token = request_id.bind(f"job-{name}-{run_id}")  # one id per run, for logs and queued rows
    try:
        counts = func() or {}
        status, error = "ok", None
    except Exception as exc:  # a job failure is recorded and shown, never kills the scheduler
        db.session.rollback()
        log.exception("Job %s failed", name)
        counts, status, error = {}, "failed", f"{exc}\n{traceback.format_exc(limit=5)}"
    finally:
        request_id.reset(token)
    metrics.observe_job(name, status, time.perf_counter() - started)
    until = None
    try:
        until = hold() if hold else previous_hold
    except Exception:  # the next slot can't be read now: free the lease instead of holding it
        db.session.rollback()
        log.exception("Job %s: the hold until its next slot could not be computed", name)
    _persist(f"record the run of job {name}", lambda: _finish_run(run_id, status, error, counts))
    _persist(f"release the lease of job {name}", lambda: release(name, holder, until))
    return status


RETRY_DELAYS = (0.2, 0.5, 1, 2, 4, 8)  # seconds: rides out a database locked for a moment


def _finish_run(run_id: int, status: str, error: str | None, counts: dict) -> None:
    run = db.session.get(JobRun, run_id)
    run.status, run.error, run.counts, run.finished_at = status, error, counts, utcnow()
    db.session.commit()


def _persist(what: str, write: Callable[[], None]) -> None:
    """Run a bookkeeping write, retrying while the database refuses it (locked, connection
    lost): a job's end must free its lease and close its run, or both stay stuck."""
    for delay in (*RETRY_DELAYS, None):
        try:
            write()
            return
        except sa.exc.SQLAlchemyError as exc:
            db.session.rollback()
            if delay is None:
                log.error("Could not %s: %s", what, exc)
                return
            log.warning("Could not %s (%s); trying again in %ss", what, exc.__class__.__name__, delay)
            time.sleep(delay)
