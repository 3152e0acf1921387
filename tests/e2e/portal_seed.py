"""Portal data for the browser sweeps: a customer with supply points, readings, invoices, a
mandate, invoice e-mails and requests, and a customer with nothing yet. Dates are relative to
today."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from app.models import (Activity, DeliveryMode, InvoiceStatus,
                        ReadingSource, ReadingStatus, ReadingType, Service)
from tests import factories as f
from tests.portal.conftest import PASSWORD, make_account

GOOD_IBAN = "IT60X0542811101000000123456"


@dataclass
class Seeded:
    username: str
    empty_username: str
    password: str
    gas: int  # supply point with a corrector meter, readings, invoices, a mandate, invoice e-mails
    power: int  # electricity: readings and a partly paid invoice, no mandate, no e-mail setting
    water: int  # no meter, no readings
    paid_invoice: int
    unpaid_invoice: int
    request: int
    user_id: int
    invoice_token: str

    def reset_token(self, db) -> str:
        """A password-reset link token valid now (signing out ends older ones)."""
        from app.models import SportelloUser
        from app.services.portal import accounts

        db.session.expire_all()
        return accounts.make_reset_token(db.session.get(SportelloUser, self.user_id))


def seed_portal(db, app) -> Seeded:
    from app.services.mailing.invoice_links import invoice_token
    from app.services.portal import direct_debit, invoice_delivery, requests

    today = dt.date.today()
    c = f.customer(first_name="Giulia", last_name="Bianchi", search_name="bianchi giulia")
    gas = f.supply_point(c, annual_consumption=1400)
    power = f.supply_point(c, service=Service.ELECTRICITY, pdr="", pod="IT001E12345678",
                           address="Via Garibaldi 22")
    water = f.supply_point(c, service=Service.WATER, pdr="", pod="", address="Via Garibaldi 22")
    gm = f.meter(gas, digits=5, has_corrector=True)
    pm = f.meter(power, digits=6)
    for i, (value, corr) in enumerate([(1000, 980), (1090, 1068), (1185, 1161)]):
        f.reading(gas, gm, reading_date=today - dt.timedelta(days=120 - 40 * i), value=value,
                  corrector_value=corr, consumption=None if i == 0 else 90 + 5 * i,
                  reading_type=ReadingType.SELF if i == 2 else ReadingType.ACTUAL,
                  source=ReadingSource.CUSTOMER if i == 2 else ReadingSource.DISTRIBUTOR)
    f.reading(power, pm, reading_date=today - dt.timedelta(days=70), value=20500, consumption=None)
    f.reading(power, pm, reading_date=today - dt.timedelta(days=35), value=20810, consumption=310,
              reading_type=ReadingType.ESTIMATED)
    f.reading(power, pm, reading_date=today - dt.timedelta(days=5), value=20700, consumption=None,
              status=ReadingStatus.REJECTED, source=ReadingSource.CUSTOMER, reading_type=ReadingType.SELF)
    paid = f.invoice(c, gas, invoice_date=today - dt.timedelta(days=75), due_date=today - dt.timedelta(days=55),
                     status=InvoiceStatus.PAID, amount=Decimal("88.40"))
    paid.amount_paid = paid.amount
    f.payment(paid, amount=paid.amount, payment_date=today - dt.timedelta(days=56))
    unpaid = f.invoice(c, gas, invoice_date=today - dt.timedelta(days=15), due_date=today + dt.timedelta(days=5),
                       amount=Decimal("131.07"))
    partly = f.invoice(c, power, invoice_date=today - dt.timedelta(days=30), due_date=today - dt.timedelta(days=10),
                       status=InvoiceStatus.PARTIALLY_PAID, amount=Decimal("269.71"), unit="kWh", consumption=310)
    partly.amount_paid = Decimal("100.00")
    f.payment(partly, amount=Decimal("100.00"), payment_date=today - dt.timedelta(days=12))
    db.session.commit()
    user = make_account(db, app, c)

    direct_debit.request_mandate(user, gas, {
        "iban": GOOD_IBAN, "holder_last_name": "Bianchi", "holder_first_name": "Giulia",
        "holder_tax_code": "", "bank": "Banca Popolare", "branch": "Roma 12", "branch_address": ""},
        current_password=PASSWORD)
    invoice_delivery.save(user, gas, True, DeliveryMode.LINK, ["giulia@example.com", "casa@example.com"])
    info = requests.information_request(name="Giulia Bianchi", question="Quando arriva la prossima bolletta?",
                                        email="giulia@example.com", customer_id=c.id, user=user)
    requests.invoice_correction(user, unpaid, "Il consumo fatturato è più alto di quello letto.")

    e = f.customer(first_name="Luca", last_name="Verdi", search_name="verdi luca")
    db.session.commit()
    empty_user = make_account(db, app, e)
    # a customer with no requests at all: the registration's request is moved off their list
    db.session.execute(sa.update(Activity).where(Activity.customer_id == e.id).values(customer_id=None))
    db.session.commit()
    return Seeded(username=user.username, empty_username=empty_user.username, password=PASSWORD,
                  gas=gas.id, power=power.id, water=water.id, paid_invoice=paid.id,
                  unpaid_invoice=unpaid.id, request=info.id,
                  user_id=user.id,
                  invoice_token=invoice_token(unpaid.id, c.id))
