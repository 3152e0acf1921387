"""CRM activities (every request, whatever its channel), their history, and general contacts."""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import to_rome

from .base import LabeledEnum, Model, _l, enum_column, utcnow


class ActivityKind(LabeledEnum):
    REGISTRATION = "registration", _l("First access")
    SELF_READING = "self_reading", _l("Self-reading")
    INFORMATION_REQUEST = "information_request", _l("Information request")
    PERSONAL_DATA = "personal_data", _l("Personal data change")
    MAILING_ADDRESS = "mailing_address", _l("Mailing address change")
    DIRECT_DEBIT = "direct_debit", _l("Direct debit")
    INVOICE_EMAIL = "invoice_email", _l("Invoice by e-mail")
    INVOICE_CORRECTION = "invoice_correction", _l("Invoice correction")
    CREDENTIALS = "credentials", _l("Credentials change")
    COMPLAINT = "complaint", _l("Complaint")
    CONTRACT = "contract", _l("Contract")
    FOLLOW_UP = "follow_up", _l("Prospect follow-up")
    GENERAL = "general", _l("General request")

    @property
    def automatic(self) -> bool:
        """Executed by the system once exported to billing (F-21)."""
        return self in AUTOMATIC_KINDS


AUTOMATIC_KINDS = frozenset({ActivityKind.REGISTRATION, ActivityKind.SELF_READING,
                             ActivityKind.PERSONAL_DATA, ActivityKind.INVOICE_EMAIL})


class Channel(LabeledEnum):
    WEB = "web", _l("Web")
    PHONE = "phone", _l("Phone")
    AGENT = "agent", _l("Agent")
    BACK_OFFICE = "back_office", _l("Back office")


class ActivityStatus(LabeledEnum):
    NEW = "new", _l("New")
    WAITING_BILLING = "waiting_billing", _l("Waiting for the billing system")
    ASSIGNED = "assigned", _l("Assigned")
    IN_PROGRESS = "in_progress", _l("In progress")
    EXECUTED = "executed", _l("Executed")
    CLOSED = "closed", _l("Closed")
    REJECTED = "rejected", _l("Rejected")
    CANCELLED = "cancelled", _l("Cancelled")


# Subjects the product writes are stored as keys ("@name" or "@name:argument") and translated
# when shown, so a request reads in the language of whoever looks at it; people's own words
# (a question, a subject typed by staff) are stored as typed.
SUBJECT_KEY = "@"
SUBJECT_TEXTS = {
    "invoice_correction": _l("Correction of invoice %(number)s"),
}


def subject_key(name: str, argument: str = "") -> str:
    """The stored form of a product-written subject: `subject_key("kind")`, `…("invoice_correction", "F-1")`."""
    return f"{SUBJECT_KEY}{name}:{argument}" if argument else f"{SUBJECT_KEY}{name}"


def subject_text(stored: str | None, kind: "ActivityKind | None" = None) -> str:
    """A stored subject as shown in the current language (keys translated, free text as it is)."""
    stored = stored or ""
    if not stored.startswith(SUBJECT_KEY):
        return stored
    name, _, argument = stored[len(SUBJECT_KEY):].partition(":")
    if name == "kind":
        return str(kind.label) if kind is not None else ""
    text = SUBJECT_TEXTS.get(name)
    return str(text) % {"number": argument} if text is not None else stored


def request_reference(activity_id: int | None, created_at: dt.datetime | None) -> str:
    """The number a customer quotes: RIC-<year filed, in Italy>-<id, six digits>."""
    moment = created_at or utcnow()
    year = moment.year
    if moment.month == 12 and moment.day == 31:  # Italy is ahead of UTC: the last evening may be next year's
        year = to_rome(moment).year
    return f"RIC-{year}-{activity_id or 0:06d}"


class Badge(NamedTuple):
    """A status as a customer reads it: the badge's class suffix and its text."""

    kind: str
    text: object


_BADGE_WAITING = _l("Waiting for the billing system")
_BADGE_REFUSED = _l("Not accepted by billing: we are looking into it")


class RequestWording:
    """What a customer reads of a request: its subject in the current language and the number
    they quote. For anything with `id`, `kind`, `subject` and `created_at` (an activity, or a
    line of "my requests" read as a row)."""

    __slots__ = ()

    @property
    def subject_text(self) -> str:
        """The subject in the current language (see `subject_text`)."""
        return subject_text(self.subject, self.kind)

    @property
    def reference(self) -> str:
        """The number a customer quotes (see `request_reference`)."""
        return request_reference(self.id, self.created_at)

    def badge(self, waiting: bool = False) -> Badge:
        """The status as the customer reads it: a request with a write
        to billing still on its way waits for billing; one waiting for billing with none on
        its way was refused by billing (F-52)."""
        status = self.status
        if waiting and status in (ActivityStatus.NEW, ActivityStatus.WAITING_BILLING):
            return Badge("wait", _BADGE_WAITING)
        if status is ActivityStatus.WAITING_BILLING:
            return Badge("wait", _BADGE_REFUSED)
        return Badge(status.value, status.label)


