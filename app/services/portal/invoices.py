"""The customer's invoice list (F-07): one page of invoices with filters, sort and totals.

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

from app.extensions import db
from app.models import Invoice, InvoiceStatus, InvoiceType, Payment, SupplyPoint

PER_PAGE = 12
_inv = Invoice.__table__.c
_pay = Payment.__table__.c
SORTS = {"date": _inv.invoice_date, "due": _inv.due_date, "amount": _inv.amount, "number": _inv.number}
_COLUMNS = (_inv.id, _inv.number, _inv.invoice_date, _inv.amount, _inv.invoice_type,
            _inv.consumption, _inv.unit, _inv.due_date, _inv.amount_paid, _inv.status)
_YEAR = sa.extract("year", _inv.invoice_date)
# What is left to pay on an invoice: the one rule behind every balance the customer sees.
_UNPAID = _inv.status != InvoiceStatus.PAID
_LEFT_TO_PAY = _inv.amount - _inv.amount_paid


def _run(statement, params: dict):
    """Run a prebuilt Core statement in the session's transaction."""
    return db.session.connection().execute(statement, params)


@dataclass
class InvoiceFilter:
    supply_point_id: int | None = None
    year: int | None = None
    status: InvoiceStatus | None = None
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
    paid_where: str  # places (or channels) of its payments, "" when none


@dataclass
class InvoicePage:
    rows: list[InvoiceRow]
    total: int  # invoices matching the filter
    page: int
    pages: int
    years: list[int]  # every year with invoices, newest first
    balance: Decimal  # left to pay (of the chosen supply point, if any)


@lru_cache(maxsize=None)
def _statements(by_supply: bool, by_year: bool, by_status: bool, sort: str, descending: bool):
    """The totals-per-year and page statements for one shape of filter, built once: building
    a statement costs more than running it on an index."""
    own = _inv.customer_id == sa.bindparam("customer_id")
    of_supply = [_inv.supply_point_id == sa.bindparam("supply_point_id")] if by_supply else []
    matching = list(of_supply)
    if by_year:
        matching += [_inv.invoice_date >= sa.bindparam("year_from"),
                     _inv.invoice_date < sa.bindparam("year_to")]
    if by_status:
        matching.append(_inv.status == sa.bindparam("status"))
    totals = (sa.select(_YEAR,
                        sa.func.sum(sa.case((sa.and_(sa.true(), *matching), 1), else_=0)),
                        sa.func.sum(sa.case((sa.and_(_UNPAID, *of_supply), _LEFT_TO_PAY), else_=0),
                                    type_=sa.Numeric(14, 2)))
              .where(own).group_by(_YEAR))
    column = SORTS.get(sort, _inv.invoice_date)
    page = (sa.select(*_COLUMNS).where(own, *matching)
            .order_by(column.desc() if descending else column.asc(), _inv.id.desc())
            .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")))
    return totals, page


_BALANCE = sa.select(sa.func.coalesce(sa.func.sum(_LEFT_TO_PAY, type_=sa.Numeric(14, 2)), 0)).where(
    _inv.customer_id == sa.bindparam("customer_id"), _UNPAID)


def balance(customer_id: int) -> Decimal:
    """What the customer has left to pay on all their invoices."""
    value = _run(_BALANCE, {"customer_id": customer_id}).scalar()
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


_PAYMENTS = sa.select(_pay.invoice_id, _pay.paid_at, _pay.method).where(
    _pay.invoice_id.in_(sa.bindparam("ids", expanding=True)))


def invoice_page(customer_id: int, flt: InvoiceFilter) -> InvoicePage:
    params = {"customer_id": customer_id, "supply_point_id": flt.supply_point_id, "status": flt.status}
    if flt.year:
        params.update(year_from=dt.date(flt.year, 1, 1), year_to=dt.date(flt.year + 1, 1, 1))
    totals, page_stmt = _statements(bool(flt.supply_point_id), bool(flt.year), flt.status is not None,
                                    flt.sort if flt.sort in SORTS else "date", flt.descending)
    per_year = _run(totals, params).all()
    years = sorted((int(y) for y, _, _ in per_year), reverse=True)
    total = sum(int(n or 0) for _, n, _ in per_year)
    left = sum((Decimal(str(b or 0)) for _, _, b in per_year), Decimal("0")).quantize(Decimal("0.01"))

    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    page = min(max(flt.page, 1), pages)
    rows = _run(page_stmt, dict(params, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)).all() if total else []
    places: dict[int, set] = {}
    if rows:
        for invoice_id, paid_at, method in _run(_PAYMENTS, {"ids": [r.id for r in rows]}):
            places.setdefault(invoice_id, set()).add(paid_at or str(method.label))
    return InvoicePage(rows=[InvoiceRow(*r, ", ".join(sorted(places.get(r.id, ())))) for r in rows],
                       total=total, page=page, pages=pages, years=years, balance=left)


_SUPPLY_OPTIONS = (sa.select(SupplyPoint.__table__.c.id, SupplyPoint.point_code.label("point_code"))
                   .where(SupplyPoint.__table__.c.customer_id == sa.bindparam("customer_id"))
                   .order_by(SupplyPoint.__table__.c.code))


def supply_point_options(customer_id: int) -> list:
    """(id, point_code) of the customer's supply points, for the supply filter."""
    return _run(_SUPPLY_OPTIONS, {"customer_id": customer_id}).all()
