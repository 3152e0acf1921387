"""Deadline reminders (F-22, F-32): a reminder N days before, a message on the deadline day.

N is the `reminder_days` setting (F-42, default 2). Dates are Europe/Rome calendar days. Each
message is sent once per activity, kind and deadline date: the `ReminderLog` row (unique on
those three) is written in the same transaction as the queued e-mail, so a second run — or a
second scheduler racing this one — finds the row and sends nothing; a moved deadline is a new
date and gets its own reminders.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.clock import local_date, local_today
from app.extensions import db
from app.models import Activity, ActivityStatus, ReminderLog
from app.services.core import settings

OPEN = (ActivityStatus.ASSIGNED, ActivityStatus.IN_PROGRESS)


def rome_today(now: dt.datetime | None = None) -> dt.date:
    return local_date(now) if now else local_today()


def due_messages(today: dt.date, days: int) -> list[tuple[Activity, str, dt.date]]:
    """(activity, kind, deadline date) for every open assigned activity due a message today."""
    # Deadlines up to `days` (+1 for the time zone) ahead; the exact day is checked in Rome time.
    horizon = dt.datetime.combine(today + dt.timedelta(days=days + 2), dt.time())
    start = dt.datetime.combine(today - dt.timedelta(days=1), dt.time())
    rows = db.session.scalars(sa.select(Activity).where(
        Activity.status.in_(OPEN), Activity.assignee_id.is_not(None),
        Activity.deadline.is_not(None), Activity.deadline >= start, Activity.deadline < horizon)
        .order_by(Activity.deadline, Activity.id))
    out = []
    for activity in rows:
        due = local_date(activity.deadline)
        if due == today:
            out.append((activity, "deadline", due))
        elif today < due and (due - today).days <= days:
            out.append((activity, "reminder", due))
    return out


def send_reminders(now: dt.datetime | None = None) -> dict:
    """The job: queue each due reminder/deadline message once; returns counts."""
    from app.services.crm.activities import mail_context
    from app.services.mailing.mail import queue_mail

    today = rome_today(now)
    counts = {"reminder": 0, "deadline": 0, "already_sent": 0}
    for activity, kind, due in due_messages(today, settings.get("reminder_days")):
        user = activity.assignee
        if user is None or not user.email:
            continue
        if db.session.scalar(sa.select(ReminderLog.id).where(
                ReminderLog.activity_id == activity.id, ReminderLog.kind == kind,
                ReminderLog.due_on == due)) is not None:
            counts["already_sent"] += 1
            continue
        try:
            db.session.add(ReminderLog(activity_id=activity.id, kind=kind, due_on=due))
            language = user.language or "it"
            queue_mail(f"activity_{kind}", language, [user.email],
                       mail_context(activity, user, language),
                       key=f"activity-{activity.id}-{kind}-{due.isoformat()}")
            db.session.commit()
            counts[kind] += 1
        except IntegrityError:
            # Another run wrote the same reminder first: nothing to send.
            db.session.rollback()
            counts["already_sent"] += 1
    return counts
