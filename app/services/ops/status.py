"""What the system status page and the metrics page read from the database: the outbox's depth
and oldest waiting row per operation, alignment age, e-mail failures, scheduler heartbeats."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.models import InvoiceEmailLog, OutboxMessage, OutboxStatus, OutgoingMail, SchedulerHeartbeat, SendOutcome
from app.models.base import utcnow
from app.services.sync.queues import alignment_age

# A scheduler whose heartbeat is older than this many check intervals is reported as silent.
SILENT_AFTER_CHECKS = 3
WAITING = (OutboxStatus.PENDING, OutboxStatus.DELIVERING)


@dataclass(frozen=True)
class OutboxDepth:
    operation: str
    waiting: int
    oldest_age: float  # seconds since the oldest waiting row was queued


def outbox_depth() -> list[OutboxDepth]:
    """Rows waiting for billing (pending or being delivered), per operation."""
    rows = db.session.execute(
        sa.select(OutboxMessage.operation, sa.func.count(), sa.func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status.in_(WAITING)).group_by(OutboxMessage.operation)
        .order_by(OutboxMessage.operation)).all()
    now = utcnow()
    return [OutboxDepth(op, count, max((now - oldest).total_seconds(), 0.0)) for op, count, oldest in rows]


def outbox_failed() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.status == OutboxStatus.FAILED)) or 0


@dataclass(frozen=True)
class MailState:
    waiting: int  # notifications queued or being sent
    retrying: int  # notifications waiting after a temporary failure
    failed: int  # notifications refused for good
    invoice_retrying: int
    invoice_refused: int


def mail_state() -> MailState:
    counts = dict(db.session.execute(
        sa.select(OutgoingMail.status, sa.func.count()).group_by(OutgoingMail.status)).all())
    retrying = db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingMail)
                                 .where(OutgoingMail.status == "pending", OutgoingMail.attempts > 0)) or 0
    invoices = dict(db.session.execute(
        sa.select(InvoiceEmailLog.outcome, sa.func.count())
        .where(InvoiceEmailLog.outcome.in_((SendOutcome.RETRY, SendOutcome.FAILED)))
        .group_by(InvoiceEmailLog.outcome)).all())
    return MailState(waiting=counts.get("pending", 0) + counts.get("sending", 0), retrying=retrying,
                     failed=counts.get("failed", 0), invoice_retrying=invoices.get(SendOutcome.RETRY, 0),
                     invoice_refused=invoices.get(SendOutcome.FAILED, 0))


@dataclass(frozen=True)
class Heartbeat:
    holder: str
    started_at: dt.datetime
    beat_at: dt.datetime
    age: float
    alive: bool


def heartbeats(check_seconds: int, *, within: dt.timedelta = dt.timedelta(days=1)) -> list[Heartbeat]:
    """Every scheduler process heard from in the last day, newest first."""
    now = utcnow()
    rows = db.session.scalars(sa.select(SchedulerHeartbeat).where(SchedulerHeartbeat.beat_at >= now - within)
                              .order_by(SchedulerHeartbeat.beat_at.desc())).all()
    silent = SILENT_AFTER_CHECKS * max(check_seconds, 1)
    return [Heartbeat(r.holder, r.started_at, r.beat_at, (now - r.beat_at).total_seconds(),
                      (now - r.beat_at).total_seconds() <= silent) for r in rows]


__all__ = ["alignment_age", "outbox_depth", "outbox_failed", "mail_state", "heartbeats"]


def public_status() -> dict:
    """What anyone may know (F-43): the portal answers, whether billing answers (a short,
    cached probe), and when the data were last aligned with billing — no internals."""
    from app.services.ops.health import check_billing

    try:
        billing = "ok" if check_billing() else "unavailable"
    except Exception:  # noqa: BLE001 - an unreachable billing system is an answer, not an error
        billing = "unavailable"
    age = alignment_age()
    aligned = None if age is None else (utcnow() - dt.timedelta(seconds=age)).replace(microsecond=0, tzinfo=dt.UTC)
    return {"portal": "ok", "billing": billing, "data_aligned_at": aligned}
