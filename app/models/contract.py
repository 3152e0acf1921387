"""Sales network: agents, contracts (+ history and frozen documents), commissions."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import lazy_pgettext as _p

from .base import LabeledEnum, Model, Money, _l, enum_column, utcnow
from .supply import PaymentMethod, Service, UseType


class ContractStatus(LabeledEnum):
    DRAFT = "draft", _l("Draft")
    PROCESSING = "processing", _l("Processing")
    VALIDATED = "validated", _p("contract", "Validated")  # il contratto: Validato, Respinto
    APPROVED = "approved", _l("Approved")
    ACTIVATED = "activated", _l("Activated")
    IN_BILLING = "in_billing", _l("In billing, not invoiceable")
    INVOICEABLE = "invoiceable", _l("Invoiceable")
    REJECTED = "rejected", _p("contract", "Rejected")
    CANCELLED = "cancelled", _p("contract", "Cancelled")


class CommissionTrigger(LabeledEnum):
    ACTIVATION = "activation", _l("On activation")
    INVOICEABLE = "invoiceable", _l("On invoiceable status")


class CommissionStatus(LabeledEnum):
    EARNED = "earned", _l("Earned")
    REVERSED = "reversed", _l("Reversed")
    EXPORTED = "exported", _l("Exported to billing")
    RECONCILED = "reconciled", _l("Reconciled")


class Agent(Model):
    """A member of the sales network, linked to the user they log in with."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(160))
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    phone: Mapped[str] = mapped_column(sa.String(30), default="")
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"), unique=True)
    manager_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"), index=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    user = relationship("SportelloUser", foreign_keys=[user_id])
    manager = relationship("SportelloUser", foreign_keys=[manager_id])

    def __repr__(self) -> str:
        return f"{self.code} {self.name}"



@dataclass(frozen=True)
class ContractDraft:
    """What the contract wizard collected (F-11), as stored in `Contract.data`: one dict of
    plain values per step, the steps completed (validated), and billing's numbers once the
    contract is there. Immutable: `with_step` and `with_billing` return a new draft."""

    customer: dict = field(default_factory=dict)
    supply: dict = field(default_factory=dict)
    payment: dict = field(default_factory=dict)
    mailing: dict = field(default_factory=dict)
    done: tuple[str, ...] = ()
    billing: dict = field(default_factory=dict)

    STEPS = ("customer", "supply", "payment", "mailing")

    @classmethod
    def from_json(cls, data: dict | None) -> "ContractDraft":
        data = data or {}
        return cls(**{k: dict(data.get(k) or {}) for k in (*cls.STEPS, "billing")},
                   done=tuple(s for s in cls.STEPS if s in (data.get("done") or ())))

    def to_json(self) -> dict:
        out = {k: dict(getattr(self, k)) for k in self.STEPS if getattr(self, k)}
        out["done"] = list(self.done)
        if self.billing:
            out["billing"] = dict(self.billing)
        return out

    def step(self, name: str) -> dict:
        """The values saved for one step ({} when none)."""
        return dict(getattr(self, name))

    def with_step(self, name: str, values: dict, *, complete: bool) -> "ContractDraft":
        """The draft with one step's values replaced; marked done only when validated."""
        done = set(self.done) | {name} if complete else set(self.done) - {name}
        return replace(self, **{name: dict(values)}, done=tuple(s for s in self.STEPS if s in done))

    def with_billing(self, **numbers: str) -> "ContractDraft":
        return replace(self, billing={**self.billing, **numbers})

    def missing(self) -> list[str]:
        """The steps not completed yet, in wizard order."""
        return [s for s in self.STEPS if s not in self.done]


