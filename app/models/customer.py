"""Customers as billing knows them, and the portal account fields of FAB users."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import ALIGNED_TABLE_STORAGE, LabeledEnum, Model, _l, enum_column, utcnow


class CustomerKind(LabeledEnum):
    PERSON = "person", _l("Person")
    COMPANY = "company", _l("Company")


def addressed_name(kind, first_name: str | None, last_name: str | None, company_name: str | None) -> str:
    """How a customer is addressed (greetings, e-mails): first name then last name, or the
    company's name."""
    if kind == CustomerKind.COMPANY and company_name:
        return company_name
    return " ".join(p for p in (first_name, last_name) if p)


class Customer(Model):
    """A billing customer (local copy, aligned from billing by `code`)."""

    __tablename__ = "customers"
    __table_args__ = (sa.Index("ix_customers_search_name_id", "search_name", "id"),
                      {"extend_existing": True, **ALIGNED_TABLE_STORAGE})

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    kind: Mapped[CustomerKind] = mapped_column(enum_column(CustomerKind), default=CustomerKind.PERSON)
    last_name: Mapped[str] = mapped_column(sa.String(80), default="")
    first_name: Mapped[str] = mapped_column(sa.String(80), default="")
    company_name: Mapped[str] = mapped_column(sa.String(160), default="")
    # Lower-cased "last first company" for prefix search on both engines: the call center's
    # range on it, in (search_name, id) order, reads its first page off ix_customers_search_name_id.
    search_name: Mapped[str] = mapped_column(sa.String(330), default="")
    tax_code: Mapped[str] = mapped_column(sa.String(16), default="", index=True)
    vat_number: Mapped[str] = mapped_column(sa.String(11), default="", index=True)
    birth_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    address: Mapped[str] = mapped_column(sa.String(160), default="")
    post_code: Mapped[str] = mapped_column(sa.String(10), default="")
    city: Mapped[str] = mapped_column(sa.String(80), default="")
    province: Mapped[str] = mapped_column(sa.String(4), default="")
    phone: Mapped[str] = mapped_column(sa.String(30), default="", index=True)
    email: Mapped[str] = mapped_column(sa.String(254), default="", index=True)
    language: Mapped[str] = mapped_column(sa.String(5), default="it")
    billing_version: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    synced_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    # Billing deleted (or archived) the customer: kept here with its history, portal account
    # deactivated; `merged_into_code` when billing merged this duplicate into another customer.
    archived_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    merged_into_code: Mapped[str] = mapped_column(sa.String(20), default="")

    supply_points = relationship("SupplyPoint", back_populates="customer", order_by="SupplyPoint.code")
    invoices = relationship("Invoice", back_populates="customer", lazy="dynamic")

    @property
    def display_name(self) -> str:
        if self.kind == CustomerKind.COMPANY and self.company_name:
            return self.company_name
        return f"{self.last_name} {self.first_name}".strip()

    @property
    def addressed_name(self) -> str:
        """How the customer is addressed (see `addressed_name`)."""
        return addressed_name(self.kind, self.first_name, self.last_name, self.company_name)

    def __repr__(self) -> str:
        return f"{self.code} {self.display_name}"

    @staticmethod
    def make_search_name(last_name: str, first_name: str, company_name: str) -> str:
        return " ".join(p for p in (last_name, first_name, company_name) if p).lower()


class SportelloUser(User):
    """A FAB user with the links Sportello needs: staff, agents and portal customers."""

    __tablename__ = "ab_user"

    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="SET NULL"), index=True, nullable=True)
    language: Mapped[str | None] = mapped_column(sa.String(5), nullable=True)
    # Bumped on logout and credential changes; a session carrying an older value is void.
    session_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    security_question: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    security_answer_hash: Mapped[str | None] = mapped_column(sa.String(256), nullable=True)

    def end_sessions(self) -> None:
        """Void every session of this account, copies of the cookie included."""
        self.session_version = (self.session_version or 0) + 1


@sa.event.listens_for(SportelloUser.active, "set")
def _deactivation_ends_sessions(user, value, old_value, _initiator):
    """Deactivating an account ends its sessions for good (from the admin's user form or any
    other path): reactivating it later does not revive an old cookie."""
    if not value and old_value is not False:
        user.end_sessions()
