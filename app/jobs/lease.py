"""Database leases: one holder per job at a time, across processes and machines."""
from __future__ import annotations

import datetime as dt
import logging
import traceback
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import JobLease, JobRun
from app.models.base import utcnow

log = logging.getLogger(__name__)


def acquire(name: str, holder: str, seconds: int) -> bool:
    """Take the lease if it is free or expired (a conditional UPDATE: atomic on both engines)."""
    now = utcnow()
    if db.session.get(JobLease, name) is None:
        try:
            db.session.add(JobLease(name=name, holder=None, expires_at=None))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
    result = db.session.execute(
        sa.update(JobLease)
        .where(JobLease.name == name)
        .where(sa.or_(JobLease.holder.is_(None), JobLease.expires_at < now))
        .values(holder=holder, expires_at=now + dt.timedelta(seconds=seconds)))
    db.session.commit()
    return result.rowcount == 1


def release(name: str, holder: str) -> None:
    db.session.execute(sa.update(JobLease).where(JobLease.name == name, JobLease.holder == holder)
                       .values(holder=None, expires_at=None))
    db.session.commit()


def run_with_lease(name: str, func: Callable[[], dict], holder: str, seconds: int) -> str:
    """Run `func` if this holder gets the lease; record the run; return ok/failed/busy."""
    if not acquire(name, holder, seconds):
        log.info("Job %s skipped: another process holds its lease", name)
        return "busy"
    run = JobRun(job_id=name, holder=holder, status="running")
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    try:
        counts = func() or {}
        status, error = "ok", None
    except Exception as exc:  # a job failure is recorded and shown, never kills the scheduler
        db.session.rollback()
        log.exception("Job %s failed", name)
        counts, status, error = {}, "failed", f"{exc}\n{traceback.format_exc(limit=5)}"
    run = db.session.get(JobRun, run_id)
    run.status, run.error, run.counts, run.finished_at = status, error, counts, utcnow()
    db.session.commit()
    release(name, holder)
    return status
