"""Meter readings: aligned from billing, or reported by the customer (self-reading)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import lazy_pgettext as _p

from .base import ALIGNED_TABLE_STORAGE, LabeledEnum, Model, _l, enum_column, utcnow


class ReadingType(LabeledEnum):
    ACTUAL = "actual", _l("Actual")
    ESTIMATED = "estimated", _l("Estimated")
    SELF = "self", _l("Self-reading")


class ReadingSource(LabeledEnum):
    DISTRIBUTOR = "distributor", _l("Distributor")
    CUSTOMER = "customer", _l("Customer")
    BILLING = "billing", _l("Billing system")


class ReadingStatus(LabeledEnum):
    RECEIVED = "received", _l("Received")
    SENT = "sent", _l("Sent to billing")
    VALID = "valid", _p("reading", "Validated")  # la lettura: Ricevuta, Validata, Respinta
    PENDING = "pending", _l("Being checked")
    REJECTED = "rejected", _l("Rejected")


class MeterReading(Model):
    """One reading of a meter (and of its volume corrector, when it has one)."""

    __tablename__ = "meter_readings"
    __table_args__ = (
        sa.Index("ix_meter_readings_supply_date", "supply_point_id", "reading_date"),
        {"extend_existing": True, **ALIGNED_TABLE_STORAGE},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Billing's entry number; empty for a self-reading not yet posted to billing.
    billing_entry_no: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    supply_point_id: Mapped[int] = mapped_column(sa.ForeignKey("supply_points.id"))
    meter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("meters.id"), index=True)
    reading_date: Mapped[dt.date] = mapped_column(sa.Date)
    value: Mapped[int] = mapped_column(sa.BigInteger)
    corrector_value: Mapped[int | None] = mapped_column(sa.BigInteger)
    reading_type: Mapped[ReadingType] = mapped_column(enum_column(ReadingType))
    source: Mapped[ReadingSource] = mapped_column(enum_column(ReadingSource))
    status: Mapped[ReadingStatus] = mapped_column(enum_column(ReadingStatus), default=ReadingStatus.VALID)
    consumption: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Billing's reason for a reading being checked (implausible) or rejected; empty otherwise.
    status_reason: Mapped[str] = mapped_column(sa.String(250), default="")
    # Implausible consumption confirmed by the customer: the back office looks at it.
    flagged: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    activity_id: Mapped[int | None] = mapped_column(sa.ForeignKey("activities.id"), index=True)
    billing_version: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    supply_point = relationship("SupplyPoint")
    meter = relationship("Meter")
    activity = relationship("Activity")  # the self-reading request, with its reference number
