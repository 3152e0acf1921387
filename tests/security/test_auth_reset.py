"""F-01 resets under the sign-in policy: the web code only without an e-mail on file, wrong
answers limited per account as well as per address, no username revealed before a valid web code."""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from app.models import OutgoingMail, SportelloUser
from tests import factories as f
from tests.conftest import csrf_token
from tests.portal.conftest import ANSWER, PASSWORD, customer_graph, make_account, post_form  # noqa: F401

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


def test_auth_reset_link_answers_limited_per_account(client, db, customer_graph):
    user = make_account(db, None, customer_graph["customer"])
    post_form(client, "/portal/reset", {"login": user.username})
    sent = db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.template == "password_reset"))
    link = re.search(r"/portal/reset/\S+", sent.context["link"]).group(0)
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
