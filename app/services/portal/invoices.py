"""The customer's invoice list (F-07): one page of invoices with filters, sort and totals.

The status filter speaks of what is owed: "to pay" is every invoice not fully paid (partly
paid ones included), by the same rule as the balance, so the list and the balance agree.

It is the portal's busiest page, so it reads plain rows with three statements and no ORM
objects: the totals per year (which also give the year filter, the number of matching invoices
and the balance), the page itself, and the payments of the invoices on the page. The statements
are Core ones and run on the session's connection (same transaction): going through the ORM
session would double the cost of each.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

import sqlalchemy as sa

from app.i18n import lazy_gettext as _l
from app.models import Invoice, InvoiceLine, InvoiceStatus, InvoiceType, Payment, SupplyPoint, supply_name
from app.services.core.reads import run

PER_PAGE = 12
_inv = Invoice.__table__.c
_pay = Payment.__table__.c
SORTS = {"date": _inv.invoice_date, "due": _inv.due_date, "amount": _inv.amount, "number": _inv.number}
_YEAR = sa.extract("year", _inv.invoice_date)
# What is left to pay on an invoice: the one rule behind every balance the customer sees.
_UNPAID = _inv.status != InvoiceStatus.PAID
_LEFT_TO_PAY = _inv.amount - _inv.amount_paid
_AMOUNT_DUE = sa.case((_UNPAID, _LEFT_TO_PAY), else_=0).label("amount_due")
_COLUMNS = (_inv.id, _inv.number, _inv.invoice_date, _inv.amount, _inv.invoice_type,
            _inv.consumption, _inv.unit, _inv.due_date, _inv.amount_paid, _inv.status, _AMOUNT_DUE)

# The status filter: URL value -> (label, condition). "UNPAID" is "to pay": partly paid too.
STATUS_FILTERS = {
    "UNPAID": (_l("To pay"), _UNPAID),
    "PARTIALLY_PAID": (InvoiceStatus.PARTIALLY_PAID.label, _inv.status == InvoiceStatus.PARTIALLY_PAID),
    "PAID": (InvoiceStatus.PAID.label, _inv.status == InvoiceStatus.PAID),
}


@dataclass
class InvoiceFilter:
    supply_point_id: int | None = None
    year: int | None = None
    status: str | None = None  # a key of STATUS_FILTERS
    sort: str = "date"
    descending: bool = True
    page: int = 1


class InvoiceRow(NamedTuple):
    id: int
    number: str
    invoice_date: dt.date
    amount: Decimal
    invoice_type: InvoiceType
    consumption: int | None
    unit: str
    due_date: dt.date
    amount_paid: Decimal
    status: InvoiceStatus
    amount_due: Decimal  # left to pay, 0 once paid
    paid_where: str  # places (or channels) of its payments, "" when none


@dataclass
class InvoicePage:
    rows: list[InvoiceRow]
    total: int  # invoices matching the filter
    page: int
    pages: int
    years: list[int]  # every year with invoices, newest first
    balance: Decimal  # left to pay (of the chosen supply point, if any)
    due: Decimal  # left to pay on the invoices matching the filter

    @property
    def first(self) -> int:
        """Position of the page's first row in the whole list (1-based)."""
        return (self.page - 1) * PER_PAGE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * PER_PAGE + len(self.rows)


