"""F-01 first access and credentials: web code registration, login, changes, reset."""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from app.models import (Activity, ActivityKind, ActivityStatus, OutboxMessage, OutgoingMail,
                        SportelloUser)
from tests import factories as f
from tests.conftest import csrf_token
from tests.portal.conftest import ANSWER, PASSWORD, mailed_reset_link, make_account, portal_login, post_form, \
    received_mail

NEW_PASSWORD = "another long passphrase 42"


def _register(client, **over):
    data = dict(web_code="", identifier="", username="new-customer", password=PASSWORD,
                password_confirm=PASSWORD, question="Prima scuola?", answer=ANSWER, email="")
    data.update(over)
    return post_form(client, "/portal/register", data)


def test_F01_register_with_web_code_and_tax_code(client, db, customer_graph):
    c, inv = customer_graph["customer"], customer_graph["invoice"]
    resp = _register(client, web_code=inv.web_code.lower(), identifier=c.tax_code.lower())
    assert resp.status_code == 302
    user = db.session.scalar(sa.select(SportelloUser).where(SportelloUser.username == "new-customer"))
    assert user.customer_id == c.id and [r.name for r in user.roles] == ["Customer"]
    assert user.security_answer_hash and ANSWER not in user.security_answer_hash
    activity = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.REGISTRATION))
    assert activity.customer_id == c.id and activity.status == ActivityStatus.NEW
    assert db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.activity_id == activity.id))
    mail = db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.template == "registration_confirmed"))
    assert mail.recipients == [c.email]
    assert portal_login(client, "new-customer").status_code == 302


def test_F01_registration_shows_and_mails_its_reference_in_the_customers_language(
        client, db, customer_graph, smtp_server):
    c, inv = customer_graph["customer"], customer_graph["invoice"]
    post_form(client, "/portal/language", {"language": "en", "next": ""}, page_url="/portal/register")
    resp = _register(client, web_code=inv.web_code, identifier=c.tax_code)
    assert resp.status_code == 302
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.REGISTRATION))
    page = client.get(resp.location).get_data(as_text=True)
    assert (f"Your account is ready: sign in with your username and password. "
            f"Reference number: {a.reference}.") in page
    msg = received_mail(smtp_server, a.reference)
    assert msg["To"] == c.email
    assert msg["Subject"] == f"We have received your request {a.reference}"
    assert f"Dear {c.first_name} {c.last_name}," in msg.get_body(("plain",)).get_content()


def test_F01_register_with_customer_code(client, db, customer_graph):
    c, inv = customer_graph["customer"], customer_graph["invoice"]
    assert _register(client, web_code=inv.web_code, identifier=c.code).status_code == 302


def test_F01_wrong_web_code_or_fact_is_refused_alike(client, db, customer_graph):
    c, inv = customer_graph["customer"], customer_graph["invoice"]
    wrong_code = _register(client, web_code="NOPE123456", identifier=c.tax_code)
    wrong_fact = _register(client, web_code=inv.web_code, identifier="RSSMRA80A01H501X")
    for resp in (wrong_code, wrong_fact):
        assert resp.status_code == 200
        assert "Il codice web e i dati" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SportelloUser)
                             .where(SportelloUser.customer_id.is_not(None))) == 0


def test_F01_reused_web_code_is_refused(client, db, customer_graph):
    c, inv = customer_graph["customer"], customer_graph["invoice"]
    assert _register(client, web_code=inv.web_code, identifier=c.tax_code).status_code == 302
    again = _register(client, web_code=inv.web_code, identifier=c.tax_code, username="second-try")
    assert again.status_code == 200 and "Il codice web e i dati" in again.get_data(as_text=True)
    from app.services.portal import accounts
    assert accounts.web_code_used(inv)


def test_F01_web_code_works_once_even_after_account_removal(client, db, customer_graph, app):
    c, inv = customer_graph["customer"], customer_graph["invoice"]
    assert _register(client, web_code=inv.web_code, identifier=c.tax_code).status_code == 302
    user = db.session.scalar(sa.select(SportelloUser).where(SportelloUser.customer_id == c.id))
    db.session.execute(sa.text("DELETE FROM ab_user_role WHERE user_id = :id"), {"id": user.id})
    db.session.execute(sa.update(Activity).values(created_by_id=None))
    db.session.execute(sa.text("DELETE FROM activity_history"))
    db.session.execute(sa.text("UPDATE audit_log SET actor_id = NULL"))
    db.session.delete(user)
    db.session.commit()
    again = _register(client, web_code=inv.web_code, identifier=c.tax_code, username="second-try")
    assert "Il codice web e i dati" in again.get_data(as_text=True)


