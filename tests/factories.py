"""Factory functions for test data (local copy rows, as alignment would write them)."""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from app.extensions import db
from app.models import (Customer, CustomerKind, Invoice, InvoiceLine, InvoiceStatus,
                        InvoiceType, Meter, MeterReading, Payment, PaymentChannel,
                        PaymentMethod, ReadingSource, ReadingStatus, ReadingType, Service,
                        SupplyPoint, SupplyStatus, UseType)

_seq = itertools.count(1)


def customer(**kw) -> Customer:
    n = next(_seq)
    values = dict(code=f"T{n:06d}", kind=CustomerKind.PERSON, last_name="Rossi", first_name="Mario",
                  search_name="rossi mario", tax_code="RSSMRA80A01H501U", vat_number="",
                  city="Roma", province="RM", post_code="00100", address="Via Roma 1",
                  phone=f"06{n:08d}", email=f"mario{n}@example.com", language="it")
    values.update(kw)
    obj = Customer(**values)
    db.session.add(obj)
    db.session.flush()
    return obj


def supply_point(cust: Customer, **kw) -> SupplyPoint:
    n = next(_seq)
    values = dict(code=f"SP{n:07d}", customer_id=cust.id, service=Service.GAS, pdr=f"{n:014d}", pod="",
                  address="Via Roma 1", city="Roma", province="RM", use_type=UseType.DOMESTIC,
                  status=SupplyStatus.ACTIVE, payment_method=PaymentMethod.SDD, iban="IT60X0542811101000000123456",
                  account_holder="Mario Rossi", mandate_reference=f"MND{n:06d}")
    values.update(kw)
    obj = SupplyPoint(**values)
    db.session.add(obj)
    db.session.flush()
    return obj


def meter(sp: SupplyPoint, **kw) -> Meter:
    n = next(_seq)
    values = dict(serial=f"M{n:08d}", supply_point_id=sp.id, digits=5, has_corrector=False,
                  installed_on=dt.date(2020, 1, 1))
    values.update(kw)
    obj = Meter(**values)
    db.session.add(obj)
    db.session.flush()
    return obj


def reading(sp: SupplyPoint, m: Meter, **kw) -> MeterReading:
    n = next(_seq)
    values = dict(billing_entry_no=n, supply_point_id=sp.id, meter_id=m.id,
                  reading_date=dt.date(2026, 10, 1), value=1234, reading_type=ReadingType.ACTUAL,
                  source=ReadingSource.DISTRIBUTOR, status=ReadingStatus.VALID, consumption=100)
    values.update(kw)
    obj = MeterReading(**values)
    db.session.add(obj)
    db.session.flush()
    return obj


def invoice(cust: Customer, sp: SupplyPoint | None = None, **kw) -> Invoice:
    n = next(_seq)
    values = dict(number=f"FT2026/{n:06d}", customer_id=cust.id, supply_point_id=sp.id if sp else None,
                  invoice_date=dt.date(2026, 10, 15), due_date=dt.date(2026, 11, 5),
                  invoice_type=InvoiceType.PERIODIC, amount=Decimal("123.45"), amount_paid=Decimal("0"),
                  status=InvoiceStatus.UNPAID, web_code=f"WC{n:08d}", consumption=120, unit="Smc")
    values.update(kw)
    obj = Invoice(**values)
    db.session.add(obj)
    db.session.flush()
    db.session.add(InvoiceLine(invoice_id=obj.id, line_no=1, description="Materia gas",
                               quantity=Decimal("120"), unit_price=Decimal("0.85"),
                               amount=Decimal("102.00"), vat_percent=Decimal("10")))
    return obj


def payment(inv: Invoice, **kw) -> Payment:
    n = next(_seq)
    values = dict(billing_entry_no=n, invoice_id=inv.id, customer_id=inv.customer_id,
                  payment_date=dt.date(2026, 11, 1), amount=inv.amount, method=PaymentChannel.POSTAL_SLIP,
                  paid_at="Ufficio postale Roma 12")
    values.update(kw)
    obj = Payment(**values)
    db.session.add(obj)
    db.session.flush()
    return obj


def billing_graph():
    """One customer with a supply point, meter, reading, invoice and payment; committed."""
    c = customer()
    sp = supply_point(c)
    m = meter(sp)
    r = reading(sp, m)
    inv = invoice(c, sp)
    p = payment(inv)
    db.session.commit()
    return dict(customer=c, supply_point=sp, meter=m, reading=r, invoice=inv, payment=p)
