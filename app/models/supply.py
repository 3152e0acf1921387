"""Supply points, meters, mailing addresses and direct-debit mandates."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import ALIGNED_TABLE_STORAGE, LabeledEnum, Model, _l, enum_column, utcnow


class Service(LabeledEnum):
    GAS = "gas", _l("Methane gas")
    ELECTRICITY = "electricity", _l("Electricity")
    WATER = "water", _l("Water")
    LPG = "lpg", _l("LPG")
    TELECOM = "telecom", _l("Telecom")


# What a meter's counter measures, per service (a gas corrector's counter is in Smc).
METER_UNITS = {Service.GAS: "m³", Service.ELECTRICITY: "kWh", Service.WATER: "m³", Service.LPG: "l"}


class UseType(LabeledEnum):
    DOMESTIC = "domestic", _l("Domestic")
    BUSINESS = "business", _l("Business")
    CONDOMINIUM = "condominium", _l("Condominium")
    PUBLIC = "public", _l("Public service")


class SupplyStatus(LabeledEnum):
    ACTIVE = "active", _l("Active")
    NOT_INVOICEABLE = "not_invoiceable", _l("In billing, not invoiceable")
    SUSPENDED = "suspended", _l("Suspended")
    CEASED = "ceased", _l("Ceased")


class PaymentMethod(LabeledEnum):
    SDD = "sdd", _l("SEPA direct debit")
    POSTAL_SLIP = "postal_slip", _l("Postal payment slip")


class MandateStatus(LabeledEnum):
    REQUESTED = "requested", _l("Requested")
    ACTIVE = "active", _l("Active")
    REVOKE_REQUESTED = "revoke_requested", _l("Revocation requested")
    REVOKED = "revoked", _l("Revoked")
    REJECTED = "rejected", _l("Rejected")
    REPLACED = "replaced", _l("Replaced by a new mandate")


def supply_name(service: "Service", address: str, city: str) -> str:
    """How a customer names a supply point: its service and place, "Gas — Via Roma 1, Milano"."""
    place = ", ".join(part for part in (address, city) if part)
    return f"{service.label} — {place}" if place else str(service.label)


class SupplyPoint(Model):
    """One supply at one place (utenza): aligned from billing by `code`."""

    __tablename__ = "supply_points"
    __table_args__ = {**ALIGNED_TABLE_STORAGE}

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    service: Mapped[Service] = mapped_column(enum_column(Service))
    pdr: Mapped[str] = mapped_column(sa.String(14), default="", index=True)
    pod: Mapped[str] = mapped_column(sa.String(16), default="", index=True)
    address: Mapped[str] = mapped_column(sa.String(160), default="")
    post_code: Mapped[str] = mapped_column(sa.String(10), default="")
    city: Mapped[str] = mapped_column(sa.String(80), default="")
    province: Mapped[str] = mapped_column(sa.String(4), default="")
    use_type: Mapped[UseType] = mapped_column(enum_column(UseType), default=UseType.DOMESTIC)
    withdrawal_class: Mapped[str] = mapped_column(sa.String(10), default="")
    tariff_option: Mapped[str] = mapped_column(sa.String(40), default="")
    annual_consumption: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Gas: standard cubic metres (Smc) per m³ the meter counts, set by billing for the place
    # (altitude, climate zone, supply pressure). 1 where a volume corrector does the conversion.
    conversion_coefficient: Mapped[Decimal] = mapped_column(
        sa.Numeric(9, 6), default=Decimal(1), server_default="1")
    status: Mapped[SupplyStatus] = mapped_column(enum_column(SupplyStatus), default=SupplyStatus.ACTIVE)
    payment_method: Mapped[PaymentMethod] = mapped_column(
        enum_column(PaymentMethod), default=PaymentMethod.POSTAL_SLIP)
    iban: Mapped[str] = mapped_column(sa.String(34), default="")
    account_holder: Mapped[str] = mapped_column(sa.String(160), default="")
    mandate_reference: Mapped[str] = mapped_column(sa.String(35), default="")
    activation_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    billing_version: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    synced_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    # Billing deleted the supply point: ceased and kept here with its history (F-53).
    archived_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)

    customer = relationship("Customer", back_populates="supply_points")
    meters = relationship("Meter", back_populates="supply_point", order_by="Meter.installed_on")
    mailing_address = relationship("MailingAddress", uselist=False, back_populates="supply_point")

    @hybrid_property
    def point_code(self) -> str:
        return self.pdr or self.pod or self.code

    @point_code.inplace.expression
    @classmethod
    def _point_code_expression(cls):
        return sa.func.coalesce(sa.func.nullif(cls.pdr, ""), sa.func.nullif(cls.pod, ""), cls.code)

    @property
    def display_name(self) -> str:
        """Service and address, in the current language ("Gas — Via Roma 1, Milano")."""
        return supply_name(self.service, self.address, self.city)

    def __repr__(self) -> str:
        return f"{self.code} {self.point_code}"


class MailingAddress(Model):
    """Where bills and letters for one supply point are sent (recapito)."""

    __tablename__ = "mailing_addresses"
    __table_args__ = {**ALIGNED_TABLE_STORAGE}

    id: Mapped[int] = mapped_column(primary_key=True)
    supply_point_id: Mapped[int] = mapped_column(sa.ForeignKey("supply_points.id"), unique=True)
    name: Mapped[str] = mapped_column(sa.String(160), default="")
    address: Mapped[str] = mapped_column(sa.String(160), default="")
    post_code: Mapped[str] = mapped_column(sa.String(10), default="")
    city: Mapped[str] = mapped_column(sa.String(80), default="")
    province: Mapped[str] = mapped_column(sa.String(4), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)

    supply_point = relationship("SupplyPoint", back_populates="mailing_address")

    def __repr__(self) -> str:
        return f"{self.name}, {self.address}, {self.post_code} {self.city}"


class Meter(Model):
    """A meter (matricola) installed at a supply point; gas meters may have a volume corrector."""

    __tablename__ = "meters"
    __table_args__ = {**ALIGNED_TABLE_STORAGE}

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(sa.String(30), unique=True)
    supply_point_id: Mapped[int] = mapped_column(sa.ForeignKey("supply_points.id"), index=True)
    digits: Mapped[int] = mapped_column(sa.SmallInteger, default=5)
    has_corrector: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    corrector_serial: Mapped[str] = mapped_column(sa.String(30), default="")
    # The corrector's own counter has its own number of digits and passes zero on its own.
    corrector_digits: Mapped[int] = mapped_column(sa.SmallInteger, default=9, server_default="9")
    installed_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    removed_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    billing_version: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    supply_point = relationship("SupplyPoint", back_populates="meters")

    def __repr__(self) -> str:
        return self.serial


class DirectDebitMandate(Model):
    """A SEPA direct-debit request or revocation for one supply point (F-06)."""

    __tablename__ = "direct_debit_mandates"

    id: Mapped[int] = mapped_column(primary_key=True)
    supply_point_id: Mapped[int] = mapped_column(sa.ForeignKey("supply_points.id"), index=True)
    reference: Mapped[str] = mapped_column(sa.String(35), unique=True)
    status: Mapped[MandateStatus] = mapped_column(enum_column(MandateStatus), default=MandateStatus.REQUESTED)
    iban: Mapped[str] = mapped_column(sa.String(34))
    bic: Mapped[str] = mapped_column(sa.String(11), default="")  # optional inside the SEPA area
    holder_last_name: Mapped[str] = mapped_column(sa.String(80), default="")
    holder_first_name: Mapped[str] = mapped_column(sa.String(80), default="")
    holder_tax_code: Mapped[str] = mapped_column(sa.String(16), default="")
    bank: Mapped[str] = mapped_column(sa.String(120), default="")
    branch: Mapped[str] = mapped_column(sa.String(120), default="")
    branch_address: Mapped[str] = mapped_column(sa.String(200), default="")
    signed_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    activity_id: Mapped[int | None] = mapped_column(sa.ForeignKey("activities.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    # Why the back office or billing refused the mandate; when its state last changed.
    rejection_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)

    supply_point = relationship("SupplyPoint")
    activity = relationship("Activity")

    def __repr__(self) -> str:
        return self.reference
