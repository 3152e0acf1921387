"""Portal fixtures: a registered customer with local data, logged in through the portal."""
from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from app.models import InvoiceStatus
from tests import factories as f
from tests.conftest import csrf_token

TODAY = dt.date.today()
# customer_graph's readings: a month apart, the last 57 days before today, so a reading
# posted today is always about two months of ordinary consumption (no date that expires).
LAST_READING = TODAY - dt.timedelta(days=57)
READING_DATES = (LAST_READING - dt.timedelta(days=61), LAST_READING - dt.timedelta(days=30), LAST_READING)

PASSWORD = "correct horse battery staple"
ANSWER = "Scuola Dante Alighieri"


def make_account(db, app, customer, *, username=None, password=PASSWORD, answer=ANSWER):
    """A portal account for `customer`, made by the registration service."""
    from app.services.portal import accounts

    import sqlalchemy as sa

    from app.extensions import db as _db
    from app.models import Invoice

    inv = _db.session.scalar(sa.select(Invoice).where(Invoice.customer_id == customer.id,
                                                      Invoice.web_code != "")
                             .order_by(Invoice.invoice_date.desc()).limit(1))
    if inv is None:
        inv = f.invoice(customer, web_code=f"W{uuid.uuid4().hex[:9].upper()}")
        _db.session.commit()
    user = accounts.register(accounts.Registration(
        web_code=inv.web_code, identifier=customer.tax_code or customer.code,
        username=username or f"cust-{uuid.uuid4().hex[:8]}", password=password,
        question="Prima scuola?", answer=answer))
    return user


def portal_login(client, username, password=PASSWORD):
    page = client.get("/portal/login")
    return client.post("/portal/login", data={"username": username, "password": password,
                                              "csrf_token": csrf_token(page.get_data(as_text=True))})


def post_form(client, url, data, page_url=None):
    """GET the page (for its CSRF token), then POST the form."""
    page = client.get(page_url or url)
    assert page.status_code == 200, (url, page.status_code)
    return client.post(url, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))})


def mailed_reset_link(client, smtp_server, login: str) -> str:
    """Ask for a password reset as the customer does, send the queued mail and return the path
    of the link the customer received (the newest one)."""
    from app.services.mailing import mail

    post_form(client, "/portal/reset", {"login": login})
    mail.deliver_mail()
    links = [re.search(r"/portal/reset/[^\s/<>\"]+", m.get_body(("plain",)).get_content())
             for m in smtp_server.messages]
    links = [m.group(0) for m in links if m is not None]
    assert links, "no reset link was mailed"
    return links[-1]


def received_mail(smtp_server, reference: str):
    """The one "we have received your request" e-mail with `reference`, once delivered."""
    from app.services.mailing import mail

    mail.deliver_mail()
    found = [m for m in smtp_server.messages if reference in m["Subject"]]
    assert len(found) == 1, [m["Subject"] for m in smtp_server.messages]
    return found[0]


@pytest.fixture
def customer_graph(db):
    """A customer with a gas supply point (5-digit meter), readings, invoices and a payment."""
    c = f.customer()
    sp = f.supply_point(c, annual_consumption=1200)
    m = f.meter(sp, digits=5)
    first, second, last = READING_DATES
    f.reading(sp, m, reading_date=first, value=1000, consumption=None)
    f.reading(sp, m, reading_date=second, value=1100, consumption=100)
    r = f.reading(sp, m, reading_date=last, value=1200, consumption=100)
    inv = f.invoice(c, sp, status=InvoiceStatus.PAID)
    inv.amount_paid = inv.amount
    pay = f.payment(inv, amount=inv.amount)
    db.session.commit()
    return dict(customer=c, supply_point=sp, meter=m, reading=r, invoice=inv, payment=pay)


@pytest.fixture
def logged_in(client, db, app, customer_graph):
    """Customer A, registered and logged in on the test client."""
    user = make_account(db, app, customer_graph["customer"])
    resp = portal_login(client, user.username)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    return dict(customer_graph, user=user)
