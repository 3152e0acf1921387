"""The CRM's work queues (F-20, F-32): new requests, requests overdue and due today.

Each queue is one SQL condition on `Activity`, used both by the start page's count and by the
back-office list it links to, so the two always agree. "Mine" variants add the assignee.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.clock import ROME
from app.extensions import db
from app.i18n import lazy_gettext as _l, ngettext
from app.models import Activity, ActivityStatus
from app.models.base import utcnow
from app.services.core.queues import Queue, register

S = ActivityStatus
# Requests someone still has to work on (waiting for billing is the system's).
WORKING = (S.NEW, S.ASSIGNED, S.IN_PROGRESS)


def _end_of_today_utc(now: dt.datetime) -> dt.datetime:
    """Midnight at the end of today in Rome, as the naive UTC the database stores."""
    local = now.replace(tzinfo=dt.UTC).astimezone(ROME)
    tomorrow = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=ROME)
    return tomorrow.astimezone(dt.UTC).replace(tzinfo=None)


def new_requests():
    """Received and not yet assigned to anyone."""
    return Activity.status == S.NEW


def overdue():
    """Still to be worked on and past their deadline."""
    return sa.and_(Activity.status.in_(WORKING), Activity.deadline.is_not(None), Activity.deadline < utcnow())


def due_today():
    """Still to be worked on, deadline later today (Rome)."""
    now = utcnow()
    return sa.and_(Activity.status.in_(WORKING), Activity.deadline >= now,
                   Activity.deadline < _end_of_today_utc(now))


def assigned_to(user, condition):
    return sa.and_(condition, Activity.assignee_id == getattr(user, "id", -1))


def _count(condition) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Activity).where(condition)) or 0


REQUESTS = _l("Requests")
register(Queue("crm.new", lambda n: ngettext("%(num)d new request to assign", "%(num)d new requests to assign", n),
               ("can_list", "NewActivityView"), lambda user: _count(new_requests()),
               "NewActivityView.list", area=REQUESTS, order=40))
register(Queue("crm.overdue", lambda n: ngettext("%(num)d request overdue", "%(num)d requests overdue", n),
               ("can_list", "OverdueActivityView"), lambda user: _count(overdue()),
               "OverdueActivityView.list", area=REQUESTS, order=41))
register(Queue("crm.due_today", lambda n: ngettext("%(num)d request due today", "%(num)d requests due today", n),
               ("can_list", "DueTodayActivityView"), lambda user: _count(due_today()),
               "DueTodayActivityView.list", area=REQUESTS, order=42))
register(Queue("crm.my_overdue", lambda n: ngettext("%(num)d request assigned to me is overdue",
                                                      "%(num)d requests assigned to me are overdue", n),
               ("can_list", "MyOverdueActivityView"), lambda user: _count(assigned_to(user, overdue())),
               "MyOverdueActivityView.list", area=REQUESTS, order=43))
register(Queue("crm.my_due_today", lambda n: ngettext("%(num)d request assigned to me is due today",
                                                         "%(num)d requests assigned to me are due today", n),
               ("can_list", "MyDueTodayActivityView"), lambda user: _count(assigned_to(user, due_today())),
               "MyDueTodayActivityView.list", area=REQUESTS, order=44))
