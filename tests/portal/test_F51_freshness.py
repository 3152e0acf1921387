"""F-51 on login: the customer's data are refreshed from billing with a short timeout; when
billing does not answer, the pages work from the local copy and say how fresh it is."""
from __future__ import annotations

import sqlalchemy as sa

from app.models import Customer, Invoice
from app.services.sync.alignment import align
from tests.portal.conftest import make_account, portal_login


def _aligned_customer(db):
    assert align(full=True).status == "ok"
    cid = db.session.scalar(sa.select(Invoice.customer_id).where(Invoice.web_code != "").order_by(Invoice.id))
    return db.session.get(Customer, cid)


def test_F51_login_refreshes_the_customers_data(client, db, billing_sim):
    customer = _aligned_customer(db)
    real_phone = customer.phone
    customer.phone, customer.billing_version = "STALE", 0  # an outdated local copy
    db.session.commit()
    user = make_account(db, None, customer)
    assert portal_login(client, user.username).status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).phone == real_phone
    page = client.get("/portal/home").get_data(as_text=True)
    assert "Dati del sistema di fatturazione aggiornati al" in page and "non risponde" not in page


def test_F51_billing_down_pages_work_from_the_copy(client, db, billing_sim):
    customer = _aligned_customer(db)
    user = make_account(db, None, customer)
    billing_sim.stop()
    assert portal_login(client, user.username).status_code == 302
    page = client.get("/portal/home").get_data(as_text=True)
    assert "non risponde" in page and "aggiornati al" in page
    assert client.get("/portal/invoices").status_code == 200


def test_F51_slow_billing_does_not_hold_the_login(client, db, billing_sim, app):
    customer = _aligned_customer(db)
    user = make_account(db, None, customer)
    app.config["BILLING_LOGIN_TIMEOUT"] = 1
    try:
        billing_sim.control("delay", seconds=3)
        assert portal_login(client, user.username).status_code == 302
        assert "non risponde" in client.get("/portal/home").get_data(as_text=True)
    finally:
        billing_sim.clear()
        app.config["BILLING_LOGIN_TIMEOUT"] = 2
