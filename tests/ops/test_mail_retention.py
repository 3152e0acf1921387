"""Retention: the contents of e-mails sent or refused are emptied after the setting's days;
recent ones and those still waiting keep theirs, and the send log keeps its rows."""
from __future__ import annotations

import datetime as dt

from app.models import OutgoingMail
from app.models.base import utcnow


def _mail(db, key, status, age_days):
    row = OutgoingMail(idempotency_key=key, template="request_received", recipients=["mario@example.com"],
                       context={"name": "Mario Rossi", "reference": "R-1"}, ics="BEGIN:VCALENDAR",
                       status=status, created_at=utcnow() - dt.timedelta(days=age_days))
    db.session.add(row)
    return row


def test_mail_contents_are_purged_after_the_retention_days(app, db):
    from app.jobs import run_job
    from app.services.core import settings

    settings.update({"mail_retention_days": 30})
    old_sent, old_failed = _mail(db, "a", "sent", 31), _mail(db, "b", "failed", 40)
    recent, waiting = _mail(db, "c", "sent", 29), _mail(db, "d", "pending", 60)
    waiting.next_attempt_at = utcnow() + dt.timedelta(days=1)  # not due: the run leaves it alone
    db.session.commit()
    ids = [m.id for m in (old_sent, old_failed, recent, waiting)]
    db.session.remove()

    assert run_job(app, "mail") == "ok"
    rows = [db.session.get(OutgoingMail, i) for i in ids]
    assert [(r.context, r.ics) for r in rows[:2]] == [(None, None), (None, None)]
    assert all(r.context == {"name": "Mario Rossi", "reference": "R-1"} and r.ics for r in rows[2:])
    assert [r.recipients for r in rows[:2]] == [["mario@example.com"]] * 2  # the send log stays
    from app.models import JobRun
    import sqlalchemy as sa

    run = db.session.scalar(sa.select(JobRun).where(JobRun.job_id == "mail"))
    assert run.counts["purged"] == 2
