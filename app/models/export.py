"""Invoice ZIP exports prepared in the background (F-61): a customer's choice of invoices too
large to build while they wait, built by the `exports` job, kept for a few days for the
customer who asked for it."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import LabeledEnum, Model, _l, enum_column, utcnow


class ExportStatus(LabeledEnum):
    PENDING = "pending", _l("Waiting to be prepared")
    BUILDING = "building", _l("Being prepared")
    READY = "ready", _l("Ready")
    FAILED = "failed", _l("Could not be prepared")
    EXPIRED = "expired", _l("Expired")


class InvoiceExport(Model):
    __tablename__ = "invoice_exports"
    __table_args__ = {"extend_existing": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    invoice_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    total: Mapped[int] = mapped_column(sa.Integer, default=0)
    done: Mapped[int] = mapped_column(sa.Integer, default=0)
    status: Mapped[ExportStatus] = mapped_column(enum_column(ExportStatus), default=ExportStatus.PENDING, index=True)
    content: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    size: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    ready_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)

    def is_downloadable(self, now: dt.datetime | None = None) -> bool:
        return self.status == ExportStatus.READY and self.expires_at is not None and self.expires_at > (now or utcnow())

    def __repr__(self) -> str:
        return f"export {self.id} ({self.status.value})"
