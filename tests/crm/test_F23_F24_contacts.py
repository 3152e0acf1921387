"""F-23 / F-24 / F-08: contacts filed with or without a customer, by staff and by agents (who
only name their own customers), searched by customer; contact statistics by kind, channel,
operator and month with CSV; the call-center customer page shows the invoice e-mail send log."""
import csv
import datetime as dt
import io

import pytest
import sqlalchemy as sa

from app.models import (Channel, Contact, ContactKind, DeliveryMode, InvoiceEmailLog, SendOutcome)
from app.models.base import utcnow
from app.roles import AGENT, BACK_OFFICE, CALL_CENTER, MANAGER
from app.services.crm.contacts import cancel_appointment, create_contact
from app.services.crm.stats import Filters, report
from tests import factories
from tests.crm.helpers import any_csrf_token
from tests.sales.helpers import agent_for, entered_contract


@pytest.fixture
def people(db):
    anna = factories.customer(last_name="Bianchi", first_name="Anna", search_name="bianchi anna",
                              tax_code="BNCNNA80A41H501X", code="C0004242", email="anna@example.com")
    luca = factories.customer(last_name="Verdi", first_name="Luca", search_name="verdi luca",
                              tax_code="VRDLCU75B12F205Z", code="C0004243", email="luca@example.com")
    db.session.commit()
    return {"anna": anna, "luca": luca}


def _file(client, url, **fields):
    page = client.get(url)
    assert page.status_code == 200
    data = {"csrf_token": any_csrf_token(page.get_data(as_text=True)), "kind": "phone_call",
            "customer": "", "subject": "", "notes": "", "starts_at": "", "ends_at": "", "location": ""}
    data.update(fields)
    return client.post(url, data=data)


def test_F23_back_office_files_a_contact_without_a_customer(client, login_as, db):
    operator = login_as(BACK_OFFICE)
    listing = client.get("/contactview/list/").get_data(as_text=True)
    assert "Nuovo contatto" in listing and "/contactview/file" in listing
    resp = _file(client, "/contactview/file", kind="appointment", subject="Sopralluogo cabina")
    assert resp.status_code == 400
    assert "Un appuntamento richiede data e ora." in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == 0  # nothing half-saved
    resp = _file(client, "/contactview/file", kind="visit", subject="Sopralluogo cabina",
                 notes="Nessun cliente ancora", invite_customer="y")
    assert resp.status_code == 400
    assert "non c&#39;è nessuno da invitare" in resp.get_data(as_text=True) or \
        "non c'è nessuno da invitare" in resp.get_data(as_text=True)
    resp = _file(client, "/contactview/file", kind="visit", subject="Sopralluogo cabina",
                 notes="Nessun cliente ancora")
    assert resp.status_code == 302
    contact = db.session.scalar(sa.select(Contact))
    assert contact.customer_id is None and contact.channel == Channel.BACK_OFFICE
    assert contact.operator_id == operator.id and contact.kind == ContactKind.VISIT
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Il contatto è stato registrato." in page and "Sopralluogo cabina" in page
    assert "Back office" in page  # the channel, by its label


def test_F23_staff_name_the_customer_by_any_identifier(client, login_as, people, db):
    login_as(CALL_CENTER)
    resp = _file(client, "/contactview/file", customer="Zanzibar", subject="Chiamata")
    assert resp.status_code == 400 and "Nessun cliente corrisponde a “Zanzibar”." in resp.get_data(as_text=True)
    resp = _file(client, "/contactview/file", customer="c0004242", subject="Chiamata", notes="richiamare")
    assert resp.status_code == 302
    contact = db.session.scalar(sa.select(Contact))
    assert contact.customer_id == people["anna"].id and contact.channel == Channel.PHONE


def test_F23_an_agent_files_contacts_for_their_own_customers_only(client, login_as, people, make_user, db):
    other_user, _ = make_user(AGENT)
    other_agent = agent_for(other_user)
    theirs = entered_contract(other_user)
    theirs.customer_id = people["luca"].id
    user = login_as(AGENT)
    agent = agent_for(user)
    mine = entered_contract(user)
    mine.customer_id = people["anna"].id
    db.session.commit()
    assert client.get("/contactview/file").status_code in (302, 403)  # not the staff list
    resp = _file(client, "/mycontactview/file", customer="VRDLCU75B12F205Z", subject="Visita")
    assert resp.status_code == 400
    assert "Nessuno dei tuoi clienti corrisponde" in resp.get_data(as_text=True)
    assert "Verdi" not in resp.get_data(as_text=True).split("Nessuno dei tuoi clienti")[1][:60]
    resp = _file(client, "/mycontactview/file", customer="BNCNNA80A41H501X", subject="Visita",
                 kind="visit", notes="Proposta luce")
    assert resp.status_code == 302
    contact = db.session.scalar(sa.select(Contact))
    assert contact.channel == Channel.AGENT and contact.customer_id == people["anna"].id
    assert contact.operator_id == user.id and other_agent.id != agent.id
    listing = client.get("/mycontactview/list/").get_data(as_text=True)
    assert "Visita" in listing and "Agente" in listing


