"""The customer timeline (F-26): everything about one customer, newest first.

Supply points, invoices, payments, readings, requests, contacts, contracts and e-mails sent
(invoice e-mails and every other message addressed to the customer's e-mail address), each
read with an indexed query and capped, then merged by date. Readings and contracts name their
supply point, so a customer with gas and electricity sees which is which.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.formatting import format_currency, format_decimal
from app.i18n import gettext as _
from app.models import (Activity, Contact, Contract, Customer, Invoice, InvoiceEmailLog,
                        MeterReading, OutgoingMail, Payment, SupplyPoint)
from app.services.mailing.templates import status_title, title

PER_KIND = 200


@dataclass
class Event:
    when: dt.datetime
    kind: str  # supply_point, invoice, payment, reading, activity, contact, contract, email
    title: str
    detail: str = ""
    status: str = ""
    link: tuple[str, int] | None = None  # (endpoint, pk) of the staff page showing the row


def _at(value) -> dt.datetime:
    if value is None:
        return dt.datetime.min
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time())


def customer_timeline(customer: Customer, limit: int = PER_KIND) -> list[Event]:
    """Every event of `customer`, newest first (at most `limit` of each kind)."""
    cid = customer.id
    events: list[Event] = []
    points = db.session.scalars(sa.select(SupplyPoint).where(SupplyPoint.customer_id == cid)).all()
    point_ids = [p.id for p in points]
    # A customer with several supply points (dual fuel): each reading and contract names its own.
    codes = {p.id: p.point_code for p in points}
    for p in points:
        events.append(Event(_at(p.activation_date or p.synced_at), "supply_point",
                            f"{p.service.label} {p.point_code}", f"{p.address} {p.city}".strip(),
                            str(p.status.label), ("SupplyPointView", p.id)))
    for inv in db.session.scalars(sa.select(Invoice).where(Invoice.customer_id == cid)
                                  .order_by(Invoice.invoice_date.desc()).limit(limit)):
        events.append(Event(_at(inv.invoice_date), "invoice", inv.number,
                            f"{format_currency(inv.amount)} · {inv.invoice_type.label}", str(inv.status.label),
                            ("InvoiceView", inv.id)))
    for pay in db.session.scalars(sa.select(Payment).where(Payment.customer_id == cid)
                                  .order_by(Payment.payment_date.desc()).limit(limit)):
        events.append(Event(_at(pay.payment_date), "payment", format_currency(pay.amount),
                            f"{pay.method.label} {pay.paid_at}".strip(), "", ("PaymentView", pay.id)))
    if point_ids:
        for r in db.session.scalars(sa.select(MeterReading).where(MeterReading.supply_point_id.in_(point_ids))
                                    .order_by(MeterReading.reading_date.desc()).limit(limit)):
            events.append(Event(_at(r.reading_date), "reading", format_decimal(r.value),
                                f"{codes[r.supply_point_id]} · {r.reading_type.label} · {r.source.label}",
                                str(r.status.label),
                                ("MeterReadingView", r.id)))
    for a in db.session.scalars(sa.select(Activity).where(Activity.customer_id == cid)
                                .order_by(Activity.created_at.desc()).limit(limit)):
        events.append(Event(_at(a.created_at), "activity", f"#{a.id} {a.kind.label}", a.subject_text,
                            str(a.status.label), ("ActivityView", a.id)))
    for c in db.session.scalars(sa.select(Contact).where(Contact.customer_id == cid)
                                .order_by(Contact.starts_at.desc()).limit(limit)):
        events.append(Event(_at(c.starts_at), "contact", f"{c.kind.label}: {c.subject_text}", c.notes,
                            _("Cancelled") if c.cancelled else "", ("ContactView", c.id)))
    for k in db.session.scalars(sa.select(Contract).where(Contract.customer_id == cid)
                                .order_by(Contract.created_at.desc()).limit(limit)):
        code = codes.get(k.supply_point_id) or k.pdr or k.pod
        events.append(Event(_at(k.created_at), "contract", k.number,
                            " ".join(part for part in (str(k.service.label) if k.service else "", code) if part),
                            str(k.status.label)))
    for log in db.session.scalars(sa.select(InvoiceEmailLog).join(Invoice, Invoice.id == InvoiceEmailLog.invoice_id)
                                  .where(Invoice.customer_id == cid)
                                  .order_by(InvoiceEmailLog.created_at.desc()).limit(limit)):
        events.append(Event(_at(log.sent_at or log.created_at), "email", log.email,
                            log.invoice.number,
                            str(log.outcome.label)))
    if customer.email:
        # Recipients are a JSON list: match the quoted address in its text form.
        needle = f'%"{customer.email}"%'
        for mail in db.session.scalars(sa.select(OutgoingMail)
                                       .where(sa.cast(OutgoingMail.recipients, sa.Text).like(needle))
                                       .order_by(OutgoingMail.created_at.desc()).limit(limit)):
            events.append(Event(_at(mail.sent_at or mail.created_at), "email", title(mail.template),
                                ", ".join(mail.recipients or []), status_title(mail.status)))
    events.sort(key=lambda e: e.when, reverse=True)
    return events
