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
    invoices = _newest(Invoice, Invoice.invoice_date, ids)
    readings = _newest(MeterReading, MeterReading.reading_date, ids)
    return [SupplySummary(sp, invoices.get(sp.id), readings.get(sp.id)) for sp in supply_points]


def _newest(model, date_column, supply_point_ids: list[int]) -> dict[int, object]:
    """Each supply point's newest row of `model` (by date, then id), by supply point id."""
    if not supply_point_ids:
        return {}
    rank = sa.func.row_number().over(partition_by=model.supply_point_id,
                                     order_by=(date_column.desc(), model.id.desc())).label("rank")
    ranked = (sa.select(model.id, rank).where(model.supply_point_id.in_(supply_point_ids))
              .subquery())
    rows = db.session.scalars(sa.select(model).join(ranked, ranked.c.id == model.id)
                              .where(ranked.c.rank == 1))
    return {row.supply_point_id: row for row in rows}


def notices(customer_id: int) -> Notices:
    """What the customer should know before anything else."""
    open_requests = db.session.scalar(sa.select(sa.func.count()).select_from(Activity).where(
        Activity.customer_id == customer_id, Activity.status.in_(OPEN_STATUSES)))
    refused = db.session.scalar(sa.select(sa.func.count(sa.distinct(Activity.id))).select_from(Activity)
                                .join(OutboxMessage, OutboxMessage.activity_id == Activity.id).where(
        Activity.customer_id == customer_id, Activity.status.in_(OPEN_STATUSES),
        OutboxMessage.status == OutboxStatus.FAILED))
    # A supply point's newest mandate tells where it stands: a rejection followed by a new
    # request is no longer news.
    newest: dict[int, DirectDebitMandate] = {}
    for mandate in db.session.scalars(
            sa.select(DirectDebitMandate).join(SupplyPoint)
            .where(SupplyPoint.customer_id == customer_id)
            .order_by(DirectDebitMandate.created_at.desc(), DirectDebitMandate.id.desc())):
        newest.setdefault(mandate.supply_point_id, mandate)
    rejected = [m for m in newest.values() if m.status == MandateStatus.REJECTED]
    return Notices(open_requests=open_requests or 0, refused_requests=refused or 0,
                   rejected_mandates=rejected)