class Activity(RequestWording, Model):
    """A request to the company: kind, who, what (payload), status, assignee, deadline."""

    __tablename__ = "activities"
    __table_args__ = (
        sa.Index("ix_activities_customer_created", "customer_id", "created_at"),
        sa.Index("ix_activities_status_deadline", "status", "deadline"),
        # The requests list, newest first (its default order), read one page at a time.
        sa.Index("ix_activities_created_id", "created_at", "id"),
        {"extend_existing": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ActivityKind] = mapped_column(enum_column(ActivityKind), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel), default=Channel.WEB)
    status: Mapped[ActivityStatus] = mapped_column(enum_column(ActivityStatus), default=ActivityStatus.NEW)
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"))
    supply_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("supply_points.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    # A follow-up an agent planned on one of their prospects (F-17).
    prospect_id: Mapped[int | None] = mapped_column(sa.ForeignKey("prospects.id"), index=True)
    subject: Mapped[str] = mapped_column(sa.String(200), default="")
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Visitors' contact data for information requests (no customer record).
    contact_name: Mapped[str] = mapped_column(sa.String(160), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(254), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(30), default="")
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"), index=True)
    deadline: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    # iCalendar invitation bookkeeping (F-22): one UID per activity, SEQUENCE grows per update.
    ical_uid: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    ical_sequence: Mapped[int] = mapped_column(sa.Integer, default=0)

    customer = relationship("Customer")
    supply_point = relationship("SupplyPoint")
    invoice = relationship("Invoice")
    assignee = relationship("SportelloUser", foreign_keys=[assignee_id])
    created_by = relationship("SportelloUser", foreign_keys=[created_by_id])
    history = relationship("ActivityHistory", back_populates="activity",
                           order_by="ActivityHistory.created_at", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"#{self.id} {self.kind}"


class ActivityHistory(Model):
    """One step in an activity's life: status change, assignment, note; who, when, why."""

    __tablename__ = "activity_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(sa.ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[ActivityStatus | None] = mapped_column(enum_column(ActivityStatus))
    to_status: Mapped[ActivityStatus | None] = mapped_column(enum_column(ActivityStatus))
    action: Mapped[str] = mapped_column(sa.String(40))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"))
    actor_label: Mapped[str] = mapped_column(sa.String(120), default="")  # "system", "billing", ...
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    activity = relationship("Activity", back_populates="history")
    actor = relationship("SportelloUser")


class ReminderLog(Model):
    """A reminder/deadline message sent for an activity: the unique key makes each one once."""

    __tablename__ = "reminder_log"
    __table_args__ = (sa.UniqueConstraint("activity_id", "kind", "due_on"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(sa.ForeignKey("activities.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(20))  # reminder | deadline
    due_on: Mapped[dt.date] = mapped_column(sa.Date)
    sent_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class ContactKind(LabeledEnum):
    MAILING = "mailing", _l("Mailing")
    APPOINTMENT = "appointment", _l("Appointment")
    PHONE_CALL = "phone_call", _l("Phone call")
    VISIT = "visit", _l("Visit")
    EMAIL = "email", _l("E-mail")


class Contact(Model):
    """A technical or commercial contact that is not a standard request (F-23)."""

    __tablename__ = "contacts"
    __table_args__ = (sa.Index("ix_contacts_customer_when", "customer_id", "starts_at"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ContactKind] = mapped_column(enum_column(ContactKind), index=True)
    # Who made the contact: back office, call center (phone) or an agent of the sales network.
    channel: Mapped[Channel] = mapped_column(enum_column(Channel), default=Channel.BACK_OFFICE,
                                             server_default=Channel.BACK_OFFICE.name)
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"))
    activity_id: Mapped[int | None] = mapped_column(sa.ForeignKey("activities.id"), index=True)
    # An agent's contact with one of their prospects (F-17).
    prospect_id: Mapped[int | None] = mapped_column(sa.ForeignKey("prospects.id"), index=True)
    operator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"), index=True)
    subject: Mapped[str] = mapped_column(sa.String(200), default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    starts_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    ends_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    location: Mapped[str] = mapped_column(sa.String(200), default="")
    ical_uid: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    ical_sequence: Mapped[int] = mapped_column(sa.Integer, default=0)
    cancelled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    customer = relationship("Customer")
    activity = relationship("Activity")
    operator = relationship("SportelloUser")

    @property
    def subject_text(self) -> str:
        """The subject in the current language (see `subject_text`)."""
        return subject_text(self.subject, self.kind)
