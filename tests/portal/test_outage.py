"""F-33/F-52 through the portal: billing down, 20 requests, billing back: each arrives once,
and the four automatic kinds (F-21) are executed; on each billing flavour (`each_billing_sim`)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.models import (Activity, ActivityKind, ActivityStatus, Customer,
                        Invoice, Meter, OutboxMessage, OutboxStatus, SupplyPoint)
from app.models.activity import AUTOMATIC_KINDS
from app.models.base import utcnow
from app.services.sync.alignment import align
from app.services.sync.outbox import deliver_due
from app.services.portal.readings import previous_reading
from tests.portal.conftest import ANSWER, PASSWORD, portal_login, post_form


def _customer_with_meter(db):
    meter = db.session.scalar(sa.select(Meter).join(SupplyPoint).where(
        Meter.has_corrector.is_(False), Meter.removed_on.is_(None),
        SupplyPoint.customer_id.in_(sa.select(Invoice.customer_id).where(Invoice.web_code != "")))
        .order_by(Meter.id))
    return db.session.get(Customer, meter.supply_point.customer_id), meter


def test_F52_outage_twenty_requests_arrive_once(client, db, each_billing_sim):
    billing_sim = each_billing_sim
    assert align(full=True).status == "ok"
    customer, meter = _customer_with_meter(db)
    sp = meter.supply_point
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.customer_id == customer.id)
                                .order_by(Invoice.invoice_date.desc()))
    billing_sim.stop()

    # 1: first access
    resp = post_form(client, "/portal/register", {
        "web_code": invoice.web_code, "identifier": customer.code, "username": "outage-user",
        "password": PASSWORD, "password_confirm": PASSWORD, "question": "Prima scuola?",
        "answer": ANSWER, "email": ""})
    assert resp.status_code == 302
    login = portal_login(client, "outage-user")
    assert login.status_code == 302
    assert "non risponde" in client.get("/portal/home").get_data(as_text=True)

    # 2-7: six readings on consecutive days
    prev = previous_reading(meter)
    today = dt.date.today()
    for i in range(6):
        value = (prev.value + 3 * (i + 1)) % 10 ** meter.digits
        resp = post_form(client, f"/portal/supply/{sp.id}/reading", {
            "meter": str(meter.id), "reading_date": (today - dt.timedelta(days=6 - i)).isoformat(),
            "value": str(value)})
        assert resp.status_code == 302, resp.get_data(as_text=True)[-800:]
    # 8-12: five personal data changes
    for i in range(5):
        resp = post_form(client, "/portal/personal-data", {
            "last_name": customer.last_name, "first_name": customer.first_name,
            "company_name": customer.company_name, "tax_code": "", "vat_number": "",
            "birth_date": "", "address": customer.address, "post_code": customer.post_code,
            "city": customer.city, "province": customer.province, "phone": f"33300000{i:02d}",
            "email": ""})
        assert resp.status_code == 302
    # 13-16: four invoice-by-e-mail settings
    for i in range(4):
        resp = post_form(client, f"/portal/supply/{sp.id}/invoice-email", {
            "enabled": "y", "mode": "link" if i % 2 else "pdf", "addresses": f"inv{i}@example.com"})
        assert resp.status_code == 302
    # 17-19: three mailing addresses
    for i in range(3):
        resp = post_form(client, f"/portal/supply/{sp.id}/mailing-address", {
            "name": "Recapito", "address": f"Via Outage {i}", "post_code": "00100", "city": "Roma",
            "province": "RM"})
        assert resp.status_code == 302
    # 20: a direct debit mandate
    resp = post_form(client, f"/portal/supply/{sp.id}/direct-debit", {
        "iban": "IT60X0542811101000000123456", "holder_last_name": "Rossi", "accept": "y",
        "current_password": PASSWORD})
    assert resp.status_code == 302

    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 20
    counts = deliver_due()
    assert counts == {"delivered": 0, "retry": 20, "failed": 0}
    page = client.get("/portal/requests").get_data(as_text=True)
    assert page.count("In attesa del sistema di fatturazione") == 20

    billing_sim.start()
    db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert deliver_due() == {"delivered": 20, "retry": 0, "failed": 0}
    assert deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}
    stats = billing_sim.stats()
    assert sum(stats["applied"].values()) == 20
    assert len(stats["applied_keys"]) == len(set(stats["applied_keys"])) == 20
    assert stats["applied"] == {"UpdateCustomer": 6, "SetInvoiceDelivery": 4, "SubmitReading": 6,
                                "UpdateMailingAddress": 3, "RequestMandate": 1}
    # Billing holds the last invoice-delivery setting, applied in order.
    import sqlite3

    with sqlite3.connect(billing_sim.db_path) as conn:
        rows = conn.execute("SELECT Enabled, Mode, E_Mails FROM invoice_delivery "
                            "WHERE E_Mails LIKE 'inv%@example.com'").fetchall()
    assert rows == [(1, "link", "inv3@example.com")]  # the one supply point, its fourth setting
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.status != OutboxStatus.DELIVERED)) == 0
    db.session.expire_all()
    activities = db.session.scalars(sa.select(Activity)).all()
    automatic = [a for a in activities if a.kind in AUTOMATIC_KINDS]
    assert {a.kind for a in automatic} == set(AUTOMATIC_KINDS)
    assert all(a.status == ActivityStatus.EXECUTED for a in automatic)
    # People handle the other kinds: after the outage they are still New, ready to assign.
    assert all(a.status == ActivityStatus.NEW for a in activities
               if a.kind in (ActivityKind.MAILING_ADDRESS, ActivityKind.DIRECT_DEBIT))
    assert "In attesa del sistema di fatturazione" not in client.get("/portal/requests").get_data(as_text=True)
