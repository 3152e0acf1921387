"""The billing gateway: one interface to the company's billing system.

Views, services and jobs talk to billing only through a `BillingGateway`. Adapters (NAV over
SOAP in `nav.py`, SAP later) turn the remote system's shapes into the plain dataclasses below
and every failure into a `BillingError`. Nothing outside `app/billing/` imports suds.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable


class FaultKind(str, enum.Enum):
    """Why a billing call failed; decides whether it is worth retrying."""

    CONNECTION = "connection"  # refused, reset, DNS
    TIMEOUT = "timeout"
    FAULT = "fault"  # the billing system refused (SOAP fault, SAP RETURN type E/A)
    LOCKED = "locked"  # a record is locked by another user (NAV) or an SAP lock message: later
    HTTP = "http"  # non-200 answer without a usable error body (404, 502, ...)
    AUTH = "auth"  # 401/403: billing refused the credentials (a setting to fix, not a refusal)
    MALFORMED = "malformed"  # an answer we cannot read

    @property
    def retryable(self) -> bool:
        return self in (FaultKind.CONNECTION, FaultKind.TIMEOUT, FaultKind.HTTP, FaultKind.LOCKED)


class BillingError(Exception):
    """A billing call failed; carries what was called and why."""

    def __init__(self, kind: FaultKind, operation: str, message: str, *,
                 service: str = "", status: int | None = None, detail: str = "") -> None:
        self.kind = kind
        self.operation = operation
        self.service = service
        self.status = status
        self.detail = detail
        self.message = message
        super().__init__(f"[{kind.value}] {service}.{operation}: {message}")

    @property
    def retryable(self) -> bool:
        return self.kind.retryable


@dataclass(slots=True, frozen=True)
class BillingWarning:
    """Billing accepted a write but said something staff should see (SAP RETURN type W)."""

    code: str  # message class and number, e.g. "EL 073"
    message: str
    operation: str = ""


_WARNINGS: contextvars.ContextVar[list | None] = contextvars.ContextVar("billing_warnings",
                                                                        default=None)


def warn(warning: BillingWarning) -> None:
    """An adapter reports a warning to whoever collects them (dropped when nobody does)."""
    sink = _WARNINGS.get()
    if sink is not None:
        sink.append(warning)


@contextlib.contextmanager
def collect_warnings():
    """`with collect_warnings() as warnings:` the warnings of the billing calls inside."""
    sink: list[BillingWarning] = []
    token = _WARNINGS.set(sink)
    try:
        yield sink
    finally:
        _WARNINGS.reset(token)


class Entity(str, enum.Enum):
    """The record kinds the billing system publishes, in alignment order (parents first)."""

    CUSTOMER = "customer"
    SUPPLY_POINT = "supply_point"
    METER = "meter"
    READING = "reading"
    INVOICE = "invoice"
    PAYMENT = "payment"


# --- records read from billing -------------------------------------------------------------
# Every record carries `version`: the billing system's change counter (NAV timestamp /
# rowversion). Alignment keeps the highest version seen per entity as its watermark.

@dataclass(slots=True)
class CustomerRecord:
    code: str
    kind: str  # "person" | "company"
    last_name: str
    first_name: str
    company_name: str
    tax_code: str
    vat_number: str
    birth_date: dt.date | None
    address: str
    post_code: str
    city: str
    province: str
    phone: str
    email: str
    language: str  # "it" | "en"
    version: int
    modified_at: dt.datetime | None = None


@dataclass(slots=True)
class SupplyPointRecord:
    code: str
    customer_code: str
    service: str  # gas | electricity | water | lpg | telecom
    pdr: str
    pod: str
    address: str
    post_code: str
    city: str
    province: str
    use_type: str  # domestic | business | condominium | public
    withdrawal_class: str
    tariff_option: str
    annual_consumption: int
    status: str  # active | not_invoiceable | ceased | suspended
    payment_method: str  # sdd | postal_slip
    iban: str
    account_holder: str
    mandate_reference: str
    mail_name: str
    mail_address: str
    mail_post_code: str
    mail_city: str
    mail_province: str
    activation_date: dt.date | None
    version: int
    modified_at: dt.datetime | None = None
    # gas: Smc per m³ counted by a meter without a volume corrector (1 where one is fitted)
    conversion_coefficient: Decimal = Decimal(1)
    # The mandate in force (`mandate_reference`): active | revoked (empty: none known), and the
    # latest mandate request billing received: its reference, pending | active | rejected, and
    # why it was rejected (F-06).
    mandate_status: str = ""
    mandate_request_reference: str = ""
    mandate_request_status: str = ""
    mandate_reject_reason: str = ""


@dataclass(slots=True)
class MeterRecord:
    serial: str
    supply_point_code: str
    digits: int
    has_corrector: bool
    corrector_serial: str
    installed_on: dt.date | None
    removed_on: dt.date | None
    version: int
    modified_at: dt.datetime | None = None
    corrector_digits: int = 9


@dataclass(slots=True)
class ReadingRecord:
    entry_no: int
    supply_point_code: str
    meter_serial: str
    reading_date: dt.date
    value: int
    corrector_value: int | None
    reading_type: str  # actual | estimated | self
    source: str  # distributor | customer | billing
    status: str  # valid | pending | rejected
    consumption: int | None
    version: int
    modified_at: dt.datetime | None = None
    status_reason: str = ""  # billing's reason for pending (implausible) or rejected; else ""


@dataclass(slots=True)
class InvoiceLineRecord:
    line_no: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    vat_percent: Decimal


@dataclass(slots=True)
class InvoiceRecord:
    number: str
    customer_code: str
    supply_point_code: str
    invoice_date: dt.date
    due_date: dt.date
    invoice_type: str  # periodic | final | adjustment | credit_note
    period_from: dt.date | None
    period_to: dt.date | None
    consumption: int | None
    unit: str  # Smc | kWh | m3 | ...
    amount: Decimal  # total including VAT
    amount_paid: Decimal
    status: str  # paid | unpaid | partially_paid
    web_code: str
    lines: list[InvoiceLineRecord] = field(default_factory=list)
    version: int = 0
    modified_at: dt.datetime | None = None


@dataclass(slots=True)
class PaymentRecord:
    entry_no: int
    invoice_number: str
    customer_code: str
    payment_date: dt.date
    amount: Decimal
    method: str  # sdd | postal_slip | bank_transfer | counter
    paid_at: str  # where it was paid: office, bank, post office
    version: int
    modified_at: dt.datetime | None = None


Record = (CustomerRecord | SupplyPointRecord | MeterRecord | ReadingRecord | InvoiceRecord
          | PaymentRecord)


@dataclass(slots=True)
class DeletionRecord:
    """A customer or supply point billing deleted (or archived); `merged_into`: the customer a
    duplicate was merged into."""

    entity: Entity
    key: str
    version: int
    merged_into: str = ""


@dataclass(slots=True)
class Page:
    """One page of a change feed: records in key order, and the bookmark to ask for the next."""

    records: list
    bookmark: str | None  # None when this was the last page


@dataclass(slots=True)
class CustomerBundle:
    """Everything billing holds about one customer (for the on-login refresh)."""

    customer: CustomerRecord
    supply_points: list[SupplyPointRecord]
    meters: list[MeterRecord]
    readings: list[ReadingRecord]
    invoices: list[InvoiceRecord]
    payments: list[PaymentRecord]


# --- writes sent to billing ----------------------------------------------------------------
# Every write carries an idempotency key: billing applies a key once and answers a repeat with
# the first result.

@dataclass(slots=True)
class ReadingSubmission:
    supply_point_code: str
    meter_serial: str
    reading_date: dt.date
    value: int
    corrector_value: int | None = None
    flagged: bool = False  # implausible consumption confirmed by the customer


@dataclass(slots=True)
class CustomerUpdate:
    customer_code: str
    last_name: str = ""
    first_name: str = ""
    company_name: str = ""
    tax_code: str = ""
    vat_number: str = ""
    birth_date: dt.date | None = None
    address: str = ""
    post_code: str = ""
    city: str = ""
    province: str = ""
    phone: str = ""
    email: str = ""


@dataclass(slots=True)
class MailingAddress:
    supply_point_code: str
    name: str
    address: str
    post_code: str
    city: str
    province: str


@dataclass(slots=True)
class MandateRequest:
    supply_point_code: str
    iban: str
    holder_last_name: str
    holder_first_name: str
    holder_tax_code: str
    bank: str
    branch: str
    branch_address: str
    mandate_reference: str


@dataclass(slots=True)
class ContractExport:
    """An activated contract: billing creates reservation, customer and supply point."""

    contract_number: str
    customer_code: str  # empty for a new customer
    customer: CustomerUpdate
    service: str
    pdr: str
    pod: str
    address: str
    post_code: str
    city: str
    province: str
    use_type: str
    withdrawal_class: str
    tariff_option: str
    annual_consumption: int
    payment_method: str
    iban: str = ""
    account_holder: str = ""
    mailing: MailingAddress | None = None
    language: str = "it"  # the new customer's language (documents, invoices)


@dataclass(slots=True)
class ContractResult:
    reservation_number: str
    customer_code: str
    supply_point_code: str


@dataclass(slots=True)
class CommissionLine:
    agent_code: str
    contract_number: str
    period: str  # YYYY-MM
    amount: Decimal
    reason: str
    batch: str = ""  # billing's batch number (lines read back from billing)


@runtime_checkable
class BillingGateway(Protocol):
    """What the product needs from a billing system."""

    def ping(self) -> None:
        """Raise BillingError when billing does not answer."""

    def current_version(self) -> int:
        """The highest change version billing has handed out so far."""

    def read_changes(self, entity: Entity, since_version: int, bookmark: str | None,
                     page_size: int, until_version: int | None = None) -> Page:
        """Records of `entity` with since_version < version <= until_version, in key order."""

    def read_deletions(self, since_version: int, until_version: int) -> list[DeletionRecord]:
        """Customers and supply points deleted in billing with since < version <= until."""

    def read_customer_bundle(self, customer_code: str) -> CustomerBundle | None:
        """Everything about one customer, or None when billing does not know the code."""

    def invoice_pdf(self, invoice_number: str) -> bytes | None:
        """The invoice's PDF as billing prints it, or None when billing has none."""

    def submit_reading(self, key: str, reading: ReadingSubmission) -> int:
        """Post a meter reading; return billing's entry number."""

    def update_customer(self, key: str, update: CustomerUpdate) -> None:
        """Change a customer's personal data."""

    def update_mailing_address(self, key: str, address: MailingAddress) -> None:
        """Change where bills for a supply point are sent."""

    def set_invoice_delivery(self, key: str, supply_point_code: str, enabled: bool, mode: str,
                             emails: list[str]) -> None:
        """Tell billing how a supply point's invoices are delivered by e-mail (F-08)."""

    def request_mandate(self, key: str, mandate: MandateRequest) -> str:
        """Register a SEPA direct-debit mandate; return its reference."""

    def revoke_mandate(self, key: str, supply_point_code: str) -> None:
        """End direct debit for a supply point (back to postal slip)."""

    def set_mandate_status(self, key: str, supply_point_code: str, mandate_reference: str,
                           status: str, reason: str = "") -> None:
        """Record the back office's decision on a pending mandate: active or rejected."""

    def create_contract(self, key: str, contract: ContractExport) -> ContractResult:
        """Create reservation, customer and supply point (not invoiceable) for a contract."""

    def mark_invoiceable(self, key: str, supply_point_code: str) -> None:
        """Record the distributor's technical data: the supply point becomes invoiceable."""

    def export_commissions(self, key: str, lines: list[CommissionLine]) -> str:
        """Send a period's commissions; return billing's batch number."""

    def commission_lines(self, period: str) -> list[CommissionLine]:
        """The commission lines billing holds for a period (YYYY-MM), with their batch numbers."""
