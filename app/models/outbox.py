"""The outbox: every write for billing, stored with its cause and delivered after commit (F-33)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import LabeledEnum, Model, _l, enum_column, utcnow


class OutboxStatus(LabeledEnum):
    PENDING = "pending", _l("Waiting for the billing system")
    DELIVERING = "delivering", _l("Being delivered")
    DELIVERED = "delivered", _l("Delivered")
    FAILED = "failed", _l("Failed, needs attention")


class OutboxMessage(Model):
    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sent to billing with the write; billing applies a key once.
    idempotency_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    operation: Mapped[str] = mapped_column(sa.String(40))  # submit_reading, update_customer, ...
    payload: Mapped[dict] = mapped_column(sa.JSON)
    activity_id: Mapped[int | None] = mapped_column(sa.ForeignKey("activities.id"), index=True)
    status: Mapped[OutboxStatus] = mapped_column(enum_column(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(80))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))  # the request or job run that queued it
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)

    activity = relationship("Activity")

    @property
    def customer_label(self) -> str:
        """Whose write this is: the request's customer, else the customer code it carries."""
        customer = self.activity.customer if self.activity is not None else None
        if customer is not None:
            return f"{customer.display_name} ({customer.code})"
        return str((self.payload or {}).get("customer_code", ""))
