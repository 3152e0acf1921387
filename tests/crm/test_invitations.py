"""F-22 / F-32: assignment e-mails carry iCalendar invitations (parsed back with icalendar from
mails received by a real SMTP server); updates keep the UID and raise SEQUENCE; cancellation is
METHOD:CANCEL; reminders and deadline messages go out once."""
import datetime as dt
from zoneinfo import ZoneInfo

import icalendar
import pytest
import sqlalchemy as sa

from app.models import ActivityKind, ActivityStatus, OutgoingMail, ReminderLog
from app.roles import AGENT, BACK_OFFICE, MANAGER
from app.services.crm.activities import (TransitionError, assign, create_activity, reschedule,
                                     transition)
from app.services.core import settings
from app.services.mailing.mail import deliver_mail
from app.services.crm.reminders import send_reminders
from tests import factories

ROME = ZoneInfo("Europe/Rome")


def _ics(msg):
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, "one text/calendar part"
    part = parts[0]
    cal = icalendar.Calendar.from_ical(part.get_content())
    return part.get_param("method"), cal, cal.walk("VEVENT")[0]


def _deliver(smtp_server):
    before = len(smtp_server.messages)
    deliver_mail()
    return smtp_server.messages[before:]


@pytest.fixture
def people(make_user, db):
    manager, _ = make_user(MANAGER)
    manager.email = "manager@example.com"
    op1, _ = make_user(BACK_OFFICE)
    op2, _ = make_user(AGENT)
    op2.language = "en"
    db.session.commit()
    return manager, op1, op2


