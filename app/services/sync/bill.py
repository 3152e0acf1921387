"""What the product's own bill shows, built from an invoice as aligned from billing.

The layout follows ARERA's bill for final customers (delibera 315/2024/R/com): a first page
with the total to pay, due date, supply point, offer, payment method and period; the energy
"receipt" (consumption, fixed and power components as quantity × price, then taxes and VAT);
the consumption marked actual, self-read or estimated from the readings of the period; a VAT
summary by rate; the detail lines. Billing sends lines, not components, so each line is put in
a component by its description (Italian or English words billing uses), and VAT lines
("IVA 10%") become the VAT summary rather than a receipt row.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import (Invoice, InvoiceLine, InvoiceType, MeterReading, PaymentMethod,
                        ReadingStatus, ReadingType)
from app.services.core import masking
from app.models.supply import METER_UNITS

CENT = Decimal("0.01")
ZERO = Decimal("0")

# Receipt components, in the order the bill prints them.
CONSUMPTION, FIXED, POWER, OTHER, TAXES = "consumption", "fixed", "power", "other", "taxes"
COMPONENT_LABELS = {
    CONSUMPTION: _l("Consumption charge"),
    FIXED: _l("Fixed charge"),
    POWER: _l("Power charge"),
    OTHER: _l("Other items"),
    TAXES: _l("Excise duties and surcharges"),
}
CONSUMPTION_KIND = {
    ReadingType.ACTUAL: _l("Actual consumption"),
    ReadingType.SELF: _l("Consumption from your self-reading"),
    ReadingType.ESTIMATED: _l("Estimated consumption"),
}
READING_KIND = {
    ReadingType.ACTUAL: _l("actual reading"),
    ReadingType.SELF: _l("self-reading"),
    ReadingType.ESTIMATED: _l("estimated reading"),
}
UNITS = {"m3": "m³", "mc": "m³", "smc": "Smc", "kwh": "kWh", "kw": "kW", "l": "l"}

_VAT_LINE = re.compile(r"^\s*(iva|vat)\b", re.IGNORECASE)
_RATE = re.compile(r"(\d+(?:[.,]\d+)?)\s*%")
_WORDS = (
    (POWER, ("potenza", "power")),
    (TAXES, ("accis", "addizional", "impost", "excise", "surcharge")),
    (FIXED, ("fiss", "fixed", "canone", "standing")),
)


@dataclass
class ReceiptRow:
    component: str
    label: str
    quantity: Decimal | None     # None when the lines of the component have no common quantity
    unit: str                    # of the quantity: "Smc", "kWh", "months" (translated) or ""
    unit_price: Decimal | None   # amount / quantity
    amount: Decimal
    unit_per: str = ""           # what the price is per: "Smc", "month" (translated)


@dataclass
class VatRow:
    rate: Decimal
    base: Decimal
    vat: Decimal


@dataclass
class Bill:
    invoice: Invoice
    unit: str
    months: int | None
    receipt: list[ReceiptRow] = field(default_factory=list)
    vat: list[VatRow] = field(default_factory=list)
    details: list[InvoiceLine] = field(default_factory=list)
    readings: list[MeterReading] = field(default_factory=list)
    reading_unit: str = ""       # of the meter's counter: "m³", "kWh"
    consumption_kind: str = ""
    payment_method: str = ""
    iban: str = ""
    credit: bool = False
    # The invoice total less the receipt and VAT (rounding, items billing did not list).
    adjustment: Decimal = ZERO

    @staticmethod
    def reading_kind(reading: MeterReading) -> str:
        return str(READING_KIND.get(reading.reading_type, reading.reading_type.label))

    @property
    def vat_total(self) -> Decimal:
        return sum((r.vat for r in self.vat), ZERO)

    @property
    def taxable_total(self) -> Decimal:
        return sum((r.base for r in self.vat), ZERO)


def unit_label(unit: str) -> str:
    return UNITS.get((unit or "").strip().lower(), unit or "")


def billing_months(start: dt.date | None, end: dt.date | None) -> int | None:
    """Whole months in the period (a bimonthly bill: 2)."""
    if not start or not end or end < start:
        return None
    return max(1, round(((end - start).days + 1) / 30.44))


def is_vat_line(line: InvoiceLine) -> bool:
    return bool(_VAT_LINE.match(line.description or "")) and not (line.vat_percent or ZERO)


def component_of(line: InvoiceLine, consumption: int | None) -> str:
    words = (line.description or "").lower()
    for component, keys in _WORDS:
        if any(k in words for k in keys):
            return component
    if consumption and line.quantity == consumption:
        return CONSUMPTION
    return OTHER


def _vat_rate(line: InvoiceLine) -> Decimal:
    m = _RATE.search(line.description or "")
    if m:
        return Decimal(m.group(1).replace(",", "."))
    return Decimal(line.unit_price or 0)


def _readings(invoice: Invoice) -> list[MeterReading]:
    """The readings that close the period (not rejected), oldest first."""
    if not invoice.supply_point_id:
        return []
    end = (invoice.period_to + dt.timedelta(days=31)) if invoice.period_to else invoice.invoice_date
    start = invoice.period_from or (end - dt.timedelta(days=62))
    return list(db.session.scalars(sa.select(MeterReading).where(
        MeterReading.supply_point_id == invoice.supply_point_id,
        MeterReading.reading_date > start, MeterReading.reading_date <= end,
        MeterReading.status != ReadingStatus.REJECTED).order_by(MeterReading.reading_date)))


def _receipt(lines: list[InvoiceLine], invoice: Invoice, months: int | None,
             unit: str) -> list[ReceiptRow]:
    groups: dict[str, list[InvoiceLine]] = {}
    for line in lines:
        groups.setdefault(component_of(line, invoice.consumption), []).append(line)
    rows = []
    for component in (CONSUMPTION, FIXED, POWER, OTHER, TAXES):
        members = groups.get(component)
        if not members:
            continue
        amount = sum((Decimal(m.amount or 0) for m in members), ZERO)
        quantities = {Decimal(m.quantity or 0) for m in members}
        quantity = quantities.pop() if len(quantities) == 1 else None
        row_unit = per = ""
        if component in (CONSUMPTION, TAXES) and quantity and quantity == invoice.consumption:
            row_unit = per = unit
        elif component in (FIXED, POWER) and quantity and months and quantity == months:
            row_unit, per = str(_l("months")), str(_l("month"))
        if not quantity:
            quantity = None
        price = (amount / quantity).quantize(Decimal("0.000001"), ROUND_HALF_UP) if quantity else None
        rows.append(ReceiptRow(component, str(COMPONENT_LABELS[component]), quantity, row_unit,
                               price, amount, per))
    return rows


def _vat_summary(taxable: list[InvoiceLine], vat_lines: list[InvoiceLine]) -> list[VatRow]:
    bases: dict[Decimal, Decimal] = {}
    for line in taxable:
        rate = Decimal(line.vat_percent or 0).normalize()
        bases[rate] = bases.get(rate, ZERO) + Decimal(line.amount or 0)
    stated: dict[Decimal, Decimal] = {}
    for line in vat_lines:
        rate = _vat_rate(line).normalize()
        stated[rate] = stated.get(rate, ZERO) + Decimal(line.amount or 0)
    rows = []
    for rate in sorted(set(bases) | set(stated), reverse=True):
        base = bases.get(rate, ZERO)
        vat = stated.get(rate, (base * rate / 100).quantize(CENT, ROUND_HALF_UP))
        rows.append(VatRow(rate, base, vat))
    return rows


def build_bill(invoice: Invoice) -> Bill:
    """The bill's content; labels are translated in the current locale."""
    lines = list(invoice.lines)
    vat_lines = [line for line in lines if is_vat_line(line)]
    charges = [line for line in lines if line not in vat_lines]
    months = billing_months(invoice.period_from, invoice.period_to)
    unit = unit_label(invoice.unit)
    sp = invoice.supply_point
    bill = Bill(invoice=invoice, unit=unit, months=months,
                receipt=_receipt(charges, invoice, months, unit),
                vat=_vat_summary(charges, vat_lines), details=lines,
                credit=invoice.invoice_type == InvoiceType.CREDIT_NOTE or (invoice.amount or 0) < 0)
    bill.adjustment = Decimal(invoice.amount or 0) - sum((r.amount for r in bill.receipt), ZERO) \
        - bill.vat_total
    bill.readings = _readings(invoice) if sp is not None else []
    bill.reading_unit = METER_UNITS.get(sp.service, "") if sp is not None else ""
    if bill.readings and invoice.consumption is not None:
        bill.consumption_kind = str(CONSUMPTION_KIND[bill.readings[-1].reading_type])
    if sp is not None:
        bill.payment_method = str(sp.payment_method.label)
        if sp.payment_method == PaymentMethod.SDD:
            bill.iban = masking.mask(sp.iban)  # no rule asks the bill for a format of its own
    return bill