def test_F01_weak_password_and_taken_username(client, db, customer_graph):
    c, inv = customer_graph["customer"], customer_graph["invoice"]
    weak = _register(client, web_code=inv.web_code, identifier=c.tax_code, password="short",
                     password_confirm="short")
    assert weak.status_code == 200 and "almeno 8 caratteri" in weak.get_data(as_text=True)
    other = f.customer()
    db.session.commit()
    make_account(db, None, other, username="taken-name")
    taken = _register(client, web_code=inv.web_code, identifier=c.tax_code, username="taken-name")
    assert "nome utente è già in uso" in taken.get_data(as_text=True)


def test_F01_login_wrong_password_and_staff_refused(client, db, customer_graph, make_user):
    user = make_account(db, None, customer_graph["customer"])
    bad = portal_login(client, user.username, "wrong password here")
    assert bad.status_code == 200 and "Nome utente o password errati" in bad.get_data(as_text=True)
    staff, staff_pw = make_user("Back office")
    assert portal_login(client, staff.username, staff_pw).status_code == 200
    # ...and the customer cannot use the staff login.
    page = client.get("/login/")
    resp = client.post("/login/", data={"username": user.username, "password": PASSWORD,
                                        "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert client.get("/portal/home").status_code == 302


def test_F01_login_is_rate_limited(client, db, customer_graph):
    user = make_account(db, None, customer_graph["customer"])
    codes = [portal_login(client, user.username, "wrong password here").status_code for _ in range(7)]
    # The sign-in policy (app.services.core.login_policy) locks this address out of the account.
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]


def test_F01_change_password_needs_current_and_mails(client, db, logged_in):
    bad = post_form(client, "/portal/account/password", {
        "pw-current_password": "not it at all", "pw-password": NEW_PASSWORD,
        "pw-password_confirm": NEW_PASSWORD}, page_url="/portal/account")
    assert bad.status_code == 400 and "password attuale non è corretta" in bad.get_data(as_text=True)
    ok = post_form(client, "/portal/account/password", {
        "pw-current_password": PASSWORD, "pw-password": NEW_PASSWORD,
        "pw-password_confirm": NEW_PASSWORD}, page_url="/portal/account")
    assert ok.status_code == 302
    assert client.get("/portal/home").status_code == 200  # this session goes on
    mail = db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.template == "password_changed"))
    assert mail.recipients == [logged_in["customer"].email]
    assert portal_login(client.application.test_client(), logged_in["user"].username, NEW_PASSWORD).status_code == 302


def test_F01_password_change_ends_other_sessions(app, client, db, logged_in):
    other = app.test_client()
    assert portal_login(other, logged_in["user"].username).status_code == 302
    assert other.get("/portal/home").status_code == 200
    post_form(client, "/portal/account/password", {
        "pw-current_password": PASSWORD, "pw-password": NEW_PASSWORD,
        "pw-password_confirm": NEW_PASSWORD}, page_url="/portal/account")
    assert other.get("/portal/home").status_code == 302


def test_F01_change_username_and_question(client, db, logged_in):
    resp = post_form(client, "/portal/account/username", {
        "un-current_password": PASSWORD, "un-username": "renamed-user"}, page_url="/portal/account")
    assert resp.status_code == 302
    resp = post_form(client, "/portal/account/question", {
        "sq-current_password": PASSWORD, "sq-question": "Colore preferito?", "sq-answer": "Blu Notte"},
        page_url="/portal/account")
    assert resp.status_code == 302
    user = db.session.get(SportelloUser, logged_in["user"].id)
    db.session.refresh(user)
    from app.services.portal.accounts import check_answer
    assert user.username == "renamed-user" and check_answer(user, "  bLU notte ")


def test_F01_reset_by_link_needs_the_answer_and_works_once(client, db, customer_graph, smtp_server):
    user = make_account(db, None, customer_graph["customer"])
    unknown = post_form(client, "/portal/reset", {"login": "nobody-here"})
    assert unknown.status_code == 302
    assert client.get(unknown.location).get_data(as_text=True).count("Se un accesso") == 1
    link = mailed_reset_link(client, smtp_server, user.username)
    assert len([m for m in smtp_server.messages if "/reset/" in m.get_body(("plain",)).get_content()]) == 1
    wrong = post_form(client, link, {"answer": "wrong", "password": NEW_PASSWORD,
                                     "password_confirm": NEW_PASSWORD})
    assert wrong.status_code == 200 and "non è valido" in wrong.get_data(as_text=True)
    ok = post_form(client, link, {"answer": "scuola dante ALIGHIERI", "password": NEW_PASSWORD,
                                  "password_confirm": NEW_PASSWORD})
    assert ok.status_code == 302
    assert client.get(link).status_code == 404  # single use
    assert portal_login(client, user.username, NEW_PASSWORD).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingMail)
                             .where(OutgoingMail.template == "password_changed")) == 1


