"""Audit log (F-27): who changed what, and when."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, utcnow


class AuditLog(Model):
    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_entity", "entity_type", "entity_id"),
        {"extend_existing": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"), index=True)
    actor_label: Mapped[str] = mapped_column(sa.String(120), default="")
    entity_type: Mapped[str] = mapped_column(sa.String(40))  # customer, supply_point, contract, ...
    entity_id: Mapped[str] = mapped_column(sa.String(40))
    action: Mapped[str] = mapped_column(sa.String(40))
    # {"field": [old, new]}; bank data and tax codes are stored masked.
    changes: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    ip_address: Mapped[str] = mapped_column(sa.String(45), default="")

    actor = relationship("SportelloUser")
