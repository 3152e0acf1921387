"""General contacts (F-23).

A contact is a mailing, appointment, phone call, visit or e-mail with a customer, optionally
tied to an activity. An appointment is an iCalendar invitation like an activity's deadline:
one UID, SEQUENCE + 1 on every change, METHOD:CANCEL when cancelled; the operator (and the
customer, when asked) receive it by e-mail.
"""
from __future__ import annotations

import datetime as dt

from flask import current_app
from flask_babel import force_locale, format_datetime

from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import Activity, Channel, Contact, ContactKind, Customer
from app.models.activity import subject_key
from app.services.core.audit import record
from app.services.core.errors import DomainError
from app.services.crm.calendar import (CANCEL, REQUEST, Invitation, Person, build_ics, new_uid,
                                   sender_domain)
from app.services.core.unit_of_work import transactional


class ContactError(DomainError):
    """A contact cannot be saved as asked; the message is translated."""


@transactional
def create_contact(kind: ContactKind, operator, *, customer_id: int | None, subject: str,
                   notes: str = "", starts_at: dt.datetime | None = None,
                   ends_at: dt.datetime | None = None, location: str = "",
                   activity_id: int | None = None, invite_customer: bool = False,
                   channel: Channel = Channel.BACK_OFFICE) -> Contact:
    """File a contact, with or without a customer; an appointment also sends its invitation.

    Times are naive UTC; `channel` says who made it (back office, phone, agent).
    """
    from app.models.base import utcnow

    if activity_id is not None:
        activity = db.session.get(Activity, activity_id)
        if activity is None or (customer_id is not None and activity.customer_id != customer_id):
            raise ContactError(_l("The request does not belong to this customer."))
    if ends_at and starts_at and ends_at <= starts_at:
        raise ContactError(_l("The end must be after the start."))
    if invite_customer and customer_id is None:
        raise ContactError(_l("Without a customer there is nobody to invite: choose the customer or untick the invitation."),
                           "invite_customer")
    contact = Contact(kind=kind, channel=channel, customer_id=customer_id, activity_id=activity_id,
                      operator_id=getattr(operator, "id", None), subject=subject.strip(),
                      notes=notes.strip(), starts_at=starts_at or utcnow(), ends_at=ends_at,
                      location=location.strip(), cancelled=False)
    db.session.add(contact)
    db.session.flush()
    record("contact", contact.id, "create", {"kind": [None, kind.value], "subject": [None, contact.subject]},
           operator)
    if kind == ContactKind.APPOINTMENT:
        contact.ical_uid = new_uid(f"contact-{contact.id}",
                                   sender_domain(current_app.config.get("MAIL_DEFAULT_SENDER", "")))
        contact.ical_sequence = 0
        _invite(contact, operator, REQUEST, invite_customer)
    if activity_id is not None:
        from app.services.crm.activities import add_note

        add_note(contact.activity, operator, f"{kind.label}: {contact.subject_text}\n{contact.notes}".strip())
    return contact


@transactional
def reschedule_appointment(contact: Contact, actor, starts_at: dt.datetime,
                           ends_at: dt.datetime | None = None, location: str | None = None, *,
                           invite_customer: bool = False) -> Contact:
    """Move an appointment: the invitation is updated (same UID, SEQUENCE + 1)."""
    if contact.kind != ContactKind.APPOINTMENT or contact.cancelled:
        raise ContactError(_l("Only a planned appointment can be moved."))
    if ends_at and ends_at <= starts_at:
        raise ContactError(_l("The end must be after the start."))
    record("contact", contact.id, "reschedule",
           {"starts_at": [contact.starts_at.isoformat(), starts_at.isoformat()]}, actor)
    contact.starts_at, contact.ends_at = starts_at, ends_at
    if location is not None:
        contact.location = location.strip()
    contact.ical_sequence = (contact.ical_sequence or 0) + 1
    _invite(contact, actor, REQUEST, invite_customer)
    return contact


@transactional
def cancel_appointment(contact: Contact, actor, *, invite_customer: bool = False) -> Contact:
    """Cancel an appointment: METHOD:CANCEL with the same UID to everyone invited."""
    if contact.kind != ContactKind.APPOINTMENT or contact.cancelled:
        raise ContactError(_l("Only a planned appointment can be cancelled."))
    contact.cancelled = True
    contact.ical_sequence = (contact.ical_sequence or 0) + 1
    record("contact", contact.id, "cancel", {"cancelled": [False, True]}, actor)
    _invite(contact, actor, CANCEL, invite_customer)
    return contact


@transactional
def record_call(customer: Customer, operator, notes: str, *, subject: str = "",
                activity_id: int | None = None) -> Contact:
    """The call center records a phone call with the customer (F-25)."""
    if not (notes or "").strip():
        raise ContactError(_l("Write what was said in the call."))
    return create_contact(ContactKind.PHONE_CALL, operator, customer_id=customer.id,
                          subject=subject or subject_key("kind"), notes=notes,
                          activity_id=activity_id, channel=Channel.PHONE)


def _invite(contact: Contact, actor, method: str, invite_customer: bool) -> None:
    from app.services.mailing.mail import queue_mail

    operator = contact.operator or actor
    people = []
    if operator is not None and operator.email:
        people.append((operator.email, f"{operator.first_name} {operator.last_name}".strip(),
                       operator.language or "it", operator.id))
    customer = contact.customer
    if invite_customer and customer is not None and customer.email:
        people.append((customer.email, customer.display_name, customer.language or "it", f"c{customer.id}"))
    if not people:
        return
    organizer = Person(operator.email, f"{operator.first_name} {operator.last_name}".strip()) \
        if operator is not None and operator.email else None
    ics = build_ics(Invitation(uid=contact.ical_uid, sequence=contact.ical_sequence or 0,
                               summary=contact.subject_text or str(contact.kind.label), start=contact.starts_at,
                               end=contact.ends_at, description=contact.notes, location=contact.location,
                               organizer=organizer,
                               attendees=[Person(email, name) for email, name, _, _ in people]), method)
    for email, name, language, who in people:
        with force_locale(language):
            context = {"name": name, "subject": contact.subject_text, "notes": contact.notes,
                       "location": contact.location, "cancelled": method == CANCEL,
                       "starts_at": format_datetime(contact.starts_at, "short"),
                       "ends_at": format_datetime(contact.ends_at, "short") if contact.ends_at else "",
                       "operator": organizer.name if organizer else "",
                       "customer": customer.display_name if customer else ""}
        if method == CANCEL:
            context["ics_method"] = CANCEL
        queue_mail("appointment", language, [email], context, ics=ics,
                   key=f"contact-{contact.id}-{method.lower()}-{contact.ical_sequence}-{who}")
