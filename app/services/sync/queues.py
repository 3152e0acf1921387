"""The alignment's work queues (F-14, F-33, F-53): writes billing refused, and how old the
local copy of billing's data is."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import format_timedelta

from app.extensions import db
from app.i18n import gettext, lazy_gettext as _l, ngettext
from app.models import OutboxMessage, OutboxStatus, SyncState
from app.models.base import utcnow
from app.services.core.queues import Queue, register


def refused_writes() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.status == OutboxStatus.FAILED)) or 0


def waiting_writes() -> int:
    from app.services.sync.outbox import waiting_too_long

    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(waiting_too_long())) or 0


def alignment_age() -> float | None:
    """Seconds since the least recently aligned entity last succeeded (None: never aligned)."""
    states = db.session.scalars(sa.select(SyncState)).all()
    if not states or any(s.last_success_at is None for s in states):
        return None
    oldest = min(s.last_success_at for s in states)
    return max((utcnow() - oldest).total_seconds(), 0.0)


def _age_label(seconds: float | None) -> str:
    if seconds is None:
        return gettext("Billing's data has not been aligned yet")
    import datetime as dt

    return gettext("Billing's data is %(age)s old",
                   age=format_timedelta(dt.timedelta(seconds=seconds), add_direction=False))


BILLING = _l("Billing")
register(Queue("sync.refused",
               lambda n: ngettext("%(num)d write refused by billing", "%(num)d writes refused by billing", n),
               ("can_list", "FailedOutboxView"), lambda user: refused_writes(), "FailedOutboxView.list",
               area=BILLING, order=60))
register(Queue("sync.waiting",
               lambda n: ngettext("%(num)d write waiting for billing too long",
                                  "%(num)d writes waiting for billing too long", n),
               ("can_list", "WaitingOutboxView"), lambda user: waiting_writes(),
               "WaitingOutboxView.list", area=BILLING, order=61))
register(Queue("sync.age", _age_label, ("can_list", "SyncStateView"), lambda user: alignment_age(),
               "SyncStateView.list", area=BILLING, order=62, kind="age"))
