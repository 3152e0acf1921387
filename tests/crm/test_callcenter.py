"""F-25 / F-26 / F-23: the call center finds a customer by any identifier, sees their requests
with status and history, records the call; the timeline shows everything newest first;
appointments are iCalendar invitations."""
import datetime as dt

import icalendar
import pytest
import sqlalchemy as sa

from app.models import (ActivityKind, ActivityStatus, Channel, Contact, ContactKind, InvoiceEmailLog,
                        DeliveryMode, SendOutcome)
from app.roles import CALL_CENTER, MANAGER
from app.services.crm.activities import add_note, create_activity
from app.services.crm.callcenter import find_customers, search_rows
from app.services.crm.contacts import cancel_appointment, create_contact, reschedule_appointment
from app.services.mailing.mail import deliver_mail, queue_mail
from tests import factories
from tests.crm.helpers import any_csrf_token


@pytest.fixture
def people(db):
    anna = factories.customer(last_name="Bianchi", first_name="Anna", search_name="bianchi anna",
                              tax_code="BNCNNA80A41H501X", vat_number="", phone="0612345678",
                              email="anna.bianchi@example.com", code="C0004242")
    firm = factories.customer(kind=factories.CustomerKind.COMPANY, last_name="", first_name="",
                              company_name="Bianchini Srl", search_name="bianchini srl",
                              tax_code="", vat_number="01234567897", phone="0298765432",
                              email="info@bianchini.example.com", code="C0004243")
    other = factories.customer(last_name="Verdi", first_name="Luca", search_name="verdi luca")
    gas = factories.supply_point(anna, pdr="00881234567890")
    power = factories.supply_point(firm, pdr="", pod="IT001E12345678", service=factories.Service.ELECTRICITY)
    db.session.commit()
    return {"anna": anna, "firm": firm, "other": other, "gas": gas, "power": power}


@pytest.mark.parametrize("query,who", [
    ("BNCNNA80A41H501X", ["anna"]), ("bncnna80a41h501x", ["anna"]),
    ("01234567897", ["firm"]), ("C0004242", ["anna"]), ("c0004243", ["firm"]),
    ("00881234567890", ["anna"]), ("IT001E12345678", ["firm"]),
    ("06 1234 5678", ["anna"]), ("0298765432", ["firm"]),
    ("anna.bianchi@example.com", ["anna"]), ("Info@Bianchini.example.com", ["firm"]),
    ("Bianchi", ["anna", "firm"]), ("bianchi anna", ["anna"]), ("Bianchini", ["firm"]),
    ("Rossi", []), ("zz", []),
])
def test_F25_one_box_finds_by_any_identifier(people, query, who):
    assert [c.id for c in find_customers(query)] == [people[w].id for w in who]
    # The result list's plain rows: the same customers in the same order, named the same way.
    found = find_customers(query)
    rows = search_rows(query)
    assert [r.id for r in rows] == [c.id for c in found]
    assert [(r.code, r.display_name, r.tax_code, r.vat_number, r.city, r.phone, r.email) for r in rows] == \
        [(c.code, c.display_name, c.tax_code, c.vat_number, c.city, c.phone, c.email) for c in found]


