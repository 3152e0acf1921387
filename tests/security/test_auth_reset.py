"""F-01 resets under the sign-in policy: the web code only without an e-mail on file, wrong
answers limited per account as well as per address, no username revealed before a valid web code."""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from app.models import OutgoingMail, SportelloUser
from tests import factories as f
from tests.conftest import csrf_token
from tests.portal.conftest import (ANSWER, PASSWORD, customer_graph, mailed_reset_link, make_account,  # noqa: F401
                                   portal_login, post_form)

NEW_PASSWORD = "another long passphrase 42"


def _post_from(client, url: str, data: dict, ip: str):
    page = client.get(url, environ_base={"REMOTE_ADDR": ip})
    return client.post(url, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))},
                       environ_base={"REMOTE_ADDR": ip})


def test_auth_web_code_reset_only_without_email(client, db):
    c = f.customer()  # an e-mail on file: the reset goes by link
    db.session.commit()
    user = make_account(db, None, c)
    newer = f.invoice(c, invoice_date=dt.date.today() + dt.timedelta(days=1), web_code="NEWER00002")
    db.session.commit()
    refused = post_form(client, "/portal/reset/web-code", {
        "username": user.username, "answer": ANSWER, "web_code": newer.web_code,
        "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert refused.status_code == 200 and "non è valido" in refused.get_data(as_text=True)
    page = client.get("/portal/login")
    signed = client.post("/portal/login", data={"username": user.username, "password": PASSWORD,
                                                "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert signed.status_code == 302  # the old password still works


def test_auth_reset_link_answers_limited_per_account(client, db, customer_graph, smtp_server):
    user = make_account(db, None, customer_graph["customer"])
    link = mailed_reset_link(client, smtp_server, user.username)
    wrong = {"answer": "wrong", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    codes = [_post_from(client, link, wrong, f"192.0.2.{n}").status_code for n in range(1, 7)]
    assert codes[:5] == [200] * 5 and codes[5] == 429  # every address a new one: the account's limit


def test_auth_username_revealed_only_after_valid_web_code(client, db, customer_graph):
    taken = make_account(db, None, customer_graph["customer"])
    other = f.customer()
    inv = f.invoice(other, web_code="WVALID0001")
    db.session.commit()
    data = {"identifier": other.tax_code, "username": taken.username, "password": PASSWORD,
            "password_confirm": PASSWORD, "question": "Prima scuola?", "answer": ANSWER, "email": ""}
    wrong_code = post_form(client, "/portal/register", {**data, "web_code": "NOPE000000"})
    text = wrong_code.get_data(as_text=True)
    assert "Il codice web e i dati" in text and "già in uso" not in text and "taken" not in text
    right_code = post_form(client, "/portal/register", {**data, "web_code": inv.web_code})
    assert right_code.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SportelloUser)
                             .where(SportelloUser.customer_id == other.id)) == 0


def test_auth_reset_link_expires_and_changes_nothing(client, db, customer_graph, smtp_server, monkeypatch):
    from itsdangerous import TimestampSigner

    user = make_account(db, None, customer_graph["customer"])
    link = mailed_reset_link(client, smtp_server, user.username)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + 29 * 60)  # the clock moved
    assert client.get(link).status_code == 200  # within its 30 minutes: the form
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + 31 * 60)
    page = client.get(link)
    assert page.status_code == 404 and "è scaduto" in page.get_data(as_text=True)
    done = client.post(link, data={"answer": ANSWER, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD,
                                   "csrf_token": csrf_token(client.get("/portal/reset").get_data(as_text=True))})
    assert done.status_code == 404 and "è scaduto" in done.get_data(as_text=True)
    monkeypatch.undo()
    assert portal_login(client, user.username, NEW_PASSWORD).status_code == 200  # refused
    assert portal_login(client, user.username, PASSWORD).status_code == 302  # the old one still works
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingMail)
                             .where(OutgoingMail.template == "password_changed")) == 0


def test_auth_web_code_registration_rate_limited(client, db):
    from app.views.portal.auth import REGISTER_LIMIT

    allowed = int(REGISTER_LIMIT.split()[0])
    data = {"web_code": "NOPE000000", "identifier": "RSSMRA80A01H501U", "username": "someone-new",
            "password": PASSWORD, "password_confirm": PASSWORD, "question": "Prima scuola?",
            "answer": ANSWER, "email": ""}
    codes = [_post_from(client, "/portal/register", data, "203.0.113.9").status_code for _ in range(allowed)]
    assert codes == [200] * allowed  # each one refused on its own: the web code matches nothing
    blocked = _post_from(client, "/portal/register", {**data, "web_code": "NOPE000001"}, "203.0.113.9")
    assert blocked.status_code == 429
    text = blocked.get_data(as_text=True)
    assert "Troppi tentativi" in text and 'lang="it"' in text
    other = _post_from(client, "/portal/register", data, "203.0.113.10")
    assert other.status_code == 200  # another address is not blocked


def test_auth_reset_request_same_work_for_known_and_unknown_accounts(client, db, customer_graph, smtp_server):
    """Uniform answers: a request for an unknown account writes what a known one writes (one
    queued request, the same answer); only the sending, away from the request, tells them apart."""
    from app.services.mailing.mail import deliver_mail

    user = make_account(db, None, customer_graph["customer"])
    db.session.execute(sa.delete(OutgoingMail))  # the registration's welcome
    db.session.commit()

    def ask(login: str):
        before = set(db.session.scalars(sa.select(OutgoingMail.id)))
        resp = post_form(client, "/portal/reset", {"login": login})
        db.session.expire_all()
        rows = db.session.scalars(sa.select(OutgoingMail).where(OutgoingMail.id.not_in(before))).all()
        page = client.get(resp.location).get_data(as_text=True)
        return resp.status_code, resp.location, re.sub(r'value="[^"]+"', "", page), \
            [(r.template, r.recipients, sorted(r.context)) for r in rows]

    assert ask("nobody-here") == ask(user.username)
    assert deliver_mail()["sent"] == 1
    assert [m["To"] for m in smtp_server.messages] == [customer_graph["customer"].email]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingMail)) == 1  # the unknown one left nothing