def test_F23_contacts_are_searched_by_customer(client, login_as, people, make_user, db):
    op, _ = make_user(BACK_OFFICE)
    create_contact(ContactKind.PHONE_CALL, op, customer_id=people["anna"].id, subject="Lettura Anna")
    create_contact(ContactKind.PHONE_CALL, op, customer_id=people["luca"].id, subject="Lettura Luca")
    create_contact(ContactKind.VISIT, op, customer_id=None, subject="Senza cliente")
    login_as(MANAGER)
    for term in ("bianchi", "BNCNNA80A41H501X", "C0004242"):
        page = client.get("/contactview/list/", query_string={"_flt_0_customer": term}).get_data(as_text=True)
        assert "Lettura Anna" in page, term
        assert "Lettura Luca" not in page and "Senza cliente" not in page, term
    search = client.get("/contactview/list/").get_data(as_text=True)
    assert "Cliente (nome, codice, codice fiscale o partita IVA)" in search


def test_F08_call_center_page_shows_the_invoice_email_log(client, login_as, people, db):
    anna, luca = people["anna"], people["luca"]
    sp = factories.supply_point(anna)
    sent = factories.invoice(anna, sp, number="FT-2026-000777")
    refused = factories.invoice(anna, sp, number="FT-2026-000778")
    other = factories.invoice(luca, factories.supply_point(luca), number="FT-2026-000999")
    db.session.add_all([
        InvoiceEmailLog(invoice_id=sent.id, email="anna@example.com", mode=DeliveryMode.PDF,
                        outcome=SendOutcome.SENT, attempts=1, sent_at=utcnow() - dt.timedelta(days=2)),
        InvoiceEmailLog(invoice_id=refused.id, email="anna.old@example.com", mode=DeliveryMode.LINK,
                        outcome=SendOutcome.FAILED, attempts=3, error="550 mailbox unavailable"),
        InvoiceEmailLog(invoice_id=other.id, email="luca@example.com", mode=DeliveryMode.PDF,
                        outcome=SendOutcome.SENT, attempts=1, sent_at=utcnow()),
    ])
    db.session.commit()
    login_as(CALL_CENTER)
    page = client.get(f"/callcenter/customer/{anna.id}").get_data(as_text=True)
    log = page.split("Bollette inviate per e-mail")[1]
    assert "FT-2026-000777" in log and "PDF allegato" in log and "Inviata" in log
    assert "FT-2026-000778" in log and "anna.old@example.com" in log and "Rifiutata" in log
    assert "550 mailbox unavailable" in log
    assert "FT-2026-000999" not in page and "luca@example.com" not in page
    empty = client.get(f"/callcenter/customer/{luca.id}").get_data(as_text=True)
    assert "FT-2026-000999" in empty


def test_F24_contact_statistics_by_kind_channel_operator_and_month(client, login_as, make_user, db):
    ann, _ = make_user(BACK_OFFICE)
    bob, _ = make_user(CALL_CENTER)
    ann.first_name, ann.last_name, bob.first_name, bob.last_name = "Anna", "Operatrice", "Bruno", "Centralino"
    db.session.commit()
    today = dt.date.today()
    this_month = dt.datetime(today.year, today.month, 10, 9)
    last_month = (this_month.replace(day=1) - dt.timedelta(days=1)).replace(day=10)
    made = [(ann, ContactKind.PHONE_CALL, Channel.BACK_OFFICE, this_month),
            (ann, ContactKind.VISIT, Channel.BACK_OFFICE, last_month),
            (bob, ContactKind.PHONE_CALL, Channel.PHONE, this_month),
            (bob, ContactKind.PHONE_CALL, Channel.PHONE, last_month),
            (bob, ContactKind.PHONE_CALL, Channel.PHONE, last_month)]
    for who, kind, channel, when in made:
        create_contact(kind, who, customer_id=None, subject="s", starts_at=when, channel=channel)
    dropped = create_contact(ContactKind.APPOINTMENT, ann, customer_id=None, subject="annullato",
                             starts_at=this_month + dt.timedelta(hours=2))
    cancel_appointment(dropped, ann)
    rep = report(Filters())
    by = {dim: {r.key: r.count for r in rows} for dim, rows in rep.contact_groups.items()}
    assert by["kind"] == {"phone_call": 4, "visit": 1}  # the cancelled appointment is not counted
    assert by["channel"] == {"back_office": 2, "phone": 3}
    assert by["operator"] == {str(ann.id): 2, str(bob.id): 3}
    assert by["month"] == {last_month.strftime("%Y-%m"): 3, this_month.strftime("%Y-%m"): 2}
    only_bob = report(Filters(operator_id=bob.id)).contact_groups["month"]
    assert {r.key: r.count for r in only_bob} == {last_month.strftime("%Y-%m"): 2, this_month.strftime("%Y-%m"): 1}

    login_as(MANAGER)
    page = client.get("/statistics/").get_data(as_text=True)
    for title in ("Contatti per tipo", "Contatti per canale", "Contatti per operatore", "Contatti per mese"):
        assert title in page
    assert "Bruno Centralino" in page
    from flask_babel import force_locale, format_date
    with force_locale("it"):
        assert format_date(this_month.date().replace(day=1), "LLLL yyyy") in page  # "dicembre 2026"
    table = list(csv.reader(io.StringIO(client.get("/statistics/csv").get_data(as_text=True).lstrip("\ufeff")),
                            delimiter=";"))
    rows = {(r[0], r[1]): int(r[3]) for r in table if r[0].startswith("contact_")}
    assert rows[("contact_operator", str(bob.id))] == 3 and rows[("contact_channel", "phone")] == 3
    assert rows[("contact_month", last_month.strftime("%Y-%m"))] == 3
    assert rows[("contact_kind", "phone_call")] == 4
