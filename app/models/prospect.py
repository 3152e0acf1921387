"""Sales network: prospects (F-17), their services of interest, consents and pipeline history."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import lazy_pgettext as _p

from .base import LabeledEnum, Model, _l, enum_column, utcnow
from .customer import CustomerKind
from .supply import Service


class ProspectStatus(LabeledEnum):
    NEW = "new", _p("prospect", "New")  # il potenziale cliente: Nuovo
    CONTACTED = "contacted", _l("Contacted")
    OFFER_MADE = "offer_made", _l("Offer made")
    WON = "won", _l("Won")
    LOST = "lost", _l("Lost")


class ProspectSource(LabeledEnum):
    REFERRAL = "referral", _l("Referral")
    EVENT = "event", _l("Event or fair")
    WEBSITE = "website", _l("Website")
    COLD_CALL = "cold_call", _l("Cold call")
    DOOR_TO_DOOR = "door_to_door", _l("Door to door")
    OTHER = "other", _l("Other source")


class LostReason(LabeledEnum):
    PRICE = "price", _l("Price too high")
    COMPETITOR = "competitor", _l("Chose a competitor")
    NOT_INTERESTED = "not_interested", _l("Not interested")
    UNREACHABLE = "unreachable", _l("Unreachable")
    NOT_ELIGIBLE = "not_eligible", _l("Not eligible (supply, credit)")
    OTHER = "other", _l("Other reason")


class ConsentChannel(LabeledEnum):
    PHONE = "phone", _l("Phone")
    EMAIL = "email", _l("E-mail")
    SMS = "sms", _l("SMS")


class ConsentSource(LabeledEnum):
    SIGNED_FORM = "signed_form", _l("Signed form")
    VERBAL = "verbal", _l("Said in person or on the phone")
    EMAIL = "email", _l("By e-mail")
    WEB_FORM = "web_form", _l("Website form")


# The unit an estimated annual consumption is given in, per service (telecom has none).
CONSUMPTION_UNITS = {Service.GAS: "Smc", Service.ELECTRICITY: "kWh", Service.WATER: "m³",
                     Service.LPG: "l", Service.TELECOM: ""}


class Prospect(Model):
    """A potential customer of one agent: who, how to reach them, what they may buy, where it stands."""

    __tablename__ = "prospects"
    __table_args__ = (sa.Index("ix_prospects_agent_status", "agent_id", "status"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(sa.ForeignKey("agents.id"))
    kind: Mapped[CustomerKind] = mapped_column(enum_column(CustomerKind), default=CustomerKind.PERSON)
    last_name: Mapped[str] = mapped_column(sa.String(80), default="")
    first_name: Mapped[str] = mapped_column(sa.String(80), default="")
    company_name: Mapped[str] = mapped_column(sa.String(160), default="")
    tax_code: Mapped[str] = mapped_column(sa.String(16), default="")
    vat_number: Mapped[str] = mapped_column(sa.String(11), default="")
    phone: Mapped[str] = mapped_column(sa.String(30), default="")
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    town: Mapped[str] = mapped_column(sa.String(80), default="")
    source: Mapped[ProspectSource] = mapped_column(enum_column(ProspectSource), default=ProspectSource.OTHER)
    status: Mapped[ProspectStatus] = mapped_column(enum_column(ProspectStatus), default=ProspectStatus.NEW)
    lost_reason: Mapped[LostReason | None] = mapped_column(enum_column(LostReason))
    lost_note: Mapped[str] = mapped_column(sa.Text, default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    contract_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contracts.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)  # won or lost
    erased_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)  # personal data erased

    agent = relationship("Agent")
    contract = relationship("Contract")
    interests = relationship("ProspectInterest", back_populates="prospect", cascade="all, delete-orphan",
                             order_by="ProspectInterest.id")
    consents = relationship("ProspectConsent", back_populates="prospect", cascade="all, delete-orphan",
                            order_by="ProspectConsent.id")
    history = relationship("ProspectHistory", back_populates="prospect", cascade="all, delete-orphan",
                           order_by="ProspectHistory.id")

    def __repr__(self) -> str:
        return f"#{self.id} {self.display_name}"

    @property
    def display_name(self) -> str:
        if self.kind == CustomerKind.COMPANY:
            return self.company_name
        return " ".join(p for p in (self.last_name, self.first_name) if p)


class ProspectInterest(Model):
    """A service the prospect may buy, with its estimated annual consumption."""

    __tablename__ = "prospect_interests"
    __table_args__ = (sa.UniqueConstraint("prospect_id", "service"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(sa.ForeignKey("prospects.id", ondelete="CASCADE"))
    service: Mapped[Service] = mapped_column(enum_column(Service))
    annual_consumption: Mapped[int | None] = mapped_column(sa.Integer)

    prospect = relationship("Prospect", back_populates="interests")

    @property
    def unit(self) -> str:
        return CONSUMPTION_UNITS.get(self.service, "")


class ProspectConsent(Model):
    """One consent given or revoked for a channel: the latest row per channel is in force."""

    __tablename__ = "prospect_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(sa.ForeignKey("prospects.id", ondelete="CASCADE"), index=True)
    channel: Mapped[ConsentChannel] = mapped_column(enum_column(ConsentChannel))
    given: Mapped[bool] = mapped_column(sa.Boolean)
    source: Mapped[ConsentSource] = mapped_column(enum_column(ConsentSource))
    recorded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"))

    prospect = relationship("Prospect", back_populates="consents")
    actor = relationship("SportelloUser")


class ProspectHistory(Model):
    """One step of a prospect's pipeline: from, to, action, who, when, why."""

    __tablename__ = "prospect_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(sa.ForeignKey("prospects.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[ProspectStatus | None] = mapped_column(enum_column(ProspectStatus))
    to_status: Mapped[ProspectStatus] = mapped_column(enum_column(ProspectStatus))
    action: Mapped[str] = mapped_column(sa.String(40))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    prospect = relationship("Prospect", back_populates="history")
    actor = relationship("SportelloUser")