def test_F01_a_web_code_counts_as_newer_by_the_day_in_italy_the_account_was_opened(client, db):
    # Opened at 23:30 UTC on 9 December: already the 10th in Rome. An invoice dated the 10th is
    # not newer than the account; one dated the 11th is.
    c = f.customer(email="")
    db.session.commit()
    user = make_account(db, None, c)
    user.created_on = dt.datetime(2026, 12, 9, 23, 30)
    same_day = f.invoice(c, invoice_date=dt.date(2026, 12, 10), web_code="SAMEDAY001")
    next_day = f.invoice(c, invoice_date=dt.date(2026, 12, 11), web_code="NEXTDAY001")
    db.session.commit()
    data = {"username": user.username, "answer": ANSWER, "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD}
    refused = post_form(client, "/portal/reset/web-code", {**data, "web_code": same_day.web_code})
    assert refused.status_code == 200 and "non è valido" in refused.get_data(as_text=True)
    assert post_form(client, "/portal/reset/web-code", {**data, "web_code": next_day.web_code}).status_code == 302


def test_F01_reset_with_newer_web_code_for_customer_without_email(client, db, smtp_server):
    c = f.customer(email="")
    db.session.commit()
    user = make_account(db, None, c)
    assert user.email.endswith("@invalid")
    from app.services.mailing.mail import deliver_mail

    post_form(client, "/portal/reset", {"login": user.username})
    deliver_mail()
    assert db.session.scalar(sa.select(OutgoingMail.id).where(OutgoingMail.template == "password_reset")) is None
    assert not [m for m in smtp_server.messages if "/reset/" in m.get_body(("plain",)).get_content()]
    old = db.session.scalar(sa.select(f.Invoice).where(f.Invoice.customer_id == c.id))
    newer = f.invoice(c, invoice_date=dt.date.today() + dt.timedelta(days=1), web_code="NEWER00001")
    db.session.commit()
    data = {"username": user.username, "answer": ANSWER, "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD}
    refused = post_form(client, "/portal/reset/web-code", {**data, "web_code": old.web_code})
    assert refused.status_code == 200 and "non è valido" in refused.get_data(as_text=True)
    ok = post_form(client, "/portal/reset/web-code", {**data, "web_code": newer.web_code})
    assert ok.status_code == 302
    again = post_form(client, "/portal/reset/web-code", {**data, "web_code": newer.web_code})
    assert again.status_code == 200  # the web code worked once
    assert portal_login(client, user.username, NEW_PASSWORD).status_code == 302


def test_F01_logout_ends_copies_of_the_session(app, client, db, logged_in):
    copy = app.test_client()
    cookie = client.get_cookie("session")
    copy.set_cookie("session", cookie.value)
    assert copy.get("/portal/home").status_code == 200
    resp = post_form(client, "/portal/logout", {}, page_url="/portal/home")
    assert resp.status_code == 302
    assert copy.get("/portal/home").status_code == 302


def test_F01_a_deactivated_account_loses_its_sessions_for_good(client, db, logged_in):
    assert client.get("/portal/home").status_code == 200
    logged_in["user"].active = False
    db.session.commit()
    resp = client.get("/portal/home")
    assert resp.status_code == 302 and "/portal/login" in resp.headers["Location"]
    logged_in["user"].active = True  # reactivated: the old cookie stays void, a new login works
    db.session.commit()
    assert client.get("/portal/home").status_code == 302
    assert portal_login(client, logged_in["user"].username).status_code == 302
    assert client.get("/portal/home").status_code == 200


def test_F01_registration_form_shows_the_privacy_notice(client, db):
    from app.services.core import settings

    settings.update({"company_name": "Energia Tirrena S.p.A."})
    try:
        page = client.get("/portal/register").get_data(as_text=True)
    finally:
        settings.update({"company_name": ""})
    assert "Come usiamo i tuoi dati" in page
    assert "Il titolare del trattamento è Energia Tirrena S.p.A." in page
    assert "art. 6, par. 1, lett. b GDPR" in page  # the legal basis
    assert "Garante per la protezione dei dati personali" in page  # the right to complain
    assert 'href="/portal/privacy"' in page
