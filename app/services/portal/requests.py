"""Requests a customer follows (F-03, F-09, "my requests").

Information requests come from anyone (a visitor leaves name and how to be reached); invoice
correction requests from a logged-in customer about one of their invoices. Both are
activities for the back office. "My requests" lists every activity of the customer with its
status, history and whether a write is still waiting for the billing system.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import force_locale

from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import Activity, ActivityKind, ActivityStatus, Invoice, OutboxMessage, OutboxStatus
from app.models.activity import RequestWording, subject_key
from app.models.base import one_of
from app.services.core.errors import DomainError
from app.services.core.reads import run
from app.services.core.unit_of_work import transactional


class RequestError(DomainError):
    """A request that can't be filed as asked."""


def confirm_by_mail(activity: Activity, user=None, *, address: str = "", name: str = "",
                    language: str | None = None) -> None:
    """Queue the "we have received your request" e-mail with the request's reference number,
    to the customer's address on file (or the one a visitor gave), in their language."""
    from flask import current_app

    from app.services.mailing import mail
    from app.services.portal.contact import contact_email

    customer = activity.customer
    if user is not None and getattr(user, "customer_id", None):
        address = contact_email(user) or address
        language = user.language or language
    if not address:
        return
    language = language if language in mail.LANGUAGES else "it"
    with force_locale(language):
        context = {"name": (customer.addressed_name if customer else "") or name or address,
                   "reference": activity.reference, "kind": str(activity.kind.label),
                   "subject": "" if activity.kind == ActivityKind.INFORMATION_REQUEST
                   or activity.subject_text == str(activity.kind.label) else activity.subject_text,
                   "url": ""}
    if customer is not None:
        base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
        context["url"] = f"{base}/portal/requests/{activity.id}" if base else ""
    mail.queue_mail("request_received", language, [address], context,
                    key=f"request_received-{activity.id}")


@transactional
def information_request(*, name: str, question: str, email: str = "", phone: str = "",
                        postal_address: str = "", customer_id: int | None = None,
                        user=None, language: str | None = None) -> Activity:
    from app.services.crm import activities

    name, question = name.strip(), question.strip()
    email, phone, postal_address = email.strip(), phone.strip(), postal_address.strip()
    if not (email or phone or postal_address):
        raise RequestError(_l("Tell us at least one way to reach you: phone, e-mail or postal address."),
                           "email")
    activity = activities.create_activity(
        ActivityKind.INFORMATION_REQUEST, customer_id=customer_id, actor=user,
        subject=question[:200], contact_name=name[:160], contact_email=email[:254],
        contact_phone=phone[:30],
        payload={"question": question, "postal_address": postal_address})
    confirm_by_mail(activity, user, address=email, name=name, language=language)
    return activity


@transactional
def invoice_correction(user, invoice: Invoice, reason: str) -> Activity:
    from app.services.crm import activities

    reason = reason.strip()
    if len(reason) < 10:
        raise RequestError(_l("Tell us in a few words what is wrong with the invoice."), "reason")
    activity = activities.create_activity(
        ActivityKind.INVOICE_CORRECTION, customer_id=invoice.customer_id,
        supply_point_id=invoice.supply_point_id, invoice_id=invoice.id, actor=user,
        subject=subject_key("invoice_correction", invoice.number),
        payload={"invoice_number": invoice.number, "reason": reason})
    confirm_by_mail(activity, user)
    return activity


@dataclass(frozen=True, slots=True)
class RequestLine(RequestWording):
    """One line of "my requests": what the list shows of an activity."""

    id: int
    kind: ActivityKind
    status: ActivityStatus
    subject: str
    created_at: dt.datetime
    waiting: bool  # a write to billing is still on its way


# A write billing has not received yet: the request is still waiting for billing.
_WAITING_STATUSES = (OutboxStatus.PENDING, OutboxStatus.DELIVERING)
_CUSTOMER = sa.bindparam("customer_id")
# One statement for the page, the number of requests and which are waiting for billing.
_MY_REQUESTS = (
    sa.select(Activity.id, Activity.kind, Activity.status, Activity.subject, Activity.created_at,
              sa.exists().where(OutboxMessage.activity_id == Activity.id,
                                one_of(OutboxMessage.status, _WAITING_STATUSES)).label("waiting"),
              sa.func.count().over().label("total"))
    .where(Activity.customer_id == _CUSTOMER)
    .order_by(Activity.created_at.desc(), Activity.id.desc())
    .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")))
_COUNT = sa.select(sa.func.count()).select_from(Activity).where(Activity.customer_id == _CUSTOMER)


def my_requests(customer_id: int, page: int = 1, per_page: int = 20) -> tuple[list[RequestLine], int]:
    """One page of the customer's requests, newest first, and how many there are in all."""
    result = run(_MY_REQUESTS, {"customer_id": customer_id, "limit": per_page,
                                               "offset": (page - 1) * per_page}).all()
    if result:
        total = result[0].total
    else:  # past the last page (or none at all): the number alone
        total = db.session.scalar(_COUNT, {"customer_id": customer_id}) if page > 1 else 0
    return [RequestLine(r.id, r.kind, r.status, r.subject or "", r.created_at, bool(r.waiting))
            for r in result], total


def waiting_for_billing(activity_ids: list[int]) -> set[int]:
    """The activities with a write billing has not received yet."""
    if not activity_ids:
        return set()
    return set(db.session.scalars(sa.select(OutboxMessage.activity_id).where(
        OutboxMessage.activity_id.in_(activity_ids),
        one_of(OutboxMessage.status, _WAITING_STATUSES))))


def withdraw(user, activity: Activity) -> None:
    from app.services.crm import activities

    activities.transition(activity, "withdraw", user)