def test_F25_call_center_page_shows_requests_and_records_the_call(client, login_as, people, make_user, db):
    manager, _ = make_user(MANAGER)
    a = create_activity(ActivityKind.INVOICE_CORRECTION, customer_id=people["anna"].id,
                        subject="Bolletta di ottobre")
    add_note(a, manager, "chiesto il dettaglio dei consumi")
    create_activity(ActivityKind.COMPLAINT, customer_id=people["other"].id, subject="Altro cliente")
    operator = login_as(CALL_CENTER)
    resp = client.get("/callcenter/?q=BNCNNA80A41H501X")
    assert resp.status_code == 302  # one match: straight to the customer
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Bolletta di ottobre" in page and "Altro cliente" not in page
    assert "Nuova" in page and "chiesto il dettaglio dei consumi" in page  # status and history
    token = any_csrf_token(page)
    url = f"/callcenter/customer/{people['anna'].id}"
    resp = client.post(f"{url}/call", data={"call-csrf_token": token, "call-notes": "",
                                            "call-activity": "0"})
    assert resp.status_code == 400 and "Questo campo è obbligatorio" in resp.get_data(as_text=True)
    resp = client.post(f"{url}/call", data={"call-csrf_token": token, "call-activity": str(a.id),
                                            "call-notes": "Richiamata la cliente: rettifica in corso"})
    assert resp.status_code == 302
    call = db.session.scalar(sa.select(Contact))
    assert (call.kind, call.customer_id, call.operator_id, call.activity_id) == (
        ContactKind.PHONE_CALL, people["anna"].id, operator.id, a.id)
    db.session.expire_all()
    assert "Richiamata la cliente" in a.history[-1].note
    # A request of another customer cannot be attached to this call.
    foreign = create_activity(ActivityKind.COMPLAINT, customer_id=people["other"].id)
    resp = client.post(f"{url}/call", data={"call-csrf_token": token, "call-activity": str(foreign.id),
                                            "call-notes": "tentativo"})
    assert resp.status_code == 400 and db.session.scalar(sa.select(sa.func.count(Contact.id))) == 1
    # A new request opened on the phone.
    resp = client.post(f"{url}/request", data={"new-csrf_token": token, "new-kind": "complaint",
                                               "new-subject": "Disservizio", "new-note": "senza gas da ieri"})
    assert resp.status_code == 302
    new = db.session.scalar(sa.select(type(a)).where(type(a).subject == "Disservizio"))
    assert new.channel == Channel.PHONE and new.status == ActivityStatus.NEW and new.customer_id == people["anna"].id
    assert client.get("/callcenter/customer/999999").status_code == 404


def test_F26_timeline_newest_first_with_everything(client, login_as, people, make_user, db):
    anna, gas = people["anna"], people["gas"]
    m = factories.meter(gas)
    factories.reading(gas, m, reading_date=dt.date(2026, 6, 1))
    inv = factories.invoice(anna, gas, invoice_date=dt.date(2026, 7, 15))
    factories.payment(inv, payment_date=dt.date(2026, 8, 1))
    db.session.add(InvoiceEmailLog(invoice_id=inv.id, email=anna.email, mode=DeliveryMode.LINK,
                                   outcome=SendOutcome.SENT, sent_at=dt.datetime(2026, 7, 16, 3)))
    a = create_activity(ActivityKind.COMPLAINT, customer_id=anna.id, subject="Reclamo recente")
    a.created_at = dt.datetime(2026, 10, 1, 9)
    manager, _ = make_user(MANAGER)
    create_contact(ContactKind.VISIT, manager, customer_id=anna.id, subject="Sopralluogo",
                   starts_at=dt.datetime(2026, 9, 1, 9))
    queue_mail("password_changed", "it", [anna.email], {"name": "Anna"}, key="pw-anna")
    db.session.commit()
    login_as(CALL_CENTER)
    page = client.get(f"/timeline/{anna.id}").get_data(as_text=True)
    import re

    kinds = re.findall(r'<tr class="timeline-(\w+)">', page)
    assert kinds == ["email", "activity", "contact", "payment", "email", "invoice", "reading", "supply_point"]
    assert page.index("Reclamo recente") < page.index("Sopralluogo") < page.index(f">{inv.number}<")
    assert people["firm"].code not in page


