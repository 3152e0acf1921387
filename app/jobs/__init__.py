"""Scheduled jobs: the JOBS table and the dedicated scheduler process (F-30).

Each job is a plain idempotent function. The scheduler runs in its own process (`flask sportello
scheduler`), never inside web workers; a database lease makes each run happen once even when
several scheduler processes or machines are up:

- interval triggers are anchored at a fixed instant, so every process computes the same fire
  times (the "slots");
- the first process to fire a slot takes the job's lease and, when the run ends, keeps it until
  shortly before the next slot; another process firing the same slot finds it taken and skips.

`JOB_TRIGGERS` in the configuration may override a job's trigger ({job id: trigger kwargs}).
A trigger that depends on a setting follows its changes without a restart, and the jobs page
shows the next runs as the scheduler planned them (`schedule.py`).
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import os
import random
import signal
import socket
from dataclasses import dataclass
from typing import Callable

from flask import Flask

from app.i18n import lazy_gettext as _l
from .lease import run_with_lease

log = logging.getLogger(__name__)

# Interval triggers start here, so all processes share the same fire times.
ANCHOR = dt.datetime(2000, 1, 3, tzinfo=dt.UTC)
# A finished slot run keeps its lease until this long before the next slot (at most).
MAX_HOLD_MARGIN = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], dict]
    trigger: Callable[[Flask], dict]  # app -> APScheduler trigger kwargs
    lease_seconds: int = 3600
    title: object = ""  # shown to the admin (lazy translated string)


def _alignment() -> dict:
    from app.services.sync.alignment import align

    run = align(trigger="job")
    if run.status != "ok":
        raise RuntimeError(run.error or "alignment failed")
    return dict(run.counts or {})


def _outbox() -> dict:
    from app.services.sync.outbox import deliver_due

    return deliver_due()


def _reminders() -> dict:
    from app.services.crm.reminders import send_reminders

    return send_reminders()


def _contracts() -> dict:
    from app.services.sales.contracts import check_invoiceable

    return check_invoiceable()


def _prospects() -> dict:
    from app.services.sales.prospects import erase_due

    return erase_due()


def _mail() -> dict:
    from app.services.mailing.mail import deliver_mail, purge_contents

    counts = deliver_mail()
    purged = purge_contents()
    return {**counts, "purged": purged} if purged else counts


def _invoice_mail() -> dict:
    from .invoice_mail import invoice_mail_job

    return invoice_mail_job()


def _exports() -> dict:
    from .exports import export_job

    return export_job()


def _invoice_mail_trigger(app: Flask) -> dict:
    """Every 15 minutes in the batch hours (the `invoice_mail_hours` setting, Italian time)."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.services.core import settings

    try:
        hours = settings.get("invoice_mail_hours")
    except sa.exc.SQLAlchemyError:  # no schema yet (a scheduler started before the migration)
        db.session.rollback()
        hours = settings.registry()["invoice_mail_hours"].default
    return {"trigger": "cron", "hour": hours, "minute": "*/15"}


JOBS: tuple[Job, ...] = (
    Job("alignment", _alignment,
        lambda app: {"trigger": "interval", "minutes": app.config["ALIGNMENT_INTERVAL_MINUTES"]},
        lease_seconds=3600, title=_l("Alignment with billing")),
    Job("outbox", _outbox, lambda app: {"trigger": "interval", "seconds": 30}, lease_seconds=600,
        title=_l("Outbox export to billing")),
    Job("mail", _mail, lambda app: {"trigger": "interval", "seconds": 30}, lease_seconds=600,
        title=_l("E-mail delivery")),
    # Contracts in billing become invoiceable once alignment brings the active supply point (F-13).
    Job("contracts", _contracts, lambda app: {"trigger": "interval", "minutes": 5}, lease_seconds=600,
        title=_l("Contracts: invoiceable status from billing")),
    # Deadline reminders (F-32): hourly, idempotent (each message once per activity and date).
    Job("reminders", _reminders, lambda app: {"trigger": "cron", "minute": 5}, lease_seconds=600,
        title=_l("Deadline reminders")),
    # Lost prospects' personal data erased after the retention period (F-17), nightly.
    Job("prospects", _prospects, lambda app: {"trigger": "cron", "hour": 3, "minute": 40}, lease_seconds=600,
        title=_l("Prospects: erasure of lost prospects' data")),
    # Nightly invoice e-mails (F-31): every 15 minutes inside the batch hours, so temporary
    # SMTP failures are retried the same night; each run builds the queue and sends what is due.
    Job("invoice_mail", _invoice_mail, _invoice_mail_trigger, lease_seconds=3600,
        title=_l("Nightly invoice e-mails")),
    # Large invoice ZIPs asked for in the portal (F-61): built soon after, the customer e-mailed.
    Job("exports", _exports, lambda app: {"trigger": "interval", "seconds": 60}, lease_seconds=1800,
        title=_l("Invoice ZIP exports")),
)


def get_job(job_id: str) -> Job:
    for job in JOBS:
        if job.id == job_id:
            return job
    raise KeyError(job_id)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def trigger_kwargs(app: Flask, job: Job) -> dict:
    return dict((app.config.get("JOB_TRIGGERS") or {}).get(job.id) or job.trigger(app))


