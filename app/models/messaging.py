"""Admin-editable message templates and product settings."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, utcnow


class MessageTemplate(Model):
    """The text of one e-mail kind in one language (F-41), rendered in a Jinja sandbox."""

    __tablename__ = "message_templates"
    __table_args__ = (sa.UniqueConstraint("name", "language"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))  # invoice_link, activity_assigned, ...
    language: Mapped[str] = mapped_column(sa.String(5))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"))


class Setting(Model):
    """A product setting an admin may change (F-42); secrets stay in the environment."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)


class OutgoingMail(Model):
    """An e-mail written in the same transaction as its cause, sent after commit."""

    __tablename__ = "outgoing_mail"
    __table_args__ = (sa.Index("ix_outgoing_mail_status_next", "status", "next_attempt_at"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    template: Mapped[str] = mapped_column(sa.String(60))
    language: Mapped[str] = mapped_column(sa.String(5), default="it")
    recipients: Mapped[list] = mapped_column(sa.JSON)
    # The values the text is rendered from; emptied (None) with `ics` after the retention days.
    context: Mapped[dict | None] = mapped_column(sa.JSON, default=dict)
    ics: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(80))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))  # the request or job run that queued it
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    message_id: Mapped[str | None] = mapped_column(sa.String(200))
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