class Contract(Model):
    """A supply contract entered by an agent or the back office (F-11, F-13)."""

    __tablename__ = "contracts"
    __table_args__ = (sa.Index("ix_contracts_agent_status", "agent_id", "status"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(30), unique=True)
    status: Mapped[ContractStatus] = mapped_column(enum_column(ContractStatus), default=ContractStatus.DRAFT, index=True)
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    supply_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("supply_points.id"), index=True)
    # The wizard's data (customer, supply, payment, mailing), validated step by step.
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # a ContractDraft: use `draft`
    wizard_step: Mapped[int] = mapped_column(sa.SmallInteger, default=1)
    service: Mapped[Service | None] = mapped_column(enum_column(Service))
    use_type: Mapped[UseType | None] = mapped_column(enum_column(UseType))
    pdr: Mapped[str] = mapped_column(sa.String(14), default="", index=True)
    pod: Mapped[str] = mapped_column(sa.String(16), default="", index=True)
    # The customer's identifiers as the wizard entered them: searchable by the agent before
    # billing has created the customer, and checked for duplicates across open contracts.
    tax_code: Mapped[str] = mapped_column(sa.String(16), default="", index=True)
    vat_number: Mapped[str] = mapped_column(sa.String(11), default="", index=True)
    search_name: Mapped[str] = mapped_column(sa.String(330), default="", index=True)
    # The contract whose new customer this one shares (dual fuel): billing creates them once.
    customer_contract_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contracts.id"), index=True)
    payment_method: Mapped[PaymentMethod | None] = mapped_column(enum_column(PaymentMethod))
    language: Mapped[str] = mapped_column(sa.String(5), default="it")
    reservation_number: Mapped[str] = mapped_column(sa.String(30), default="")
    rejection_reason: Mapped[str] = mapped_column(sa.Text, default="")
    signed_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    activated_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    invoiceable_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)

    agent = relationship("Agent")
    customer = relationship("Customer")
    customer_contract = relationship("Contract", remote_side="Contract.id")
    supply_point = relationship("SupplyPoint")
    history = relationship("ContractHistory", back_populates="contract",
                           order_by="ContractHistory.created_at", cascade="all, delete-orphan")
    documents = relationship("ContractDocument", back_populates="contract", cascade="all, delete-orphan")

    @property
    def draft(self) -> ContractDraft:
        """The wizard's data, typed."""
        return ContractDraft.from_json(self.data)

    @draft.setter
    def draft(self, value: ContractDraft) -> None:
        self.data = value.to_json()

    @property
    def customer_name(self) -> str:
        """The customer's name: billing's record once linked, else what the wizard entered."""
        if self.customer is not None:
            return self.customer.display_name
        c = (self.data or {}).get("customer") or {}
        if c.get("kind") == "company" and c.get("company_name"):
            return c["company_name"]
        return f"{c.get('last_name', '')} {c.get('first_name', '')}".strip()

    def __repr__(self) -> str:
        return self.number


class ContractHistory(Model):
    __tablename__ = "contract_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[ContractStatus | None] = mapped_column(enum_column(ContractStatus))
    to_status: Mapped[ContractStatus] = mapped_column(enum_column(ContractStatus))
    action: Mapped[str] = mapped_column(sa.String(40))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    contract = relationship("Contract", back_populates="history")
    actor = relationship("SportelloUser")


class ContractDocument(Model):
    """A rendered contract document, built from a frozen snapshot of the contract (F-12)."""

    __tablename__ = "contract_documents"
    __table_args__ = (sa.UniqueConstraint("contract_id", "kind", "version"), {"extend_existing": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(30))  # contract | switching
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    language: Mapped[str] = mapped_column(sa.String(5), default="it")
    snapshot: Mapped[dict] = mapped_column(sa.JSON)
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    contract = relationship("Contract", back_populates="documents")


class ContractSignedCopy(Model):
    """The signed contract as uploaded (F-12): PDF, JPEG or PNG, its type found by parsing."""

    __tablename__ = "contract_signed_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    media_type: Mapped[str] = mapped_column(sa.String(40))  # application/pdf | image/jpeg | image/png
    size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    contract = relationship("Contract")
    uploaded_by = relationship("SportelloUser")


class CommissionRule(Model):
    """How much an agent earns for a contract of a service and use type, and when."""

    __tablename__ = "commission_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[Service] = mapped_column(enum_column(Service))
    use_type: Mapped[UseType | None] = mapped_column(enum_column(UseType))  # None: any
    trigger: Mapped[CommissionTrigger] = mapped_column(enum_column(CommissionTrigger))
    amount: Mapped[Decimal] = mapped_column(Money)
    clawback_days: Mapped[int] = mapped_column(sa.Integer, default=90)
    valid_from: Mapped[dt.date] = mapped_column(sa.Date)
    valid_to: Mapped[dt.date | None] = mapped_column(sa.Date)


class Commission(Model):
    __tablename__ = "commissions"
    __table_args__ = (
        sa.UniqueConstraint("contract_id", "trigger", "status"),
        sa.Index("ix_commissions_agent_period", "agent_id", "period"),
        {"extend_existing": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(sa.ForeignKey("agents.id"))
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("commission_rules.id"))
    trigger: Mapped[CommissionTrigger] = mapped_column(enum_column(CommissionTrigger))
    status: Mapped[CommissionStatus] = mapped_column(enum_column(CommissionStatus), default=CommissionStatus.EARNED)
    period: Mapped[str] = mapped_column(sa.String(7))  # YYYY-MM
    amount: Mapped[Decimal] = mapped_column(Money)
    billing_batch: Mapped[str] = mapped_column(sa.String(30), default="")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    agent = relationship("Agent")
    contract = relationship("Contract")
