"""F-03 information request (visitors too, abuse-protected), F-09 invoice correction,
and "my requests" with status and history."""
from __future__ import annotations

import sqlalchemy as sa

from app.models import Activity, ActivityKind, ActivityStatus
from tests.portal.conftest import post_form

INFO = {"name": "Anna Bianchi", "question": "Quali sono le tariffe per il gas?",
        "email": "anna@example.com", "phone": "", "postal_address": "", "website": ""}


def _count(db, kind):
    return db.session.scalar(sa.select(sa.func.count()).select_from(Activity).where(Activity.kind == kind))


def test_F03_visitor_information_request(client, db):
    resp = post_form(client, "/portal/information", INFO)
    assert resp.status_code == 302
    a = db.session.scalar(sa.select(Activity))
    assert a.kind == ActivityKind.INFORMATION_REQUEST and a.status == ActivityStatus.NEW
    assert (a.contact_name, a.contact_email, a.customer_id) == ("Anna Bianchi", "anna@example.com", None)
    assert a.payload["question"] == INFO["question"]


def test_F03_needs_a_way_to_reach_the_visitor(client, db):
    resp = post_form(client, "/portal/information", {**INFO, "email": ""})
    assert resp.status_code == 200 and "almeno un modo per contattarti" in resp.get_data(as_text=True)
    assert _count(db, ActivityKind.INFORMATION_REQUEST) == 0


def test_F03_honeypot_stores_nothing(client, db):
    resp = post_form(client, "/portal/information", {**INFO, "website": "http://spam.example"})
    assert resp.status_code == 302
    assert _count(db, ActivityKind.INFORMATION_REQUEST) == 0


def test_F03_rate_limited(client, db):
    codes = [post_form(client, "/portal/information", INFO).status_code for _ in range(6)]
    assert codes[:5] == [302] * 5 and codes[5] == 429
    assert _count(db, ActivityKind.INFORMATION_REQUEST) == 5


def test_F03_customer_request_is_linked_and_listed(client, db, logged_in):
    assert post_form(client, "/portal/information", {**INFO, "email": "", "phone": "061234567"}).status_code == 302
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.INFORMATION_REQUEST))
    assert a.customer_id == logged_in["customer"].id
    assert "Quali sono le tariffe" in client.get("/portal/requests").get_data(as_text=True)


def test_F09_invoice_correction_request(client, db, logged_in):
    inv = logged_in["invoice"]
    short = post_form(client, f"/portal/invoices/{inv.id}/correction", {"reason": "no"})
    assert short.status_code == 400
    resp = post_form(client, f"/portal/invoices/{inv.id}/correction",
                     {"reason": "Il consumo fatturato è il doppio di quello reale."})
    assert resp.status_code == 302
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.INVOICE_CORRECTION))
    assert a.invoice_id == inv.id and a.customer_id == logged_in["customer"].id
    assert a.payload["reason"].startswith("Il consumo")
    listing = client.get("/portal/requests").get_data(as_text=True)
    assert inv.number in listing and "Rettifica fattura" in listing or "Rettifica" in listing
    detail = client.get(f"/portal/requests/{a.id}").get_data(as_text=True)
    assert "Creata" in detail or "Created" in detail or "Nuova" in detail


def test_my_requests_withdraw_an_open_request(client, db, logged_in):
    inv = logged_in["invoice"]
    post_form(client, f"/portal/invoices/{inv.id}/correction",
              {"reason": "Il consumo fatturato è il doppio di quello reale."})
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.INVOICE_CORRECTION))
    resp = post_form(client, f"/portal/requests/{a.id}/withdraw", {}, page_url=f"/portal/requests/{a.id}")
    assert resp.status_code == 302
    db.session.refresh(a)
    assert a.status == ActivityStatus.CANCELLED
