"""Alignment bookkeeping (F-14, F-51): per-entity watermarks and the history of runs."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, utcnow


class SyncState(Model):
    """Where alignment stands for one billing entity."""

    __tablename__ = "sync_state"

    entity: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    watermark: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    records_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)

    @property
    def freshness(self) -> str:
        """How old the local copy of this entity is, in words."""
        from flask_babel import format_timedelta

        if self.last_success_at is None:
            return "-"
        return format_timedelta(utcnow() - self.last_success_at, add_direction=False)


class SyncRun(Model):
    """One alignment run: when, how much, how it ended."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    full: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[str] = mapped_column(sa.String(12), default="running")  # running|ok|failed
    counts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    trigger: Mapped[str] = mapped_column(sa.String(20), default="job")  # job|cli|login|manual


class JobLease(Model):
    """A database lease so that one scheduler process at a time runs a job (F-30)."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    holder: Mapped[str | None] = mapped_column(sa.String(120))
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)


class JobRun(Model):
    """One run of a scheduled job: shown to the admin."""

    __tablename__ = "job_runs"
    __table_args__ = (sa.Index("ix_job_runs_job_started", "job_id", "started_at"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(sa.String(60))
    started_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    status: Mapped[str] = mapped_column(sa.String(12), default="running")
    holder: Mapped[str] = mapped_column(sa.String(120), default="")
    counts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)



class JobSchedule(Model):
    """A job's next run as the scheduler process planned it (F-30), read by the jobs page."""

    __tablename__ = "job_schedules"

    job_id: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)  # naive UTC
    trigger: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # the trigger arguments in use
    holder: Mapped[str] = mapped_column(sa.String(120), default="")  # host:pid of the scheduler
    reported_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class SchedulerHeartbeat(Model):
    """A scheduler process's last sign of life, written at each of its periodic checks."""

    __tablename__ = "scheduler_heartbeats"

    holder: Mapped[str] = mapped_column(sa.String(120), primary_key=True)  # host:pid
    started_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    beat_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
