"""Invoices (with lines), payments, and invoice delivery by e-mail."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import ALIGNED_TABLE_STORAGE, LabeledEnum, Model, Money, _l, enum_column, utcnow


class InvoiceType(LabeledEnum):
    PERIODIC = "periodic", _l("Periodic")
    FINAL = "final", _l("Final")
    ADJUSTMENT = "adjustment", _l("Adjustment")
    CREDIT_NOTE = "credit_note", _l("Credit note")


class InvoiceStatus(LabeledEnum):
    PAID = "paid", _l("Paid")
    UNPAID = "unpaid", _l("Unpaid")
    PARTIALLY_PAID = "partially_paid", _l("Partially paid")


class PaymentChannel(LabeledEnum):
    SDD = "sdd", _l("SEPA direct debit")
    POSTAL_SLIP = "postal_slip", _l("Postal payment slip")
    BANK_TRANSFER = "bank_transfer", _l("Bank transfer")
    COUNTER = "counter", _l("Company counter")


class DeliveryMode(LabeledEnum):
    LINK = "link", _l("Link to the invoice")
    PDF = "pdf", _l("PDF attached")


class SendOutcome(LabeledEnum):
    PENDING = "pending", _l("Queued")
    SENDING = "sending", _l("Sending")
    SENT = "sent", _l("Sent")
    RETRY = "retry", _l("Temporary failure, will retry")
    FAILED = "failed", _l("Refused")


class Invoice(Model):
    """An invoice as billing issued it (local copy, aligned by `number`)."""

    __tablename__ = "invoices"
    __table_args__ = (
        sa.Index("ix_invoices_supply_date", "supply_point_id", "invoice_date"),
        sa.Index("ix_invoices_customer_date", "customer_id", "invoice_date"),
        {"extend_existing": True, **ALIGNED_TABLE_STORAGE},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(30), unique=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"))
    supply_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("supply_points.id"))
    invoice_date: Mapped[dt.date] = mapped_column(sa.Date)
    due_date: Mapped[dt.date] = mapped_column(sa.Date)
    invoice_type: Mapped[InvoiceType] = mapped_column(enum_column(InvoiceType), default=InvoiceType.PERIODIC)
    period_from: Mapped[dt.date | None] = mapped_column(sa.Date)
    period_to: Mapped[dt.date | None] = mapped_column(sa.Date)
    consumption: Mapped[int | None] = mapped_column(sa.BigInteger)
    unit: Mapped[str] = mapped_column(sa.String(10), default="")
    amount: Mapped[Decimal] = mapped_column(Money)
    amount_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    status: Mapped[InvoiceStatus] = mapped_column(enum_column(InvoiceStatus), default=InvoiceStatus.UNPAID)
    # The web code printed on the invoice, for the customer's first access (F-01).
    web_code: Mapped[str] = mapped_column(sa.String(20), default="", index=True)
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    billing_version: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    synced_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)

    customer = relationship("Customer", back_populates="invoices")
    supply_point = relationship("SupplyPoint")
    lines = relationship("InvoiceLine", back_populates="invoice", order_by="InvoiceLine.line_no",
                         cascade="all, delete-orphan")
    payments = relationship("Payment", back_populates="invoice", order_by="Payment.payment_date")

    @property
    def amount_due(self) -> Decimal:
        return (self.amount or Decimal("0")) - (self.amount_paid or Decimal("0"))

    def __repr__(self) -> str:
        return self.number


class InvoiceLine(Model):
    __tablename__ = "invoice_lines"
    __table_args__ = (sa.UniqueConstraint("invoice_id", "line_no"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(sa.Integer)
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    quantity: Mapped[Decimal] = mapped_column(sa.Numeric(14, 3), default=Decimal("0"))
    unit_price: Mapped[Decimal] = mapped_column(sa.Numeric(14, 6), default=Decimal("0"))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    vat_percent: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("0"))

    invoice = relationship("Invoice", back_populates="lines")


class Payment(Model):
    """A payment billing recorded against an invoice, with where it was paid."""

    __tablename__ = "payments"
    __table_args__ = {**ALIGNED_TABLE_STORAGE}

    id: Mapped[int] = mapped_column(primary_key=True)
    billing_entry_no: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    payment_date: Mapped[dt.date] = mapped_column(sa.Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[PaymentChannel] = mapped_column(enum_column(PaymentChannel))
    paid_at: Mapped[str] = mapped_column(sa.String(120), default="")
    billing_version: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    invoice = relationship("Invoice", back_populates="payments")
    customer = relationship("Customer")


class InvoiceDeliverySetting(Model):
    """Invoice by e-mail for one supply point (F-08): on/off, mode, up to four recipients."""

    __tablename__ = "invoice_delivery_settings"

    MAX_RECIPIENTS = 4

    id: Mapped[int] = mapped_column(primary_key=True)
    supply_point_id: Mapped[int] = mapped_column(sa.ForeignKey("supply_points.id"), unique=True)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    mode: Mapped[DeliveryMode] = mapped_column(enum_column(DeliveryMode), default=DeliveryMode.LINK)
    # Invoices issued before this date are never mailed (turning delivery on is not a backlog).
    active_since: Mapped[dt.date | None] = mapped_column(sa.Date)
    # Invoice links e-mailed before this moment (UTC, whole seconds) no longer open the invoice:
    # set when the customer turns invoice e-mail off or changes the addresses.
    links_valid_after: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)

    supply_point = relationship("SupplyPoint")
    recipients = relationship("InvoiceDeliveryRecipient", back_populates="setting",
                              order_by="InvoiceDeliveryRecipient.position", cascade="all, delete-orphan")


class InvoiceDeliveryRecipient(Model):
    __tablename__ = "invoice_delivery_recipients"
    __table_args__ = (
        sa.UniqueConstraint("setting_id", "position"),
        sa.CheckConstraint("position BETWEEN 1 AND 4", name="position_range"),
        {"extend_existing": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    setting_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice_delivery_settings.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    email: Mapped[str] = mapped_column(sa.String(254))

    setting = relationship("InvoiceDeliverySetting", back_populates="recipients")


class InvoiceEmailLog(Model):
    """One invoice e-mail to one address: the queue row of the nightly batch and its log."""

    __tablename__ = "invoice_email_log"
    __table_args__ = (
        # Never the same invoice twice to the same address (F-31).
        sa.UniqueConstraint("invoice_id", "email"),
        sa.Index("ix_invoice_email_log_outcome_next", "outcome", "next_attempt_at"),
        {"extend_existing": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    mode: Mapped[DeliveryMode] = mapped_column(enum_column(DeliveryMode))
    outcome: Mapped[SendOutcome] = mapped_column(enum_column(SendOutcome), default=SendOutcome.PENDING)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(80))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    message_id: Mapped[str | None] = mapped_column(sa.String(200))
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    invoice = relationship("Invoice")