@lru_cache(maxsize=None)
def _statements(by_supply: bool, by_year: bool, status: str | None, sort: str, descending: bool):
    """The totals-per-year and page statements for one shape of filter, built once: building
    a statement costs more than running it on an index."""
    own = _inv.customer_id == sa.bindparam("customer_id")
    of_supply = [_inv.supply_point_id == sa.bindparam("supply_point_id")] if by_supply else []
    matching = list(of_supply)
    if by_year:
        matching += [_inv.invoice_date >= sa.bindparam("year_from"),
                     _inv.invoice_date < sa.bindparam("year_to")]
    if status in STATUS_FILTERS:
        matching.append(STATUS_FILTERS[status][1])
    totals = (sa.select(_YEAR,
                        sa.func.sum(sa.case((sa.and_(sa.true(), *matching), 1), else_=0)),
                        sa.func.sum(sa.case((sa.and_(_UNPAID, *of_supply), _LEFT_TO_PAY), else_=0),
                                    type_=sa.Numeric(14, 2)),
                        sa.func.sum(sa.case((sa.and_(_UNPAID, *matching), _LEFT_TO_PAY), else_=0),
                                    type_=sa.Numeric(14, 2)))
              .where(own).group_by(_YEAR))
    column = SORTS.get(sort, _inv.invoice_date)
    page = (sa.select(*_COLUMNS).where(own, *matching)
            .order_by(column.desc() if descending else column.asc(), _inv.id.desc())
            .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")))
    return totals, page


# What the customer has left to pay on all their invoices (a statement, or a column of another).
BALANCE = sa.select(sa.func.coalesce(sa.func.sum(_LEFT_TO_PAY, type_=sa.Numeric(14, 2)), 0)).where(
    _inv.customer_id == sa.bindparam("customer_id"), _UNPAID)


def balance(customer_id: int) -> Decimal:
    """What the customer has left to pay on all their invoices."""
    return as_money(run(BALANCE, {"customer_id": customer_id}).scalar())


def as_money(value) -> Decimal:
    """A sum of amounts as the database returns it (a float on SQLite), in cents."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


_PAYMENTS = sa.select(_pay.invoice_id, _pay.paid_at, _pay.method).where(
    _pay.invoice_id.in_(sa.bindparam("ids", expanding=True)))


def invoice_page(customer_id: int, flt: InvoiceFilter) -> InvoicePage:
    params = {"customer_id": customer_id, "supply_point_id": flt.supply_point_id}
    if flt.year:
        params.update(year_from=dt.date(flt.year, 1, 1), year_to=dt.date(flt.year + 1, 1, 1))
    totals, page_stmt = _statements(bool(flt.supply_point_id), bool(flt.year),
                                    flt.status if flt.status in STATUS_FILTERS else None,
                                    flt.sort if flt.sort in SORTS else "date", flt.descending)
    per_year = run(totals, params).all()
    years = sorted((int(y) for y, _, _, _ in per_year), reverse=True)
    total = sum(int(n or 0) for _, n, _, _ in per_year)
    left = sum((Decimal(str(b or 0)) for _, _, b, _ in per_year), Decimal("0")).quantize(Decimal("0.01"))
    due = sum((Decimal(str(d or 0)) for _, _, _, d in per_year), Decimal("0")).quantize(Decimal("0.01"))

    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    page = min(max(flt.page, 1), pages)
    rows = run(page_stmt, dict(params, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)).all() if total else []
    places: dict[int, set] = {}
    if rows:
        for invoice_id, paid_at, method in run(_PAYMENTS, {"ids": [r.id for r in rows]}):
            places.setdefault(invoice_id, set()).add(paid_at or str(method.label))
    return InvoicePage(rows=[InvoiceRow(*r, ", ".join(sorted(places.get(r.id, ())))) for r in rows],
                       total=total, page=page, pages=pages, years=years, balance=left, due=due)


_sp = SupplyPoint.__table__.c
_SUPPLY_OPTIONS = (sa.select(_sp.id, _sp.service, _sp.address, _sp.city,
                             SupplyPoint.point_code.label("point_code"))
                   .where(_sp.customer_id == sa.bindparam("customer_id"))
                   .order_by(_sp.code))


class SupplyOption(NamedTuple):
    id: int
    name: str  # "Gas — Via Roma 1, Milano"
    point_code: str
    service: object  # the rest of what `sp_title` shows of the chosen one
    address: str
    city: str


def supply_point_options(customer_id: int) -> list[SupplyOption]:
    """The customer's supply points for the supply filter, named by service and address (the
    PDR/POD is added only where two would otherwise read the same)."""
    rows = run(_SUPPLY_OPTIONS, {"customer_id": customer_id}).all()
    names = [supply_name(r.service, r.address, r.city) for r in rows]
    return [SupplyOption(r.id, f"{name} ({r.point_code})" if names.count(name) > 1 else name, r.point_code,
                         r.service, r.address, r.city)
            for r, name in zip(rows, names)]


# --- one invoice (its page) -----------------------------------------------------------------

class SupplyOfInvoice(NamedTuple):
    service: object
    address: str
    city: str
    point_code: str

    @property
    def display_name(self) -> str:  # as SupplyPoint.display_name
        return supply_name(self.service, self.address, self.city)


class LineRow(NamedTuple):
    description: str
    quantity: Decimal
    amount: Decimal


class PaymentRow(NamedTuple):
    payment_date: dt.date
    amount: Decimal
    method: object
    paid_at: str


@dataclass
class InvoiceDetail:
    """What the invoice page shows, with the names the Invoice model gives it."""
    id: int
    number: str
    invoice_date: dt.date
    invoice_type: InvoiceType
    period_from: dt.date | None
    period_to: dt.date | None
    consumption: int | None
    unit: str
    amount: Decimal
    due_date: dt.date
    amount_paid: Decimal
    status: InvoiceStatus
    supply_point: SupplyOfInvoice | None
    lines: list[LineRow]
    payments: list[PaymentRow]

    @property
    def amount_due(self) -> Decimal:  # as Invoice.amount_due
        return (self.amount or Decimal("0")) - (self.amount_paid or Decimal("0"))


_line = InvoiceLine.__table__.c
# The invoice with its supply point and its lines: one row per line (one row, lines empty,
# when it has none).
_DETAIL = (sa.select(_inv.id, _inv.number, _inv.invoice_date, _inv.invoice_type, _inv.period_from,
                     _inv.period_to, _inv.consumption, _inv.unit, _inv.amount, _inv.due_date,
                     _inv.amount_paid, _inv.status, _sp.id.label("sp_id"), _sp.service, _sp.address,
                     _sp.city, _sp.pdr, _sp.pod, _sp.code, _line.line_no, _line.description,
                     _line.quantity, _line.amount.label("line_amount"))
           .select_from(Invoice.__table__.outerjoin(SupplyPoint.__table__, _sp.id == _inv.supply_point_id)
                        .outerjoin(InvoiceLine.__table__, _line.invoice_id == _inv.id))
           .where(_inv.id == sa.bindparam("id"), _inv.customer_id == sa.bindparam("customer_id"))
           .order_by(_line.line_no))  # unique per invoice
_INVOICE_PAYMENTS = (sa.select(_pay.payment_date, _pay.amount, _pay.method, _pay.paid_at)
                     .where(_pay.invoice_id == sa.bindparam("id")).order_by(_pay.payment_date))


def invoice_detail(customer_id: int, invoice_id: int) -> InvoiceDetail | None:
    """The customer's invoice `invoice_id` with its supply point, lines and payments, as plain
    rows (two Core statements), or None when the customer has no such invoice."""
    rows = run(_DETAIL, {"id": invoice_id, "customer_id": customer_id}).all()
    if not rows:
        return None
    row = rows[0]
    supply = SupplyOfInvoice(row.service, row.address, row.city, row.pdr or row.pod or row.code) \
        if row.sp_id is not None else None
    return InvoiceDetail(*row[:12], supply_point=supply,
                         lines=[LineRow(r.description, r.quantity, r.line_amount) for r in rows
                                if r.line_no is not None],
                         payments=[PaymentRow(*r) for r in run(_INVOICE_PAYMENTS, {"id": invoice_id})])
