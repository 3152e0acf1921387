"""The customer's home page: per supply point what is owed (F-07) and the last reading (F-10),
and the notices a customer should not miss (requests still open or refused by billing, a
direct debit request rejected — F-06, F-20)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

import sqlalchemy as sa

from app.models import (Activity, ActivityStatus, DirectDebitMandate, Invoice, InvoiceStatus, MandateStatus,
                        Meter, MeterReading, OutboxMessage, OutboxStatus, PaymentMethod, ReadingStatus,
                        ReadingType, Service, SupplyPoint, SupplyStatus)
from app.models.supply import supply_name
from app.models.base import one_of
from app.models.customer import Customer, addressed_name
from app.services.core.reads import run
from app.services.portal import invoices

# Requests still being handled, by people or by billing.
OPEN_STATUSES = (ActivityStatus.NEW, ActivityStatus.WAITING_BILLING, ActivityStatus.ASSIGNED,
                 ActivityStatus.IN_PROGRESS)


@dataclass(frozen=True)
class SupplyHeading:
    """What the home page names a supply point by."""

    id: int
    service: Service
    point_code: str  # PDR, POD or billing's code
    status: SupplyStatus
    payment_method: PaymentMethod
    address: str
    city: str

    @property
    def display_name(self) -> str:
        return supply_name(self.service, self.address, self.city)


class LatestInvoice(NamedTuple):
    id: int
    number: str
    invoice_date: dt.date
    due_date: dt.date | None
    amount: Decimal
    status: InvoiceStatus
    amount_due: Decimal


class LastReading(NamedTuple):
    reading_date: dt.date
    value: int
    corrector_value: int | None
    reading_type: ReadingType
    status: ReadingStatus


@dataclass
class SupplySummary:
    supply_point: SupplyHeading
    latest_invoice: LatestInvoice | None  # the newest by date (then by id)
    last_reading: LastReading | None  # the newest by date (then by id), whatever its state
    has_meter: bool = False  # a reading can be reported
    mandate_rejected: bool = False  # its newest direct debit request was rejected


@dataclass
class Notices:
    open_requests: int = 0
    refused_requests: int = 0  # a write billing did not accept: staff look into it
    # The supply points whose newest direct debit request was rejected.
    rejected_mandate_supplies: list[SupplyHeading] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.open_requests or self.refused_requests or self.rejected_mandate_supplies)


# The home page's statements are built once (building them per request cost about as much as
# running them); they take the customer or the supply points as parameters. Each reads the
# columns the page shows, not whole records.
_CUSTOMER = sa.bindparam("customer_id")
# A supply point's newest mandate tells where it stands: a rejection followed by a new request
# is no longer news.
_NEWEST_MANDATE = (sa.select(DirectDebitMandate.status).where(DirectDebitMandate.supply_point_id == SupplyPoint.id)
                   .order_by(DirectDebitMandate.created_at.desc(), DirectDebitMandate.id.desc()).limit(1)
                   .correlate(SupplyPoint).scalar_subquery())


def _newest_id(model, date_column):
    """The id of the supply point's newest `model` row (by date, then id): a correlated subquery."""
    return (sa.select(model.id).where(model.supply_point_id == SupplyPoint.id)
            .order_by(date_column.desc(), model.id.desc()).limit(1).correlate(SupplyPoint).scalar_subquery())


_sp = SupplyPoint.__table__.c
_latest_invoice = Invoice.__table__.alias("latest_invoice")
_last_reading = MeterReading.__table__.alias("last_reading")
_inv, _rd = _latest_invoice.c, _last_reading.c
_HEADING = (_sp.id, _sp.service, SupplyPoint.point_code.label("point_code"), _sp.status, _sp.payment_method,
            _sp.address, _sp.city)
_INVOICE = (_inv.id, _inv.number, _inv.invoice_date, _inv.due_date, _inv.amount, _inv.status,
            (sa.func.coalesce(_inv.amount, 0) - sa.func.coalesce(_inv.amount_paid, 0)))
_READING = (_rd.reading_date, _rd.value, _rd.corrector_value, _rd.reading_type, _rd.status)
_SUMMARIES = (sa.select(*_HEADING,
                        sa.exists().where(Meter.supply_point_id == SupplyPoint.id).label("has_meter"),
                        _NEWEST_MANDATE.label("mandate_status"),
                        *(c.label(f"invoice_{n}") for n, c in zip(LatestInvoice._fields, _INVOICE)),
                        *(c.label(f"last_{n}") for n, c in zip(LastReading._fields, _READING)))
              .select_from(SupplyPoint.__table__)
              .outerjoin(_latest_invoice, _inv.id == _newest_id(Invoice, Invoice.invoice_date))
              .outerjoin(_last_reading, _rd.id == _newest_id(MeterReading, MeterReading.reading_date))
              .where(_sp.customer_id == _CUSTOMER).order_by(_sp.code))
_N_HEADING, _N_INVOICE = len(_HEADING), len(_INVOICE)


def supply_summaries(customer_id: int) -> list[SupplySummary]:
    """The customer's supply points with their latest invoice, last reading and where their
    direct debit stands: one statement, however many supply points."""
    out = []
    first_invoice = _N_HEADING + 2
    first_reading = first_invoice + _N_INVOICE
    for row in run(_SUMMARIES, {"customer_id": customer_id}):
        invoice = row[first_invoice:first_reading]
        reading = row[first_reading:]
        out.append(SupplySummary(
            SupplyHeading(*row[:_N_HEADING]),
            LatestInvoice(*invoice) if invoice[0] is not None else None,
            LastReading(*reading) if reading[0] is not None else None,
            bool(row.has_meter), row.mandate_status == MandateStatus.REJECTED))
    return out


_OPEN = sa.select(sa.func.count()).select_from(Activity).where(
    Activity.customer_id == _CUSTOMER, one_of(Activity.status, OPEN_STATUSES)).scalar_subquery()
_REFUSED = (sa.select(sa.func.count(sa.distinct(Activity.id))).select_from(Activity)
            .join(OutboxMessage, OutboxMessage.activity_id == Activity.id).where(
    Activity.customer_id == _CUSTOMER, one_of(Activity.status, OPEN_STATUSES),
    OutboxMessage.status == OutboxStatus.FAILED)).scalar_subquery()


@dataclass
class Overview:
    """The top of the home page: whom it greets, what is left to pay, what needs attention."""

    name: str
    balance: Decimal
    notices: Notices


_OVERVIEW = sa.select(Customer.kind, Customer.first_name, Customer.last_name, Customer.company_name,
                      _OPEN.label("open"), _REFUSED.label("refused"),
                      invoices.BALANCE.scalar_subquery().label("balance")).where(Customer.id == _CUSTOMER)


def overview(customer_id: int, summaries: list[SupplySummary]) -> Overview:
    """The customer's name, balance and notices (the supply points' from `summaries`): one
    statement."""
    row = run(_OVERVIEW, {"customer_id": customer_id}).one()
    notices = Notices(open_requests=row.open or 0, refused_requests=row.refused or 0,
                      rejected_mandate_supplies=[s.supply_point for s in summaries if s.mandate_rejected])
    return Overview(addressed_name(row.kind, row.first_name, row.last_name, row.company_name),
                    invoices.as_money(row.balance), notices)
