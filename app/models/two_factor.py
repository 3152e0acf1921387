"""Two-factor sign-in (F-65): a user's TOTP secret and recovery codes.

The secret is stored encrypted (app.services.core.two_factor) and never logged; `last_step` is
the time step of the last code accepted, so a code works once. Recovery codes are stored as
keyed hashes and each works once (`used_at`).
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, utcnow


class TotpCredential(Model):
    __tablename__ = "totp_credentials"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    secret_encrypted: Mapped[str] = mapped_column(sa.String(255))
    # None while the enrolment waits for its first code.
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
    last_step: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class TotpRecoveryCode(Model):
    __tablename__ = "totp_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, nullable=True)
