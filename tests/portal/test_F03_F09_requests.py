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
    assert inv.number in listing
    assert "Rettifica bolletta" in listing
    detail = client.get(f"/portal/requests/{a.id}").get_data(as_text=True)
    assert "Nuova" in detail


def test_my_requests_withdraw_an_open_request(client, db, logged_in):
    inv = logged_in["invoice"]
    post_form(client, f"/portal/invoices/{inv.id}/correction",
              {"reason": "Il consumo fatturato è il doppio di quello reale."})
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.INVOICE_CORRECTION))
    resp = post_form(client, f"/portal/requests/{a.id}/withdraw", {}, page_url=f"/portal/requests/{a.id}")
    assert resp.status_code == 302
    db.session.refresh(a)
    assert a.status == ActivityStatus.CANCELLED


# --- words and numbers: subjects as keys, reference numbers, the portal's own error pages --------

def _english(client):
    post_form(client, "/portal/language", {"language": "en", "next": ""}, page_url="/portal/information")


def test_F09_subject_is_stored_as_a_key_and_shown_in_each_language(client, db, logged_in, login_as):
    inv = logged_in["invoice"]
    post_form(client, f"/portal/invoices/{inv.id}/correction",
              {"reason": "Il consumo fatturato è il doppio di quello reale."})
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.INVOICE_CORRECTION))
    assert a.subject == f"@invoice_correction:{inv.number}"
    italian = client.get("/portal/requests").get_data(as_text=True)
    assert f"Rettifica della bolletta {inv.number}" in italian
    _english(client)
    english = client.get("/portal/requests").get_data(as_text=True)
    assert f"Correction of invoice {inv.number}" in english
    assert "Rettifica" not in english
    detail = client.get(f"/portal/requests/{a.id}").get_data(as_text=True)
    assert f"Correction of invoice {inv.number}" in detail
    # the back office shows the subject translated too, never the stored key
    post_form(client, "/portal/logout", {}, page_url="/portal/home")
    login_as("Back office")
    page = client.get(f"/activityview/show/{a.id}").get_data(as_text=True)
    assert f"Correction of invoice {inv.number}" in page  # the session chose English
    assert a.reference in page
    assert "@invoice_correction" not in page
    client.get("/lang/it")  # FAB's own language switch
    listing = client.get("/activityview/list/").get_data(as_text=True)
    assert f"Rettifica della bolletta {inv.number}" in listing
    assert "@invoice_correction" not in listing


def test_F03_subject_typed_by_a_visitor_stays_as_typed(client, db):
    post_form(client, "/portal/information", INFO)
    a = db.session.scalar(sa.select(Activity))
    assert a.subject == INFO["question"]
    assert a.subject_text == INFO["question"]


def test_subject_migration_turns_stored_italian_subjects_into_keys(db):
    """The data migration: product-written subjects become keys; what people typed stays."""
    import importlib.util
    from pathlib import Path

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from tests import factories as f

    c = f.customer()
    db.session.flush()
    rows = {"Autolettura": ActivityKind.SELF_READING, "Rettifica della bolletta FT2026/000042":
            ActivityKind.INVOICE_CORRECTION, "Variazione recapito": ActivityKind.MAILING_ADDRESS,
            "Personal data change": ActivityKind.PERSONAL_DATA, "Bolletta di ottobre troppo alta":
            ActivityKind.INVOICE_CORRECTION}
    ids = {}
    for subject, kind in rows.items():
        act = Activity(kind=kind, customer_id=c.id, subject=subject)
        db.session.add(act)
        db.session.flush()
        ids[subject] = act.id
    from app.models import Contact, ContactKind

    call = Contact(kind=ContactKind.PHONE_CALL, customer_id=c.id, subject="Telefonata")
    typed = Contact(kind=ContactKind.PHONE_CALL, customer_id=c.id, subject="Telefonata per il contatore")
    db.session.add_all([call, typed])
    db.session.commit()
    path = next(Path("migrations/versions").glob("wo01a7c3e5d2_*.py"))
    spec = importlib.util.spec_from_file_location("subject_keys", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with db.engine.begin() as conn:
        with Operations.context(MigrationContext.configure(conn)):
            module.upgrade()
    db.session.expire_all()
    stored = {s: db.session.get(Activity, i).subject for s, i in ids.items()}
    assert stored == {"Autolettura": "@kind", "Rettifica della bolletta FT2026/000042":
                      "@invoice_correction:FT2026/000042", "Variazione recapito": "@kind",
                      "Personal data change": "@kind",
                      "Bolletta di ottobre troppo alta": "Bolletta di ottobre troppo alta"}
    assert db.session.get(Activity, ids["Autolettura"]).subject_text == "Autolettura"
    assert (db.session.get(Contact, call.id).subject, db.session.get(Contact, typed.id).subject) \
        == ("@kind", "Telefonata per il contatore")


def test_F03_reference_number_on_confirmation_list_detail_and_mail(client, db, logged_in, smtp_server):
    from app.services.mailing import mail

    resp = post_form(client, "/portal/information", {**INFO, "email": "", "phone": "061234567"})
    assert resp.status_code == 302
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.INFORMATION_REQUEST))
    reference = a.reference
    import datetime as dt
    from zoneinfo import ZoneInfo

    year_in_rome = a.created_at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo("Europe/Rome")).year
    assert reference == f"RIC-{year_in_rome}-{a.id:06d}"
    confirmation = client.get(resp.location).get_data(as_text=True)
    assert f"Il numero della richiesta è {reference}" in confirmation
    assert reference in client.get("/portal/requests").get_data(as_text=True)
    assert reference in client.get(f"/portal/requests/{a.id}").get_data(as_text=True)
    mail.deliver_mail()
    sent = [m for m in smtp_server.messages if reference in m["Subject"]]
    assert [m["To"] for m in sent] == [logged_in["customer"].email]
    body = sent[0].get_body(("plain",)).get_content()
    assert reference in body
    assert f"Gentile {logged_in['customer'].first_name} {logged_in['customer'].last_name}," in body


def test_F03_visitor_gets_the_reference_by_mail_in_english(client, db, smtp_server):
    from app.services.mailing import mail

    _english(client)
    resp = post_form(client, "/portal/information", INFO)
    a = db.session.scalar(sa.select(Activity))
    assert f"Its reference number is {a.reference}" in client.get(resp.location).get_data(as_text=True)
    mail.deliver_mail()
    [msg] = [m for m in smtp_server.messages if a.reference in m["Subject"]]
    assert msg["To"] == INFO["email"]
    assert msg["Subject"] == f"We have received your request {a.reference}"
    assert "Dear Anna Bianchi," in msg.get_body(("plain",)).get_content()


def test_F03_rate_limit_answers_with_the_portal_page(client, db):
    for _ in range(5):
        post_form(client, "/portal/information", INFO)
    resp = post_form(client, "/portal/information", INFO)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0  # when to try again, from the rate limiter
    assert '<html lang="it">' in body
    assert "Troppi tentativi" in body
    assert 'href="/portal/"' in body  # a way back
    assert "Too Many Requests" not in body
