"""The customer's home page: per supply point what is owed (F-07) and the last reading (F-10),
and the notices a customer should not miss (requests still open or refused by billing, a
direct debit request rejected — F-06, F-20)."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from app.extensions import db
from app.models import (Activity, ActivityStatus, DirectDebitMandate, Invoice, MandateStatus,
                        MeterReading, OutboxMessage, OutboxStatus, SupplyPoint)

# Requests still being handled, by people or by billing.
OPEN_STATUSES = (ActivityStatus.NEW, ActivityStatus.WAITING_BILLING, ActivityStatus.ASSIGNED,
                 ActivityStatus.IN_PROGRESS)


@dataclass
class SupplySummary:
    supply_point: SupplyPoint
    latest_invoice: Invoice | None  # the newest by date (its amount_due: left to pay)
    last_reading: MeterReading | None  # the newest by date, whatever its state


@dataclass
class Notices:
    open_requests: int = 0
    refused_requests: int = 0  # a write billing did not accept: staff look into it
    rejected_mandates: list[DirectDebitMandate] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.open_requests or self.refused_requests or self.rejected_mandates)


def supply_summaries(supply_points: list[SupplyPoint]) -> list[SupplySummary]:
    """The latest invoice and the last reading of each supply point: two statements, however
    many supply points."""
    ids = [sp.id for sp in supply_points]
    invoices = _newest(Invoice, ids)
    readings = _newest(MeterReading, ids)
    return [SupplySummary(sp, invoices.get(sp.id), readings.get(sp.id)) for sp in supply_points]


# The home page's statements are built once (building them per request cost about as much as
# running them); they take the customer or the supply points as parameters.
def _newest_statement(model, date_column):
    rank = sa.func.row_number().over(partition_by=model.supply_point_id,
                                     order_by=(date_column.desc(), model.id.desc())).label("rank")
    ranked = (sa.select(model.id, rank).where(model.supply_point_id.in_(sa.bindparam("ids", expanding=True)))
              .subquery())
    return sa.select(model).join(ranked, ranked.c.id == model.id).where(ranked.c.rank == 1)


_NEWEST = {Invoice: _newest_statement(Invoice, Invoice.invoice_date),
           MeterReading: _newest_statement(MeterReading, MeterReading.reading_date)}


def _newest(model, supply_point_ids: list[int]) -> dict[int, object]:
    """Each supply point's newest row of `model` (by date, then id), by supply point id."""
    if not supply_point_ids:
        return {}
    rows = db.session.scalars(_NEWEST[model], {"ids": supply_point_ids})
    return {row.supply_point_id: row for row in rows}


_CUSTOMER = sa.bindparam("customer_id")
_OPEN_REQUESTS = sa.select(sa.func.count()).select_from(Activity).where(
    Activity.customer_id == _CUSTOMER, Activity.status.in_(OPEN_STATUSES))
_REFUSED_REQUESTS = (sa.select(sa.func.count(sa.distinct(Activity.id))).select_from(Activity)
                     .join(OutboxMessage, OutboxMessage.activity_id == Activity.id).where(
    Activity.customer_id == _CUSTOMER, Activity.status.in_(OPEN_STATUSES),
    OutboxMessage.status == OutboxStatus.FAILED))
_MANDATES = (sa.select(DirectDebitMandate).join(SupplyPoint).where(SupplyPoint.customer_id == _CUSTOMER)
             .order_by(DirectDebitMandate.created_at.desc(), DirectDebitMandate.id.desc()))


def notices(customer_id: int) -> Notices:
    """What the customer should know before anything else."""
    params = {"customer_id": customer_id}
    open_requests = db.session.scalar(_OPEN_REQUESTS, params)
    refused = db.session.scalar(_REFUSED_REQUESTS, params)
    # A supply point's newest mandate tells where it stands: a rejection followed by a new
    # request is no longer news.
    newest: dict[int, DirectDebitMandate] = {}
    for mandate in db.session.scalars(_MANDATES, params):
        newest.setdefault(mandate.supply_point_id, mandate)
    rejected = [m for m in newest.values() if m.status == MandateStatus.REJECTED]
    return Notices(open_requests=open_requests or 0, refused_requests=refused or 0,
                   rejected_mandates=rejected)
