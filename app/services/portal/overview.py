"""The customer's home page: per supply point what is owed (F-07) and the last reading (F-10),
and the notices a customer should not miss (requests still open or refused by billing, a
direct debit request rejected — F-06, F-20)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.models import (Activity, ActivityStatus, DirectDebitMandate, Invoice, MandateStatus, Meter,
                        MeterReading, OutboxMessage, OutboxStatus, SupplyPoint)
from app.models.base import one_of
from app.models.customer import Customer, addressed_name
from app.services.core.reads import run
from app.services.portal import invoices

# Requests still being handled, by people or by billing.
OPEN_STATUSES = (ActivityStatus.NEW, ActivityStatus.WAITING_BILLING, ActivityStatus.ASSIGNED,
                 ActivityStatus.IN_PROGRESS)


@dataclass
class SupplySummary:
    supply_point: SupplyPoint
    latest_invoice: sa.Row | None  # the newest by date: id, number, dates, amount, status, amount_due
    last_reading: sa.Row | None  # the newest by date, whatever its state
    has_meter: bool = False  # a reading can be reported
    mandate_rejected: bool = False  # its newest direct debit request was rejected


@dataclass
class Notices:
    open_requests: int = 0
    refused_requests: int = 0  # a write billing did not accept: staff look into it
    # The supply points whose newest direct debit request was rejected.
    rejected_mandate_supplies: list[SupplyPoint] = field(default_factory=list)

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
_SUPPLY_POINTS = (sa.select(SupplyPoint, sa.exists().where(Meter.supply_point_id == SupplyPoint.id)
                            .label("has_meter"), _NEWEST_MANDATE.label("mandate_status"))
                  .where(SupplyPoint.customer_id == _CUSTOMER).order_by(SupplyPoint.code))


def supply_summaries(customer_id: int) -> list[SupplySummary]:
    """The customer's supply points with their latest invoice, last reading and where their
    direct debit stands: three statements, however many supply points."""
    rows = db.session.execute(_SUPPLY_POINTS, {"customer_id": customer_id}).all()
    ids = [sp.id for sp, _, _ in rows]
    latest_invoice = _newest(_NEWEST_INVOICE, ids)
    last_reading = _newest(_NEWEST_READING, ids)
    return [SupplySummary(sp, latest_invoice.get(sp.id), last_reading.get(sp.id), bool(has_meter),
                          mandate == MandateStatus.REJECTED)
            for sp, has_meter, mandate in rows]


def _newest_statement(model, date_column, *columns):
    rank = sa.func.row_number().over(partition_by=model.supply_point_id,
                                     order_by=(date_column.desc(), model.id.desc())).label("rank")
    ranked = (sa.select(model.id, rank).where(model.supply_point_id.in_(sa.bindparam("ids", expanding=True)))
              .subquery())
    return sa.select(model.supply_point_id, *columns).join(ranked, ranked.c.id == model.id).where(ranked.c.rank == 1)


_NEWEST_INVOICE = _newest_statement(
    Invoice, Invoice.invoice_date, Invoice.id, Invoice.number, Invoice.invoice_date, Invoice.due_date,
    Invoice.amount, Invoice.status,
    (sa.func.coalesce(Invoice.amount, 0) - sa.func.coalesce(Invoice.amount_paid, 0)).label("amount_due"))
_NEWEST_READING = _newest_statement(
    MeterReading, MeterReading.reading_date, MeterReading.reading_date, MeterReading.value,
    MeterReading.corrector_value, MeterReading.reading_type, MeterReading.status)


def _newest(statement, supply_point_ids: list[int]) -> dict[int, sa.Row]:
    """Each supply point's newest row (by date, then id), by supply point id."""
    if not supply_point_ids:
        return {}
    return {row.supply_point_id: row for row in run(statement, {"ids": supply_point_ids})}


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
