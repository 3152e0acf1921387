"""The offer catalogue (F-18): what the company sells per service, with structured prices.

An offer has a validity window, the ARERA offer code (the one printed on the summary sheet and
searchable on the Portale Offerte), its conditions, and price components: a fixed fee per month,
energy prices per unit and time band, a power fee per committed kW. Contracts print the offer as
it was when they were signed (a snapshot), so editing an offer never changes a signed document.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import LabeledEnum, Model, _l, enum_column, utcnow
from .supply import Service


class PriceKind(LabeledEnum):
    FIXED = "fixed", _l("Fixed price")
    VARIABLE = "variable", _l("Variable price")


class ComponentKind(LabeledEnum):
    FIXED_FEE = "fixed_fee", _l("Fixed fee")
    ENERGY = "energy", _l("Energy price")
    POWER = "power", _l("Power fee")


class Band(LabeledEnum):
    """ARERA time bands (electricity); gas, water and LPG have a single price (F0)."""
    F0 = "F0", _l("Single band")
    F1 = "F1", _l("F1 band (peak)")
    F2 = "F2", _l("F2 band (mid)")
    F3 = "F3", _l("F3 band (off-peak)")
    F23 = "F23", _l("F2 and F3 bands")


class Offer(Model):
    __tablename__ = "offers"
    __table_args__ = (sa.UniqueConstraint("service", "name"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    # The name billing knows (the supply point's tariff option): at most 40 characters.
    name: Mapped[str] = mapped_column(sa.String(40))
    service: Mapped[Service] = mapped_column(enum_column(Service), index=True)
    price_kind: Mapped[PriceKind] = mapped_column(enum_column(PriceKind), default=PriceKind.FIXED)
    arera_code: Mapped[str] = mapped_column(sa.String(40), default="")
    valid_from: Mapped[dt.date] = mapped_column(sa.Date)
    valid_until: Mapped[dt.date | None] = mapped_column(sa.Date)
    conditions: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    components = relationship("OfferComponent", back_populates="offer", cascade="all, delete-orphan",
                              order_by="OfferComponent.position")

    def __repr__(self) -> str:
        return self.name

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


class OfferComponent(Model):
    """One price of an offer: €/month (fixed fee), €/kWh or €/Smc (energy, per band), €/kW/month."""

    __tablename__ = "offer_components"
    __table_args__ = {"extend_existing": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    kind: Mapped[ComponentKind] = mapped_column(enum_column(ComponentKind))
    band: Mapped[Band] = mapped_column(enum_column(Band), default=Band.F0)
    price: Mapped[Decimal] = mapped_column(sa.Numeric(12, 6))

    offer = relationship("Offer", back_populates="components")

    def __repr__(self) -> str:
        return f"{self.kind.label} {self.band.value}"
