"""No IDOR: customer A requests every portal URL with customer B's ids and gets 404, never data."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.models import Activity, DirectDebitMandate
from tests import factories as f
from tests.conftest import csrf_token
from tests.portal.conftest import PASSWORD, make_account, portal_login, post_form

PARAMS = {"sp_id", "invoice_id", "mandate_id", "activity_id"}


@pytest.fixture
def two_customers(client, db, app):
    a = f.customer(last_name="Alfa", first_name="Anna")
    sp_a = f.supply_point(a)
    f.meter(sp_a)
    f.invoice(a, sp_a)
    b = f.customer(last_name="Verdibeta", first_name="Bruno", email="bruno@example.com")
    sp_b = f.supply_point(b, address="Via Segreta 99")
    m_b = f.meter(sp_b)
    f.reading(sp_b, m_b, reading_date=dt.date.today() - dt.timedelta(days=57), value=777)
    inv_b = f.invoice(b, sp_b, number="FTB/SECRET/1")
    db.session.commit()
    user_b = make_account(db, app, b)
    # B's own requests and mandate, made through B's session.
    b_client = app.test_client()
    portal_login(b_client, user_b.username)
    post_form(b_client, f"/portal/invoices/{inv_b.id}/correction", {"reason": "Importo sbagliato, molto sbagliato"})
    post_form(b_client, f"/portal/supply/{sp_b.id}/direct-debit", {
        "iban": "IT60X0542811101000000123456", "holder_last_name": "Verdibeta", "accept": "y",
        "current_password": PASSWORD})
    user_a = make_account(db, app, a)
    assert portal_login(client, user_a.username).status_code == 302
    ids = {"sp_id": sp_b.id, "invoice_id": inv_b.id,
           "mandate_id": db.session.scalar(sa.select(DirectDebitMandate.id)),
           "activity_id": db.session.scalar(sa.select(Activity.id).where(Activity.customer_id == b.id)
                                            .order_by(Activity.id.desc()))}
    assert all(ids.values())
    return dict(ids=ids, b=b, inv_b=inv_b, sp_b=sp_b)


def _leaks(body: str, data) -> list[str]:
    secrets = [data["b"].last_name, data["b"].code, data["inv_b"].number, "Via Segreta 99",
               data["sp_b"].code, "bruno@example.com"]
    return [s for s in secrets if s in body]


def test_idor_every_portal_url_with_another_customers_ids(app, client, db, two_customers):
    token = csrf_token(client.get("/portal/home").get_data(as_text=True))
    checked, leaks = 0, []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("portal.") or not rule.arguments & PARAMS:
            continue
        url = rule.build({k: two_customers["ids"][k] for k in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            checked += 1
            body = resp.get_data(as_text=True)
            if resp.status_code != 404 or _leaks(body, two_customers):
                leaks.append((method, url, resp.status_code, _leaks(body, two_customers)))
    # ...and ids in query strings.
    resp = client.get(f"/portal/invoices?supply={two_customers['ids']['sp_id']}")
    checked += 1
    if resp.status_code != 404:
        leaks.append(("GET", "invoices?supply", resp.status_code, []))
    assert checked >= 15
    assert leaks == []
    # A's own pages never show B's data either.
    for url in ("/portal/home", "/portal/invoices", "/portal/requests"):
        assert _leaks(client.get(url).get_data(as_text=True), two_customers) == []


def test_idor_foreign_meter_in_reading_form(client, db, two_customers):
    from app.models import Meter, SupplyPoint

    sp_a = db.session.scalar(sa.select(SupplyPoint).where(SupplyPoint.id != two_customers["sp_b"].id))
    meter_b = db.session.scalar(sa.select(Meter).where(Meter.supply_point_id == two_customers["sp_b"].id))
    resp = post_form(client, f"/portal/supply/{sp_a.id}/reading",
                     {"meter": str(meter_b.id), "reading_date": dt.date.today().isoformat(), "value": "900"})
    assert resp.status_code == 400
    assert _leaks(resp.get_data(as_text=True), two_customers) == []


def test_portal_pages_are_not_cached_and_need_login(client, db, customer_graph):
    resp = client.get("/portal/home")
    assert resp.status_code == 302 and "/portal/login" in resp.location
    login = client.get("/portal/login")
    assert login.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in login.headers["Content-Security-Policy"]
    # No state change on GET: logout and the language switch are POST only.
    assert client.get("/portal/logout").status_code == 405
    assert client.get("/portal/language").status_code == 405


def test_post_without_csrf_is_refused(client, db, logged_in):
    sp = logged_in["supply_point"]
    resp = client.post(f"/portal/supply/{sp.id}/mailing-address",
                       data={"name": "X", "address": "Y", "post_code": "1", "city": "Z", "province": "RM"})
    assert resp.status_code == 400
