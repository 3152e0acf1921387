"""Scheduled jobs: the JOBS table and the dedicated scheduler process (F-30).

Each job is a plain idempotent function. The scheduler runs in its own process (`flask sportello
scheduler`), never inside web workers; a database lease makes each run happen once even when
several scheduler processes or machines are up.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
from dataclasses import dataclass
from typing import Callable

from flask import Flask

from .lease import run_with_lease

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], dict]
    trigger: Callable[[Flask], dict]  # app -> APScheduler trigger kwargs
    lease_seconds: int = 3600


def _alignment() -> dict:
    from app.services.alignment import align

    run = align(trigger="job")
    if run.status != "ok":
        raise RuntimeError(run.error or "alignment failed")
    return dict(run.counts or {})


def _outbox() -> dict:
    from app.services.outbox import deliver_due

    return deliver_due()


def _mail() -> dict:
    from app.services.mail import deliver_mail

    return deliver_mail()


JOBS: tuple[Job, ...] = (
    Job("alignment", _alignment,
        lambda app: {"trigger": "interval", "minutes": app.config["ALIGNMENT_INTERVAL_MINUTES"]},
        lease_seconds=3600),
    Job("outbox", _outbox, lambda app: {"trigger": "interval", "seconds": 30}, lease_seconds=600),
    Job("mail", _mail, lambda app: {"trigger": "interval", "seconds": 30}, lease_seconds=600),
)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(app: Flask, job_id: str) -> str:
    """Run one job now, under its lease; returns the outcome (ok, failed, busy)."""
    job = next(j for j in JOBS if j.id == job_id)
    with app.app_context():
        return run_with_lease(job.id, job.func, holder_name(), job.lease_seconds)


def run_scheduler(app: Flask) -> None:
    """Block running the JOBS table on APScheduler until SIGTERM/SIGINT."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Rome"),
                                  job_defaults={
                                      # A late run still runs (the default 1 s would skip it),
                                      # missed runs collapse into one, and a job never overlaps
                                      # itself in this process (the lease covers other ones).
                                      "misfire_grace_time": 3600,
                                      "coalesce": True,
                                      "max_instances": 1,
                                  })
    for job in JOBS:
        scheduler.add_job(run_job, args=(app, job.id), id=job.id, name=job.id, **job.trigger(app))
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    log.info("Scheduler started with jobs: %s", ", ".join(j.id for j in JOBS))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
