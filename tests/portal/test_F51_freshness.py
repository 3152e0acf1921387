"""F-51 on login: the customer's data are refreshed from billing with a short timeout; when
billing does not answer, the pages work from the local copy and say how fresh it is."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import force_locale, format_datetime

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


# --- on demand: home and the invoice list read an old copy again from billing ------------------

def _age_copy(db, customer, hours=2):
    """Make the customer's local copy look `hours` old (their refresh and the last alignment)."""
    import datetime as dt

    from app.models import SyncState
    from app.models.base import utcnow

    old = utcnow() - dt.timedelta(hours=hours)
    db.session.get(Customer, customer.id).synced_at = old
    for state in db.session.scalars(sa.select(SyncState)):
        state.last_success_at = old
    db.session.commit()
    return old


def _logged_in_aligned(client, db):
    customer = _aligned_customer(db)
    user = make_account(db, None, customer)
    assert portal_login(client, user.username).status_code == 302
    return customer


def _local(db, customer):
    db.session.expire_all()
    return db.session.get(Customer, customer.id)


def test_F51_home_reads_an_old_copy_again_from_billing(app, client, db, billing_sim):
    customer = _logged_in_aligned(client, db)
    phone = customer.phone
    aged = _age_copy(db, customer)
    billing_sim.touch(fraction=1.0, seed=7)  # billing changes every customer's phone, pays every invoice
    page = client.get("/portal/home").get_data(as_text=True)
    assert _local(db, customer).phone != phone  # the copy was read again before the page
    assert "non risponde" not in page and "Importo ancora da pagare: <strong>0,00" in page.replace("\xa0", " ")
    # the page tells the age of the copy it shows: the refreshed one, not the one of the request's start
    with app.test_request_context(), force_locale("it"):
        before, after = (format_datetime(t, "short") for t in (aged, _local(db, customer).synced_at))
    assert before != after
    assert f"aggiornati al {after}." in page and f"aggiornati al {before}." not in page
    # a fresh copy (younger than portal_refresh_minutes) is not read again at every page
    fresh_phone = _local(db, customer).phone
    billing_sim.touch(fraction=1.0, seed=8)
    client.get("/portal/home")
    assert _local(db, customer).phone == fresh_phone


def test_F51_invoice_list_reads_an_old_copy_again(client, db, billing_sim):
    customer = _logged_in_aligned(client, db)
    _age_copy(db, customer)
    billing_sim.touch(fraction=1.0, seed=3)
    body = client.get("/portal/invoices?status=UNPAID").get_data(as_text=True)
    assert "Nessuna bolletta corrisponde." in body  # billing's payments arrived before the list
    assert not db.session.scalar(sa.select(sa.func.count()).select_from(Invoice).where(
        Invoice.customer_id == customer.id, Invoice.amount_paid < Invoice.amount))


def test_F51_billing_stopped_the_pages_show_the_copy_and_its_age(app, client, db, billing_sim):
    from flask_babel import force_locale, format_datetime

    customer = _logged_in_aligned(client, db)
    old = _age_copy(db, customer, hours=3)
    billing_sim.stop()
    with app.test_request_context(), force_locale("it"):
        when = format_datetime(old, "short")
    for url in ("/portal/home", "/portal/invoices"):
        resp = client.get(url)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 200
        assert ("Il sistema di fatturazione non risponde: questi dati sono meno recenti del solito "
                f"(aggiornati al {when}).") in body
        assert f"Dati del sistema di fatturazione aggiornati al {when}." in body
    # billing is back: for a minute pages don't wait for it again, the customer's button asks at once
    billing_sim.restart()
    page = client.get("/portal/home").get_data(as_text=True)
    assert "questi dati sono meno recenti del solito" in page
    from tests.conftest import csrf_token

    assert client.post("/portal/refresh", data={"csrf_token": csrf_token(page), "next": "/portal/home"}
                       ).status_code == 302
    page = client.get("/portal/home").get_data(as_text=True)
    assert "I tuoi dati sono stati aggiornati dal sistema di fatturazione." in page
    assert "non risponde" not in page


def test_F51_slow_billing_the_page_still_answers_with_the_age(app, client, db, billing_sim):
    customer = _logged_in_aligned(client, db)
    _age_copy(db, customer)
    app.config["BILLING_LOGIN_TIMEOUT"] = 1
    try:
        billing_sim.control("delay", seconds=3)
        resp = client.get("/portal/invoices")
        assert resp.status_code == 200
        assert "questi dati sono meno recenti del solito" in resp.get_data(as_text=True)
    finally:
        billing_sim.clear()
        app.config["BILLING_LOGIN_TIMEOUT"] = 2


def test_F51_refresh_link_reads_billing_again_and_is_rate_limited(client, db, billing_sim):
    from tests.conftest import csrf_token

    customer = _logged_in_aligned(client, db)  # a fresh copy: only the link refreshes it now
    phone = customer.phone
    billing_sim.touch(fraction=1.0, seed=11)
    page = client.get("/portal/invoices?year=2026").get_data(as_text=True)
    assert _local(db, customer).phone == phone
    assert 'action="/portal/refresh"' in page and "Aggiorna dalla fatturazione" in page
    token = csrf_token(page)
    # without the form's token nothing happens
    assert client.post("/portal/refresh", data={"next": "/portal/invoices"}).status_code == 400
    assert _local(db, customer).phone == phone
    resp = client.post("/portal/refresh", data={"csrf_token": token, "next": "/portal/invoices?year=2026"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/portal/invoices?year=2026"
    assert _local(db, customer).phone != phone
    assert "I tuoi dati sono stati aggiornati dal sistema di fatturazione." in \
        client.get("/portal/invoices").get_data(as_text=True)
    # elsewhere than the portal, "next" is not followed
    assert client.post("/portal/refresh", data={"csrf_token": token, "next": "https://evil.example/"}
                       ).headers["Location"] == "/portal/home"
    codes = [client.post("/portal/refresh", data={"csrf_token": token}).status_code for _ in range(5)]
    assert codes[:4] == [302] * 4 and codes[4] == 429


def test_F51_the_copy_is_as_old_as_its_refresh_or_the_last_alignment_through_every_entity(db):
    import datetime as dt

    from app.models import SyncState
    from app.services.sync.alignment import ORDER
    from app.services.sync.freshness import data_as_of
    from tests import factories as f

    customer = f.customer()
    db.session.commit()
    assert data_as_of(customer.id) is None  # never aligned, never refreshed
    aligned_at = dt.datetime(2026, 12, 1, 3, 0)
    for entity in ORDER[:-1]:
        db.session.merge(SyncState(entity=entity.value, last_success_at=aligned_at))
    db.session.commit()
    assert data_as_of(customer.id) is None  # one entity was never aligned: not a whole alignment
    db.session.merge(SyncState(entity=ORDER[-1].value, last_success_at=None))
    db.session.commit()
    assert data_as_of(customer.id) is None  # its row is there, without a success
    db.session.merge(SyncState(entity=ORDER[-1].value, last_success_at=aligned_at + dt.timedelta(hours=1)))
    db.session.merge(SyncState(entity="not_an_entity", last_success_at=dt.datetime(2020, 1, 1)))
    db.session.commit()
    assert data_as_of(customer.id) == aligned_at  # the oldest entity's alignment; others are not counted
    customer.synced_at = aligned_at + dt.timedelta(days=2)
    db.session.commit()
    assert data_as_of(customer.id) == aligned_at + dt.timedelta(days=2)  # a later refresh of the customer