def test_F22_assignment_sends_request_invitation(smtp_server, people, db):
    manager, op1, _ = people
    customer = factories.customer(last_name="Bianchi", first_name="Anna", search_name="bianchi anna")
    a = create_activity(ActivityKind.INVOICE_CORRECTION, customer_id=customer.id, subject="Bolletta errata")
    deadline = dt.datetime(2026, 12, 3, 15, 0)  # UTC: 16:00 in Rome
    assign(a, manager, op1, deadline, "controllare i consumi")
    assert a.status == ActivityStatus.ASSIGNED and a.assignee_id == op1.id
    [msg] = _deliver(smtp_server)
    assert msg["To"] == op1.email
    assert f"n. {a.id}" in msg["Subject"]
    body = msg.get_body(("plain",)).get_content()
    assert "Bianchi Anna" in body and "controllare i consumi" in body
    method, cal, event = _ics(msg)
    assert method == "REQUEST" and str(cal["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == a.ical_uid
    assert int(event["SEQUENCE"]) == 0
    start = event.decoded("DTSTART")
    assert start == deadline.replace(tzinfo=dt.UTC)
    assert start.tzinfo.key == "Europe/Rome" and start.hour == 16
    assert str(event["ORGANIZER"]) == "mailto:manager@example.com"
    assert str(event["ATTENDEE"]) == f"mailto:{op1.email}"
    assert event["ATTENDEE"].params["RSVP"] == "TRUE"
    assert cal.walk("VTIMEZONE"), "the time zone travels with the invitation"


def test_F22_reassignment_updates_and_cancels_for_the_previous_assignee(smtp_server, people, db):
    manager, op1, op2 = people
    a = create_activity(ActivityKind.COMPLAINT, subject="Reclamo")
    assign(a, manager, op1, dt.datetime(2026, 12, 3, 15, 0))
    [first] = _deliver(smtp_server)
    uid = str(_ics(first)[2]["UID"])

    assign(a, manager, op2, dt.datetime(2026, 12, 4, 9, 0), "passa a te")
    msgs = {m["To"]: m for m in _deliver(smtp_server)}
    assert set(msgs) == {op1.email, op2.email}
    method, _, old_event = _ics(msgs[op1.email])
    assert method == "CANCEL" and str(old_event["UID"]) == uid
    method, _, new_event = _ics(msgs[op2.email])
    assert method == "REQUEST" and str(new_event["UID"]) == uid
    assert int(new_event["SEQUENCE"]) == 1
    assert msgs[op2.email]["Subject"].startswith("Request no.")  # the agent reads English

    reschedule(a, manager, dt.datetime(2026, 12, 10, 9, 0), "più tempo")
    [update] = _deliver(smtp_server)
    method, _, event = _ics(update)
    assert update["To"] == op2.email and method == "REQUEST"
    assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 2
    assert event.decoded("DTSTART") == dt.datetime(2026, 12, 10, 10, 0, tzinfo=ROME)


def test_F22_cancellation_sends_method_cancel(smtp_server, people, db):
    manager, op1, _ = people
    a = create_activity(ActivityKind.DIRECT_DEBIT)
    assign(a, manager, op1, dt.datetime(2026, 12, 3, 15, 0))
    _deliver(smtp_server)
    transition(a, "cancel", manager, "doppione")
    [msg] = _deliver(smtp_server)
    method, cal, event = _ics(msg)
    assert method == "CANCEL" and str(cal["METHOD"]) == "CANCEL"
    assert str(event["UID"]) == a.ical_uid and int(event["SEQUENCE"]) == 1
    assert str(event["STATUS"]) == "CANCELLED"


def test_F22_only_staff_and_agents_can_be_assignees(people, make_user, db):
    manager, _, _ = people
    customer_user, _ = make_user("Customer")
    a = create_activity(ActivityKind.COMPLAINT)
    with pytest.raises(TransitionError):
        assign(a, manager, customer_user, dt.datetime(2026, 12, 3, 15, 0))
    assert a.status == ActivityStatus.NEW


def _open_with_deadline(manager, op, deadline):
    a = create_activity(ActivityKind.COMPLAINT, subject="Reclamo")
    assign(a, manager, op, deadline)
    return a


def test_F32_reminder_job_twice_sends_once(smtp_server, people, db):
    manager, op1, _ = people
    settings.update({"reminder_days": 3})
    a = _open_with_deadline(manager, op1, dt.datetime(2026, 12, 10, 9, 0))
    _deliver(smtp_server)  # the invitation
    too_early = dt.datetime(2026, 12, 6, 9, 0)
    assert send_reminders(too_early)["reminder"] == 0
    day = dt.datetime(2026, 12, 7, 8, 0)  # 3 days before
    assert send_reminders(day) == {"reminder": 1, "deadline": 0, "already_sent": 0}
    assert send_reminders(day) == {"reminder": 0, "deadline": 0, "already_sent": 1}
    assert send_reminders(day + dt.timedelta(days=1))["reminder"] == 0  # still once
    [msg] = _deliver(smtp_server)
    assert "Promemoria" in msg["Subject"] and f"n. {a.id}" in msg["Subject"]
    assert _deliver(smtp_server) == []


def test_F32_deadline_day_message_once_and_not_for_closed(smtp_server, people, db):
    manager, op1, op2 = people
    open_one = _open_with_deadline(manager, op1, dt.datetime(2026, 12, 10, 16, 0))
    closed = _open_with_deadline(manager, op2, dt.datetime(2026, 12, 10, 16, 0))
    transition(closed, "close", op2, "fatto")
    _deliver(smtp_server)
    # 23:30 UTC on the 9th is already the 10th in Rome.
    morning = dt.datetime(2026, 12, 9, 23, 30)
    assert send_reminders(morning)["deadline"] == 1
    assert send_reminders(morning)["deadline"] == 0
    [msg] = _deliver(smtp_server)
    assert msg["To"] == op1.email and "Oggi scade" in msg["Subject"]
    logs = db.session.scalars(sa.select(ReminderLog)).all()
    assert [(r.activity_id, r.kind, r.due_on) for r in logs] == [(open_one.id, "deadline", dt.date(2026, 12, 10))]


def test_F32_moved_deadline_gets_its_own_reminder(smtp_server, people, db):
    manager, op1, _ = people
    a = _open_with_deadline(manager, op1, dt.datetime(2026, 12, 10, 9, 0))
    assert send_reminders(dt.datetime(2026, 12, 8, 9, 0))["reminder"] == 1
    reschedule(a, manager, dt.datetime(2026, 12, 12, 9, 0))
    assert send_reminders(dt.datetime(2026, 12, 10, 9, 0))["reminder"] == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingMail).where(
        OutgoingMail.template == "activity_reminder")) == 2


def test_F22_reopened_request_gets_a_newer_invitation_than_its_cancel(smtp_server, people, db):
    manager, op1, _ = people
    a = create_activity(ActivityKind.COMPLAINT, subject="Reclamo")
    assign(a, manager, op1, dt.datetime(2026, 12, 3, 15, 0))
    transition(a, "reject", manager, "non pertinente")
    transition(a, "reopen", manager, "era pertinente")
    assign(a, manager, op1, dt.datetime(2026, 12, 3, 15, 0))
    sequences = [(_ics(m)[0], int(_ics(m)[2]["SEQUENCE"])) for m in _deliver(smtp_server)]
    assert sequences == [("REQUEST", 0), ("CANCEL", 1), ("REQUEST", 2)]
