"""API fixtures: two customers with their own data, each with a portal account and tokens."""
from __future__ import annotations

import pytest

from app.models import TokenScope
from tests import factories as f
from tests.portal.conftest import PASSWORD, customer_graph, logged_in, make_account, portal_login  # noqa: F401


def make_token(user, scope=TokenScope.READ, name="integration", **kw):
    from app.services.portal import api_tokens

    if scope == TokenScope.READINGS:
        kw.setdefault("current_password", PASSWORD)
    return api_tokens.create_token(user, name, scope, **kw)


def forget_cookies(client) -> None:
    """The client calls as a program would: no portal session."""
    client._cookies.clear()


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def two_customers(db, app, customer_graph):
    """Customer A (the portal fixture's graph) and customer B with a supply point, meter,
    reading, invoice and request of their own; a token for each."""
    import datetime as dt

    a = customer_graph
    b_customer = f.customer()
    b_sp = f.supply_point(b_customer, annual_consumption=900)
    b_meter = f.meter(b_sp, digits=5)
    b_reading = f.reading(b_sp, b_meter, reading_date=dt.date(2026, 9, 1), value=500, consumption=None)
    b_invoice = f.invoice(b_customer, b_sp)
    db.session.commit()
    user_a = make_account(db, app, a["customer"])
    user_b = make_account(db, app, b_customer)
    from app.services.portal import requests as customer_requests

    b_request = customer_requests.invoice_correction(user_b, b_invoice, "The amount is not what I expected.")
    _token_a, secret_a = make_token(user_a, TokenScope.READINGS)
    _token_b, secret_b = make_token(user_b)
    return dict(a=dict(a, user=user_a, secret=secret_a),
                b=dict(customer=b_customer, supply_point=b_sp, meter=b_meter, reading=b_reading,
                       invoice=b_invoice, request=b_request, user=user_b, secret=secret_b))