def test_F23_appointment_invitation_update_and_cancel(smtp_server, people, make_user, db):
    manager, _ = make_user(MANAGER)
    anna = people["anna"]
    c = create_contact(ContactKind.APPOINTMENT, manager, customer_id=anna.id, subject="Sostituzione contatore",
                       starts_at=dt.datetime(2026, 12, 2, 8, 0), ends_at=dt.datetime(2026, 12, 2, 9, 0),
                       location="Via Roma 1", invite_customer=True)
    deliver_mail()
    msgs = {m["To"]: m for m in smtp_server.messages}
    assert set(msgs) == {manager.email, anna.email}

    def ics(msg):
        part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
        return part.get_param("method"), icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]

    method, event = ics(msgs[anna.email])
    assert method == "REQUEST" and str(event["UID"]) == c.ical_uid and int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART").hour == 9 and str(event["LOCATION"]) == "Via Roma 1"
    assert {str(a) for a in event["ATTENDEE"]} == {f"mailto:{manager.email}", f"mailto:{anna.email}"}
    reschedule_appointment(c, manager, dt.datetime(2026, 12, 3, 8, 0), invite_customer=True)
    cancel_appointment(c, manager, invite_customer=True)
    smtp_server.messages.clear()
    deliver_mail()
    seen = sorted((ics(m)[0], int(ics(m)[1]["SEQUENCE"]), m["To"]) for m in smtp_server.messages)
    assert seen == sorted([("REQUEST", 1, manager.email), ("REQUEST", 1, anna.email),
                           ("CANCEL", 2, manager.email), ("CANCEL", 2, anna.email)])
    assert all(str(ics(m)[1]["UID"]) == c.ical_uid for m in smtp_server.messages)


def test_F23_appointment_planned_from_the_call_center_and_moved(client, login_as, people, make_user, db):
    operator = login_as(CALL_CENTER)
    anna = people["anna"]
    page = client.get(f"/callcenter/customer/{anna.id}").get_data(as_text=True)
    token = any_csrf_token(page)
    url = f"/callcenter/customer/{anna.id}/contact"
    resp = client.post(url, data={"contact-csrf_token": token, "contact-kind": "appointment",
                                  "contact-subject": "Lettura contatore", "contact-starts_at": ""})
    assert resp.status_code == 400 and "Un appuntamento richiede data e ora." in resp.get_data(as_text=True)
    resp = client.post(url, data={"contact-csrf_token": token, "contact-kind": "appointment",
                                  "contact-subject": "Lettura contatore", "contact-starts_at": "2030-05-06T10:00",
                                  "contact-ends_at": "2030-05-06T09:00"})
    assert resp.status_code == 400 and "La fine deve essere successiva" in resp.get_data(as_text=True)
    resp = client.post(url, data={"contact-csrf_token": token, "contact-kind": "appointment",
                                  "contact-subject": "Lettura contatore", "contact-starts_at": "2030-05-06T10:00",
                                  "contact-location": "Via Roma 1", "contact-invite_customer": "y"})
    assert resp.status_code == 302
    c = db.session.scalar(sa.select(Contact))
    assert c.starts_at == dt.datetime(2030, 5, 6, 8, 0) and c.operator_id == operator.id  # 10:00 CEST
    from app.models import OutgoingMail

    sent = db.session.scalars(sa.select(OutgoingMail).order_by(OutgoingMail.id)).all()
    assert sorted(m.recipients[0] for m in sent) == sorted([operator.email, anna.email])
    page = client.get(f"/contactview/show/{c.id}").get_data(as_text=True)
    assert "Sposta l&#39;appuntamento" in page or "Sposta l'appuntamento" in page
    resp = client.post(f"/contactview/reschedule/{c.id}", data={
        "csrf_token": any_csrf_token(page), "starts_at": "2030-05-07T11:00", "location": "Via Roma 1"})
    assert resp.status_code == 302
    db.session.expire_all()
    c = db.session.get(Contact, c.id)
    assert c.starts_at == dt.datetime(2030, 5, 7, 9, 0) and c.ical_sequence == 1
    update = db.session.scalars(sa.select(OutgoingMail).order_by(OutgoingMail.id.desc())).first()
    assert update.recipients == [operator.email] and "SEQUENCE:1" in update.ics  # customer not re-invited