def make_trigger(app: Flask, job: Job, *, jitter: bool = True):
    """The APScheduler trigger of a job (interval triggers anchored, see the module doc)."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    kwargs = trigger_kwargs(app, job)
    kind = kwargs.pop("trigger")
    if not jitter:
        kwargs.pop("jitter", None)
    tz = app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Rome")
    if kind == "interval":
        return _anchored_interval(IntervalTrigger)(start_date=ANCHOR, timezone=tz, **kwargs)
    if kind == "cron":
        return CronTrigger(timezone=tz, **kwargs)
    return DateTrigger(timezone=tz, **kwargs)


def _anchored_interval(base):
    class AnchoredIntervalTrigger(base):
        """Fire times always on the anchor's grid: a jitter delays one firing, never the next
        ones (APScheduler adds the interval to the jittered time, so processes drift apart)."""

        def get_next_fire_time(self, previous_fire_time, now):
            step = self.interval_length
            start = self.start_date.timestamp()
            if previous_fire_time is not None:
                n = math.floor((previous_fire_time.timestamp() - start) / step) + 1
            else:
                n = max(0, math.ceil((now.timestamp() - start) / step))
            fire = start + n * step
            if self.jitter:
                fire += random.uniform(0, min(self.jitter, step / 2))
            if self.end_date and fire > self.end_date.timestamp():
                return None
            return dt.datetime.fromtimestamp(fire, tz=self.timezone)

    return AnchoredIntervalTrigger


def next_runs(trigger, now: dt.datetime | None = None, n: int = 2) -> list[dt.datetime]:
    """The next `n` fire times of a trigger after `now` (aware datetimes)."""
    now = now or dt.datetime.now(dt.UTC)
    out, previous = [], None
    for _ in range(n):
        nxt = trigger.get_next_fire_time(previous, now if previous is None else previous + dt.timedelta(microseconds=1))
        if nxt is None:
            break
        out.append(nxt)
        previous = nxt
    return out


def hold_until(app: Flask, job: Job) -> dt.datetime | None:
    """Until when a finished slot run keeps the lease: just before the next slot (naive UTC)."""
    try:
        upcoming = next_runs(make_trigger(app, job, jitter=False))
    except Exception:  # a broken trigger must not keep a lease
        return None
    if len(upcoming) < 2:
        return None
    margin = min((upcoming[1] - upcoming[0]) / 2, MAX_HOLD_MARGIN)
    return (upcoming[0] - margin).astimezone(dt.UTC).replace(tzinfo=None)


def run_job(app: Flask, job_id: str, *, scheduled: bool = False, holder: str | None = None) -> str:
    """Run one job now, under its lease; returns the outcome (ok, failed, busy).

    A scheduled run keeps the lease until shortly before the next slot, so the other scheduler
    processes firing the same slot skip it; a run by hand releases it at once.
    """
    job = get_job(job_id)
    with app.app_context():
        return run_with_lease(job.id, job.func, holder or holder_name(), job.lease_seconds,
                              hold=(lambda: hold_until(app, job)) if scheduled else None)


def _scheduled_run(app: Flask, job_id: str) -> None:
    outcome = run_job(app, job_id, scheduled=True)
    log.info("Job %s: %s", job_id, outcome)


def run_scheduler(app: Flask) -> None:
    """Block running the JOBS table on APScheduler until SIGTERM/SIGINT."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
    from apscheduler.schedulers.blocking import BlockingScheduler

    from .schedule import WATCH_JOB_ID, ScheduleWatcher

    scheduler = BlockingScheduler(timezone=app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Rome"),
                                  job_defaults={
                                      # A late run still runs (the default 1 s would skip it),
                                      # missed runs collapse into one, and a job never overlaps
                                      # itself in this process (the lease covers other ones).
                                      "misfire_grace_time": 3600,
                                      "coalesce": True,
                                      "max_instances": 1,
                                  })
    from . import metrics_server

    # Before the first job counts anything: its own multiprocess directory, then its /metrics.
    metrics_directory = metrics_server.own_directory()
    metrics = metrics_server.serve(app)
    watcher = ScheduleWatcher(app, scheduler, holder_name(), JOBS)
    with app.app_context():
        for job in JOBS:
            scheduler.add_job(_scheduled_run, watcher.trigger_for(job), args=(app, job.id), id=job.id,
                              name=job.id)
    # Settings changes and the plan the jobs page shows: checked at once, then every few seconds.
    scheduler.add_job(watcher.check, "interval", seconds=app.config.get("SCHEDULER_CHECK_SECONDS", 30),
                      id=WATCH_JOB_ID, name=WATCH_JOB_ID, next_run_time=dt.datetime.now(dt.UTC))
    scheduler.add_listener(watcher.job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    log.info("Scheduler started with jobs: %s", ", ".join(j.id for j in JOBS))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if metrics is not None:
            metrics.shutdown()
            metrics.server_close()
        metrics_server.remove_directory(metrics_directory)
