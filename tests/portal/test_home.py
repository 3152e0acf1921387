"""The customer's home page: per supply point the latest invoice with its due date and what is
still due (F-07), the last reading and its state (F-10), and the notices that matter — requests
still open, a write billing refused (F-52), a direct debit request rejected (F-06)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import lxml.html
import sqlalchemy as sa
from flask_babel import force_locale, format_date

from app.models import (Activity, ActivityKind, DirectDebitMandate, InvoiceStatus, MandateStatus, OutboxMessage,
                        OutboxStatus, ReadingSource, ReadingStatus, ReadingType)
from app.services.sync.outbox import deliver_due
from tests import factories as f
from tests.portal.conftest import post_form


def _card(body: str, sp) -> str:
    """The text of one supply point's card on the home page, spaces normalised."""
    card = lxml.html.fromstring(body).xpath(f'//section[@aria-labelledby="sp-{sp.id}"]')[0]
    return " ".join(" ".join(card.itertext()).split())


def _notices(body: str) -> list[str]:
    return [" ".join(li.text_content().split())
            for li in lxml.html.fromstring(body).xpath('//section[@class="notices"]//li')]


def test_F07_home_shows_latest_invoice_due_date_amount_due_and_last_reading(app, client, db, logged_in):
    c, sp, meter = logged_in["customer"], logged_in["supply_point"], logged_in["meter"]
    today = dt.date.today()
    older = f.invoice(c, sp, number="FT-OLD-1", invoice_date=today - dt.timedelta(days=70),
                      due_date=today - dt.timedelta(days=50), amount=Decimal("90.00"),
                      amount_paid=Decimal("90.00"), status=InvoiceStatus.PAID)
    latest = f.invoice(c, sp, number="FT-NEW-2", invoice_date=today - dt.timedelta(days=10),
                       due_date=today + dt.timedelta(days=12), amount=Decimal("210.40"),
                       amount_paid=Decimal("60.00"), status=InvoiceStatus.PARTIALLY_PAID)
    f.reading(sp, meter, reading_date=today - dt.timedelta(days=3), value=1316, consumption=116,
              reading_type=ReadingType.SELF, source=ReadingSource.CUSTOMER, status=ReadingStatus.PENDING,
              billing_entry_no=None)
    db.session.commit()
    body = client.get("/portal/home").get_data(as_text=True)
    card = _card(body, sp)
    with app.test_request_context(), force_locale("it"):
        issued, due, read_on = (format_date(d) for d in (latest.invoice_date, latest.due_date,
                                                           today - dt.timedelta(days=3)))
    assert card.startswith("Gas metano — Via Roma 1, Roma")  # named by service and address
    assert f"Ultima bolletta FT-NEW-2 · {issued} · 210,40 € · Pagata in parte" in card
    assert f"Scadenza {due}" in card and "Ancora da pagare 150,40 €" in card
    assert older.number not in card
    assert f"Ultima lettura {read_on} · 1.316 · Autolettura · In verifica" in card
    assert 'href="/portal/invoices/%d"' % latest.id in body
    assert "Comunica una lettura" in card  # the supply point has a meter


def test_F07_home_of_a_supply_with_nothing_yet(client, db, logged_in):
    bare = f.supply_point(logged_in["customer"], address="Via Verdi 3", city="Milano")
    db.session.commit()
    card = _card(client.get("/portal/home").get_data(as_text=True), bare)
    assert card.startswith("Gas metano — Via Verdi 3, Milano")
    assert "Ultima bolletta Nessuna bolletta finora." in card and "Ultima lettura Nessuna lettura finora." in card
    assert "None" not in card
    assert "Comunica una lettura" not in card  # no meter to read yet
    assert "Comunica una lettura" in _card(client.get("/portal/home").get_data(as_text=True),
                                           logged_in["supply_point"])


def test_F06_home_notices_open_requests_and_a_rejected_mandate(client, db, logged_in):
    from app.services.portal import requests as customer_requests

    sp = logged_in["supply_point"]
    # the first access still waits for billing (no billing in this test): one open request
    assert _notices(client.get("/portal/home").get_data(as_text=True)) == ["Richieste ancora in lavorazione: 1."]
    customer_requests.invoice_correction(logged_in["user"], logged_in["invoice"], "The consumption is not mine.")
    rejected = DirectDebitMandate(supply_point_id=sp.id, reference="MNDREJ0001", iban="DE89370400440532013000",
                                  status=MandateStatus.REJECTED)
    db.session.add(rejected)
    db.session.commit()
    body = client.get("/portal/home").get_data(as_text=True)
    assert _notices(body) == [
        "Richieste ancora in lavorazione: 2.",
        "La tua richiesta di domiciliazione bancaria per Gas metano — Via Roma 1, Roma è stata respinta: "
        "vedi il motivo e richiedila di nuovo.",
    ]
    assert f'href="/portal/supply/{sp.id}/direct-debit"' in body
    # a newer request after the rejection: no longer news
    db.session.add(DirectDebitMandate(supply_point_id=sp.id, reference="MNDREQ0002", iban="DE89370400440532013000",
                                      status=MandateStatus.REQUESTED,
                                      created_at=rejected.created_at + dt.timedelta(minutes=1)))
    db.session.commit()
    assert _notices(client.get("/portal/home").get_data(as_text=True)) == ["Richieste ancora in lavorazione: 2."]


def test_F52_a_write_billing_refused_is_shown_as_not_accepted(client, db, logged_in, billing_sim):
    c = logged_in["customer"]
    resp = post_form(client, "/portal/personal-data", {
        "last_name": c.last_name, "first_name": c.first_name, "company_name": "", "tax_code": c.tax_code,
        "vat_number": "", "birth_date": "", "address": c.address, "post_code": c.post_code,
        "city": c.city, "province": c.province, "phone": "3331234567", "email": c.email})
    assert resp.status_code == 302
    billing_sim.control("fault")  # billing refuses the write (a SOAP fault)
    try:
        assert deliver_due()["failed"] == 2  # the first access and the data change
    finally:
        billing_sim.clear()
    activity = db.session.scalar(sa.select(Activity).join(OutboxMessage, OutboxMessage.activity_id == Activity.id)
                                 .where(OutboxMessage.status == OutboxStatus.FAILED,
                                        Activity.kind == ActivityKind.PERSONAL_DATA))
    for url in ("/portal/requests", f"/portal/requests/{activity.id}"):
        body = client.get(url).get_data(as_text=True)
        assert "Non accettata dalla fatturazione: ce ne stiamo occupando" in body
        assert "Ricevuta dalla fatturazione" not in body and "Received by billing" not in body
    notices = _notices(client.get("/portal/home").get_data(as_text=True))
    assert "Richieste non accettate dalla fatturazione: 2. Ce ne stiamo occupando." in notices
