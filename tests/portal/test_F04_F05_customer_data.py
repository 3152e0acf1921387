"""F-04 personal data (tax code / VAT check digits) and F-05 mailing address per supply point."""
from __future__ import annotations

import html

import sqlalchemy as sa

from app.models import (Activity, ActivityKind, AuditLog, Customer, MailingAddress, OutboxMessage,
                        OutgoingMail)
from tests.portal.conftest import PASSWORD, post_form


def _personal(c, **over):
    data = {k: getattr(c, k) or "" for k in ("last_name", "first_name", "company_name", "tax_code",
                                               "vat_number", "address", "post_code", "city",
                                               "province", "phone", "email")}
    data["birth_date"] = ""
    data.update(over)
    return data


def test_F04_invalid_tax_code_and_vat_number(client, db, logged_in):
    c = logged_in["customer"]
    resp = post_form(client, "/portal/personal-data", _personal(c, tax_code="RSSMRA80A01H501X",
                                                                vat_number="12345678901"))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Il codice fiscale non è valido: controlla i caratteri e la lettera di controllo finale." in body
    assert "La partita IVA non è valida: ha 11 cifre e una cifra di controllo." in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.operation == "update_customer",
                                    OutboxMessage.idempotency_key.like("personal-%"))) == 0


def test_F04_change_is_saved_audited_exported_and_mailed(client, db, logged_in):
    c = logged_in["customer"]
    old_email = c.email
    resp = post_form(client, "/portal/personal-data", _personal(
        c, phone="3331234567", vat_number="01234560017", email="nuovo@example.com",
        current_password=PASSWORD))
    assert resp.status_code == 302
    db.session.expire_all()
    c = db.session.get(Customer, c.id)
    assert (c.phone, c.vat_number, c.email) == ("3331234567", "01234560017", "nuovo@example.com")
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.PERSONAL_DATA))
    assert (f"I tuoi dati sono stati modificati; il sistema di fatturazione sarà aggiornato a breve. "
            f"Numero della richiesta: {a.reference}." in client.get(resp.location).get_data(as_text=True))
    msg = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.activity_id == a.id))
    assert msg.payload == {"customer_code": c.code, "phone": "3331234567",
                           "vat_number": "01234560017", "email": "nuovo@example.com"}
    assert db.session.scalar(sa.select(AuditLog).where(AuditLog.entity_type == "customer",
                                                       AuditLog.action == "update"))
    mails = db.session.scalars(sa.select(OutgoingMail).where(OutgoingMail.template == "email_changed")).all()
    assert sorted(m.recipients[0] for m in mails) == sorted([old_email, "nuovo@example.com"])


def test_F04_nothing_changed(client, db, logged_in):
    resp = post_form(client, "/portal/personal-data", _personal(logged_in["customer"]))
    assert resp.status_code == 302
    assert "Nulla da modificare" in client.get(resp.location).get_data(as_text=True)


def test_F05_mailing_address_per_supply_point(client, db, logged_in):
    sp = logged_in["supply_point"]
    url = f"/portal/supply/{sp.id}/mailing-address"
    missing = post_form(client, url, {"name": "Mario Rossi", "address": "", "post_code": "00100",
                                      "city": "Roma", "province": "RM"})
    assert missing.status_code == 400
    ok = post_form(client, url, {"name": "Mario Rossi", "address": "Via Milano 5", "post_code": "20100",
                                 "city": "Milano", "province": "mi"})
    assert ok.status_code == 302
    ma = db.session.scalar(sa.select(MailingAddress).where(MailingAddress.supply_point_id == sp.id))
    assert (ma.address, ma.city, ma.province) == ("Via Milano 5", "Milano", "MI")
    msg = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.operation == "update_mailing_address"))
    assert msg.payload["supply_point_code"] == sp.code
    assert "Via Milano 5" in client.get(url).get_data(as_text=True)


# --- post code, province and date of birth, checked with clear messages in the user's language -----

import datetime as dt  # noqa: E402

import pytest  # noqa: E402


def _years_ago(years: int, days: int = 0) -> str:
    today = dt.date.today()
    try:
        day = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        day = today.replace(year=today.year - years, day=28)
    return (day + dt.timedelta(days=days)).isoformat()


@pytest.mark.parametrize("field, value, message", [
    ("post_code", "0018", "Il CAP ha esattamente 5 cifre"),
    ("post_code", "00A84", "Il CAP ha esattamente 5 cifre"),
    ("province", "Roma", "Scrivi la provincia con la sua sigla di due lettere"),
    ("province", "XX", "XX non è la sigla di una provincia italiana"),
    ("birth_date", "FUTURE", "La data di nascita non può essere nel futuro."),
    ("birth_date", "MINOR", "deve essere maggiorenne"),
    ("birth_date", "ANCIENT", "più di 120 anni"),
])
def test_F04_post_code_province_and_birth_date_are_checked(client, db, logged_in, field, value, message):
    value = {"FUTURE": (dt.date.today() + dt.timedelta(days=1)).isoformat(),
             "MINOR": _years_ago(18, days=1), "ANCIENT": _years_ago(121)}.get(value, value)
    resp = post_form(client, "/portal/personal-data", _personal(logged_in["customer"], **{field: value}))
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1  # registration's only


def test_F04_plausible_values_pass_normalised(client, db, logged_in):
    c = logged_in["customer"]
    resp = post_form(client, "/portal/personal-data", _personal(c, post_code=" 20121 ", province="mi",
                                                                city="Milano", birth_date=_years_ago(18)))
    assert resp.status_code == 302
    db.session.expire_all()
    c = db.session.get(Customer, c.id)
    assert (c.post_code, c.province, c.birth_date.isoformat()) == ("20121", "MI", _years_ago(18))


def test_F05_mailing_address_post_code_and_province_in_english(client, db, logged_in):
    post_form(client, "/portal/language", {"language": "en", "next": ""}, page_url="/portal/information")
    url = f"/portal/supply/{logged_in['supply_point'].id}/mailing-address"
    resp = post_form(client, url, {"name": "Mario Rossi", "address": "Via Milano 5", "post_code": "201",
                                   "city": "Milano", "province": "ZZ"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "The post code (CAP) has exactly 5 digits, e.g. 00184." in body
    assert "ZZ is not the code of an Italian province" in body
    assert db.session.scalar(sa.select(MailingAddress)) is None


def test_F05_mailing_address_change_is_confirmed_with_its_reference(client, db, logged_in):
    url = f"/portal/supply/{logged_in['supply_point'].id}/mailing-address"
    resp = post_form(client, url, {"name": "Mario Rossi", "address": "Via Milano 5", "post_code": "20121",
                                   "city": "Milano", "province": "MI"})
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.MAILING_ADDRESS))
    assert (f"L'indirizzo di recapito è stato modificato. Numero della richiesta: {a.reference}."
            in html.unescape(client.get(resp.location).get_data(as_text=True)))
    [mail] = [m for m in db.session.scalars(sa.select(OutgoingMail).where(OutgoingMail.template == "request_received"))
              if m.context["reference"] == a.reference]
    assert mail.recipients == [logged_in["customer"].email]
