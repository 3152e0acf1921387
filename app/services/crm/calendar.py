"""iCalendar invitations (RFC 5546) for activity deadlines (F-22) and appointments (F-23).

One UID per activity or appointment; every update carries the same UID and a higher SEQUENCE,
so Outlook, Thunderbird and Google Calendar replace the event instead of adding a second one;
a cancellation is METHOD:CANCEL with the same UID. Times are shown in Europe/Rome (the
database stores naive UTC). Built with the icalendar library, never by hand.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import uuid
from dataclasses import dataclass, field
import icalendar

from app.clock import to_rome

PRODID = "-//Sportello//CRM//IT"
REQUEST = "REQUEST"
CANCEL = "CANCEL"


@dataclass
class Person:
    email: str
    name: str = ""


@dataclass
class Invitation:
    uid: str
    sequence: int
    summary: str
    start: dt.datetime  # naive UTC, as stored
    end: dt.datetime | None = None
    description: str = ""
    location: str = ""
    organizer: Person | None = None
    attendees: list[Person] = field(default_factory=list)
    alarm_minutes: int | None = 60


def new_uid(kind: str, domain: str = "sportello.localhost") -> str:
    """A globally unique UID for a new event."""
    return f"{kind}-{uuid.uuid4().hex}@{domain}"


def sender_domain(sender: str) -> str:
    addr = email.utils.parseaddr(sender or "")[1]
    return addr.partition("@")[2] or "sportello.localhost"


def _address(person: Person, **params) -> icalendar.vCalAddress:
    addr = icalendar.vCalAddress(f"mailto:{person.email}")
    if person.name:
        addr.params["CN"] = icalendar.vText(person.name)
    for key, value in params.items():
        addr.params[key.upper().replace("_", "-")] = icalendar.vText(value)
    return addr


def build_ics(inv: Invitation, method: str = REQUEST) -> str:
    """The text/calendar body of a REQUEST (new or updated event) or a CANCEL."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    event = icalendar.Event()
    event.add("uid", inv.uid)
    event.add("sequence", inv.sequence)
    event.add("dtstamp", dt.datetime.now(dt.UTC))
    start = to_rome(inv.start)
    event.add("dtstart", start)
    event.add("dtend", to_rome(inv.end) if inv.end else start + dt.timedelta(minutes=30))
    event.add("summary", inv.summary)
    if inv.description:
        event.add("description", inv.description)
    if inv.location:
        event.add("location", inv.location)
    if inv.organizer:
        event.add("organizer", _address(inv.organizer))
    for person in inv.attendees:
        event.add("attendee", _address(person, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION",
                                       rsvp="TRUE"), encode=0)
    if method == CANCEL:
        event.add("status", "CANCELLED")
    else:
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        if inv.alarm_minutes:
            alarm = icalendar.Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", inv.summary)
            alarm.add("trigger", dt.timedelta(minutes=-inv.alarm_minutes))
            event.add_component(alarm)
    cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical().decode("utf-8")
