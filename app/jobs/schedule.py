"""The scheduler's plan: kept in step with the settings, written where the jobs page reads it.

A job's trigger may depend on a setting (`invoice_mail` runs in the `invoice_mail_hours`, F-42).
The scheduler process checks the settings' version stamp every `SCHEDULER_CHECK_SECONDS` (one
primary-key read); when it changed, each job whose trigger arguments changed is rescheduled at
once, without a restart. The same check writes every job's next run time, as this process
planned it, to `job_schedules` (only what changed), and so does the end of every run. The jobs
page shows those times, and computes them itself only when no scheduler has reported. With
several scheduler processes the last one to write is shown: they plan the same slots.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import JobSchedule, SchedulerHeartbeat
from app.models.base import utcnow
from app.services.core import settings

log = logging.getLogger(__name__)

WATCH_JOB_ID = "_settings_watch"
# A next run reported this far in the past: its scheduler has stopped reporting.
STALE_AFTER = dt.timedelta(minutes=5)
_UNREAD = object()


def _utc_naive(value: dt.datetime | None) -> dt.datetime | None:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value is not None else None


class ScheduleWatcher:
    """Reschedules a scheduler's jobs when the settings change, and reports their next runs."""

    def __init__(self, app: Flask, scheduler, holder: str, jobs):
        self.app, self.scheduler, self.holder, self.jobs = app, scheduler, holder, tuple(jobs)
        self._stamp = _UNREAD
        self._applied: dict[str, dict] = {}
        self._published: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def trigger_for(self, job):
        """The job's trigger now (inside an app context); remembered to notice changes later."""
        from app.jobs import make_trigger, trigger_kwargs

        if self._stamp is _UNREAD:
            self._stamp = self._read_stamp()  # before the triggers: a change in between is caught
        self._applied[job.id] = trigger_kwargs(self.app, job)
        return make_trigger(self.app, job)

    @staticmethod
    def _read_stamp():
        try:
            return settings.stamp()
        except sa.exc.SQLAlchemyError:  # no schema yet: the first check reads it
            db.session.rollback()
            return _UNREAD

    def check(self) -> None:
        """The periodic check: reschedule after a settings change, report the plan."""
        with self.app.app_context():
            try:
                version = settings.stamp()
                if version != self._stamp:
                    self._reschedule()
                    self._stamp = version
            except sa.exc.SQLAlchemyError as exc:
                db.session.rollback()
                log.warning("Scheduler: settings not read now (%s); next check in %s s",
                            exc.__class__.__name__, self.app.config.get("SCHEDULER_CHECK_SECONDS"))
                return
            self.publish()
            self.beat()

    def beat(self) -> None:
        """Write this process's heartbeat (the system status page lists every scheduler)."""
        try:
            row = db.session.get(SchedulerHeartbeat, self.holder[:120])
            if row is None:
                row = SchedulerHeartbeat(holder=self.holder[:120], started_at=utcnow())
                db.session.add(row)
            row.beat_at = utcnow()
            db.session.commit()
        except sa.exc.SQLAlchemyError as exc:
            db.session.rollback()
            log.warning("Scheduler: heartbeat not written now (%s)", exc.__class__.__name__)

    def _reschedule(self) -> None:
        from app.jobs import make_trigger, trigger_kwargs

        for job in self.jobs:
            kwargs = trigger_kwargs(self.app, job)
            if kwargs == self._applied.get(job.id):
                continue
            self.scheduler.reschedule_job(job.id, trigger=make_trigger(self.app, job))
            self._applied[job.id] = kwargs
            log.info("Job %s rescheduled after a settings change: %s", job.id, kwargs)

    def job_event(self, event) -> None:
        """APScheduler listener (a run ended or was missed): report that job's next run."""
        if event.job_id == WATCH_JOB_ID:
            return
        job = self.scheduler.get_job(event.job_id)
        # The scheduler moves a job to its next run right after handing it over; if a quick run
        # ended first, the periodic check reports it.
        if job is None or job.next_run_time is None or job.next_run_time <= dt.datetime.now(dt.UTC):
            return
        with self.app.app_context():
            self.publish([event.job_id])

    def publish(self, job_ids=None) -> None:
        """Write the next run time of each job (all, or `job_ids`) whose plan changed."""
        with self._lock:
            wrote = []
            try:
                for job in self.jobs:
                    if job_ids is not None and job.id not in job_ids:
                        continue
                    planned = self.scheduler.get_job(job.id)
                    if planned is None:
                        continue
                    plan = (_utc_naive(planned.next_run_time), self._applied.get(job.id) or {})
                    if self._published.get(job.id) == plan:
                        continue
                    row = db.session.get(JobSchedule, job.id)
                    if row is None:
                        row = JobSchedule(job_id=job.id)
                        db.session.add(row)
                    row.next_run_at, row.trigger = plan
                    row.holder, row.reported_at = self.holder[:120], utcnow()
                    wrote.append((job.id, plan))
                if wrote:
                    db.session.commit()
            except sa.exc.SQLAlchemyError as exc:
                db.session.rollback()
                log.warning("Scheduler: next runs not written now (%s); trying again at the next check",
                            exc.__class__.__name__)
                return
            self._published.update(wrote)


@dataclass(frozen=True)
class Plan:
    """A job's next run for the jobs page: as a scheduler reported it, or computed here."""

    next_run: dt.datetime | None  # aware
    source: str  # "scheduler" | "computed"
    holder: str = ""
    reported_at: dt.datetime | None = None
    pending: bool = False  # the scheduler still runs the schedule the settings had before
    error: str | None = None  # a trigger that cannot be built (a broken override)


def plan(app: Flask, job, now: dt.datetime | None = None) -> Plan:
    """The job's next run as its scheduler planned it; computed from the settings when no
    scheduler has reported (or its report is stale)."""
    from app.jobs import make_trigger, next_runs, trigger_kwargs

    now = now or utcnow()
    try:
        wanted, error = trigger_kwargs(app, job), None
    except Exception as exc:  # a broken override is shown, not a crash page
        wanted, error = None, str(exc)
    row = db.session.get(JobSchedule, job.id)
    if row is not None and row.next_run_at is not None and row.next_run_at >= now - STALE_AFTER:
        return Plan(row.next_run_at.replace(tzinfo=dt.UTC), "scheduler", row.holder, row.reported_at,
                    pending=wanted is not None and row.trigger != wanted, error=error)
    upcoming = []
    if error is None:
        try:
            upcoming = next_runs(make_trigger(app, job, jitter=False), n=1)
        except Exception as exc:
            error = str(exc)
    return Plan(upcoming[0] if upcoming else None, "computed", error=error)
