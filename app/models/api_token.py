"""Personal API tokens (F-61): a customer's named, scoped, expiring keys to the JSON API.

Only a hash of the secret is stored (SHA-256 of a 256-bit random value: a slow password hash
buys nothing against a secret that long); the first characters stay in clear as a `prefix` so
the customer and the staff can tell tokens apart.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import LabeledEnum, Model, _l, enum_column, utcnow


class TokenScope(LabeledEnum):
    READ = "read_only", _l("Read only")
    READINGS = "read_readings", _l("Read and submit meter readings")


class ApiToken(Model):
    __tablename__ = "api_tokens"
    __table_args__ = {"extend_existing": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scope: Mapped[TokenScope] = mapped_column(enum_column(TokenScope), default=TokenScope.READ)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)

    user = relationship("SportelloUser")
    customer = relationship("Customer")

    @property
    def can_submit_readings(self) -> bool:
        return self.scope == TokenScope.READINGS

    def is_live(self, now: dt.datetime | None = None) -> bool:
        """Not revoked and not expired."""
        return self.revoked_at is None and self.expires_at > (now or utcnow())

    def __repr__(self) -> str:  # FAB prints related rows by repr
        return f"{self.name} ({self.prefix}…)"
