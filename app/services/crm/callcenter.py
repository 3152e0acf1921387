"""Call center (F-25): one search box for any identifier of a customer, the customer's requests,
the invoices sent to them by e-mail (F-08's send log), and a request opened while on the phone."""
from __future__ import annotations

import re
from typing import NamedTuple

import sqlalchemy as sa

from app.extensions import db
from app.models import Activity, ActivityKind, Channel, Customer, CustomerKind, Invoice, InvoiceEmailLog, SupplyPoint
from app.services.crm import activities
from app.services.core.unit_of_work import transactional


_POD = re.compile(r"^IT\d{3}E\d{8}[A-Z0-9]?$")
_TAX = re.compile(r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$")


def _prefix_range(column, prefix: str):
    """`column` starts with `prefix`, written so that a plain B-tree index serves it."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return sa.and_(column >= prefix, column < upper)


def find_customers(query: str, limit: int = 50) -> list[Customer]:
    """Customers matching `query` by name prefix, tax code, VAT number, customer code,
    PDR/POD, phone or e-mail; exact identifiers first, then names in order."""
    ids = _matching_ids(query, limit)
    if not ids:
        return []
    found = {c.id: c for c in db.session.scalars(sa.select(Customer).where(Customer.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


class CustomerRow(NamedTuple):
    """What the search's result list shows of a customer (no ORM object per row)."""
    id: int
    code: str
    kind: CustomerKind
    company_name: str | None
    last_name: str | None
    first_name: str | None
    tax_code: str | None
    vat_number: str | None
    city: str | None
    phone: str | None
    email: str | None

    @property
    def display_name(self) -> str:  # as Customer.display_name
        if self.kind == CustomerKind.COMPANY and self.company_name:
            return self.company_name
        return f"{self.last_name} {self.first_name}".strip()


_ROW_COLUMNS = [Customer.__table__.c[name] for name in CustomerRow._fields]
_ROWS = sa.select(*_ROW_COLUMNS).where(Customer.__table__.c.id.in_(sa.bindparam("ids", expanding=True)))


def search_rows(query: str, limit: int = 50) -> list[CustomerRow]:
    """`find_customers` as plain rows, in the same order: the call center's result list."""
    ids = _matching_ids(query, limit)
    if not ids:
        return []
    found = {r.id: CustomerRow(*r) for r in db.session.connection().execute(_ROWS, {"ids": ids})}
    return [found[i] for i in ids if i in found]


def _matching_ids(query: str, limit: int) -> list[int]:
    q = " ".join((query or "").split())
    if len(q) < 2:
        return []
    upper = q.upper().replace(" ", "")
    lower = q.lower()
    digits = re.sub(r"[^\d]", "", q)
    ids: list[int] = []
    db.session.flush()  # the lookups below are Core statements on the session's connection
    connection = db.session.connection()

    def add(stmt):
        for id_ in connection.execute(stmt.limit(limit)).scalars():
            if id_ not in ids:
                ids.append(id_)

    # Each identifier is looked up on its own index (an OR of all would defeat the planner).
    if _TAX.match(upper):
        add(sa.select(Customer.id).where(Customer.tax_code == upper))
    if upper.isdigit() and len(upper) == 11:
        add(sa.select(Customer.id).where(Customer.vat_number == upper))
    if upper.isdigit() and len(upper) == 14:
        add(sa.select(SupplyPoint.customer_id).where(SupplyPoint.pdr == upper))
    if _POD.match(upper):
        add(sa.select(SupplyPoint.customer_id).where(SupplyPoint.pod == upper))
    add(sa.select(Customer.id).where(Customer.code == upper))
    if "@" in q:
        add(sa.select(Customer.id).where(sa.or_(Customer.email == lower, Customer.email == q)))
    if 6 <= len(digits) <= 15 and re.fullmatch(r"[\d\s+./-]+", q):
        candidates = {digits, q.replace(" ", "")}
        if digits.startswith("39") and len(digits) > 9:
            candidates.add(digits[2:])
        add(sa.select(Customer.id).where(Customer.phone.in_(sorted(candidates))))
    if not any(ch.isdigit() for ch in q) and "@" not in q:
        add(sa.select(Customer.id).where(_prefix_range(Customer.search_name, lower))
            .order_by(Customer.search_name, Customer.id))
    return ids[:limit]


def customer_requests(customer: Customer) -> list[Activity]:
    """The customer's requests, newest first."""
    return list(db.session.scalars(sa.select(Activity).where(
        Activity.customer_id == customer.id).order_by(Activity.created_at.desc())))


@transactional
def open_request(customer: Customer, actor, kind: ActivityKind, subject: str, note: str = "", *,
                 channel: Channel) -> Activity:
    """Open a request for the customer (with an optional first note); commit."""
    activity = activities.create_activity(kind, channel=channel, customer_id=customer.id, subject=subject,
                                          actor=actor)
    if note.strip():
        activities.add_note(activity, actor, note.strip())
    return activity


def invoice_mail_log(customer: Customer, limit: int = 20) -> list[InvoiceEmailLog]:
    """The customer's latest invoice e-mails (F-08): to which address, how, with what outcome."""
    return list(db.session.scalars(
        sa.select(InvoiceEmailLog).join(Invoice, Invoice.id == InvoiceEmailLog.invoice_id)
        .where(Invoice.customer_id == customer.id)
        .order_by(InvoiceEmailLog.created_at.desc(), InvoiceEmailLog.id.desc()).limit(limit)))
