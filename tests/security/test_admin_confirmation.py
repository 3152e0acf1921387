"""An administrator confirms with their own password (and code, when enrolled) before setting
another user's password or changing where that user's sign-in and reset e-mails go: an
unattended admin session is not enough to take over an account. Names, roles and the active
flag change without it."""
from __future__ import annotations

import logging
import time

import pyotp
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from app.models import SportelloUser
from app.roles import ADMIN, BACK_OFFICE
from app.services.core import two_factor
from tests.conftest import csrf_token, staff_login

NEW = "a brand new long passphrase 2026"


def _user(db, user_id) -> SportelloUser:
    db.session.expire_all()
    return db.session.get(SportelloUser, user_id)


def _admin(client, make_user):
    admin, password = make_user(ADMIN)
    staff_login(client, admin.username, password)
    return admin, password


def test_admin_sets_a_password_only_after_typing_their_own(client, db, make_user, caplog):
    other, old = make_user(BACK_OFFICE)
    admin, admin_password = _admin(client, make_user)
    url = f"/resetpassword/form?pk={other.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'name="current_password"' in page and "La tua password" in page
    for typed in ("", "not my password"):
        refused = client.post(url, data={"password": NEW, "conf_password": NEW, "current_password": typed,
                                         "csrf_token": csrf_token(page)})
        assert refused.status_code == 200 and 'name="current_password"' in refused.get_data(as_text=True)
        assert check_password_hash(_user(db, other.id).password, old)  # nothing changed
    assert "La password attuale non è corretta." in refused.get_data(as_text=True)
    with caplog.at_level(logging.INFO, logger="sportello.security"):
        done = client.post(url, data={"password": NEW, "conf_password": NEW, "current_password": admin_password,
                                      "csrf_token": csrf_token(page)})
    assert done.status_code == 302
    assert check_password_hash(_user(db, other.id).password, NEW)
    assert any(getattr(r, "event", "") == "password_set_by_admin" and r.username == other.username
               and getattr(r, "by", "") == admin.username for r in caplog.records)
    assert client.get("/resetpassword/form?pk=999999").status_code == 404
    missing = client.post("/resetpassword/form?pk=999999", data={
        "password": NEW, "conf_password": NEW, "current_password": admin_password, "csrf_token": csrf_token(page)})
    assert missing.status_code == 404


def test_admin_enrolled_in_two_factor_also_types_a_code(client, db, make_user):
    other, old = make_user(BACK_OFFICE)
    admin, admin_password = make_user(ADMIN)
    secret = "SPORTELLOTESTADMINSECRET234567AB"
    two_factor.enrol_with_secret(admin, secret)
    db.session.commit()
    page = client.get("/login/").get_data(as_text=True)
    client.post("/login/", data={"username": admin.username, "password": admin_password,
                                 "csrf_token": csrf_token(page)})
    code_page = client.get("/login/code/").get_data(as_text=True)
    signed_in = client.post("/login/code/", data={"code": pyotp.TOTP(secret).at(time.time(), counter_offset=-1),
                                                  "csrf_token": csrf_token(code_page)})
    assert signed_in.status_code == 302
    url = f"/resetpassword/form?pk={other.id}"
    page = client.get(url).get_data(as_text=True)
    no_code = client.post(url, data={"password": NEW, "conf_password": NEW, "current_password": admin_password,
                                     "csrf_token": csrf_token(page)})
    assert no_code.status_code == 200 and check_password_hash(_user(db, other.id).password, old)
    done = client.post(url, data={"password": NEW, "conf_password": NEW, "current_password": admin_password,
                                  "current_code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)})
    assert done.status_code == 302 and check_password_hash(_user(db, other.id).password, NEW)


def _edit_form(client, user_id) -> tuple[str, dict]:
    import lxml.html

    html = client.get(f"/users/edit/{user_id}").get_data(as_text=True)
    form = lxml.html.fromstring(html).xpath("//form[.//input[@name='email']]")[0]
    data = {}
    for field in form.xpath(".//input[@name]|.//select[@name]"):
        name = field.get("name")
        if field.tag == "select":
            data[name] = [o.get("value") for o in field.xpath(".//option[@selected]")]
        elif field.get("type") == "checkbox":
            if field.get("checked") is not None:
                data[name] = field.get("value") or "y"
        else:
            data[name] = field.get("value") or ""
    return html, data


def test_changing_another_users_email_asks_for_the_admins_password(client, db, make_user, caplog):
    other, _ = make_user(BACK_OFFICE)
    admin, admin_password = _admin(client, make_user)
    html, data = _edit_form(client, other.id)
    assert 'name="current_password"' in html
    # A name changes without the confirmation.
    renamed = client.post(f"/users/edit/{other.id}", data={**data, "first_name": "Renamed"})
    assert renamed.status_code == 302 and _user(db, other.id).first_name == "Renamed"
    html, data = _edit_form(client, other.id)
    before = _user(db, other.id).email
    for typed, message in (("", "Digita la tua password per cambiare l'indirizzo e-mail o il nome utente"),
                           ("wrong password", "La password attuale non è corretta.")):
        refused = client.post(f"/users/edit/{other.id}", data={**data, "email": "taken-over@example.com",
                                                                "current_password": typed})
        page = refused.get_data(as_text=True).replace("&#39;", "'")
        assert refused.status_code == 200 and message in page, message
        assert _user(db, other.id).email == before
    renamed_user = client.post(f"/users/edit/{other.id}", data={**data, "username": "someone-else"})
    assert renamed_user.status_code == 200 and _user(db, other.id).username == other.username
    with caplog.at_level(logging.INFO, logger="sportello.security"):
        done = client.post(f"/users/edit/{other.id}", data={**data, "email": "new-address@example.com",
                                                             "current_password": admin_password})
    assert done.status_code == 302
    assert _user(db, other.id).email == "new-address@example.com"
    assert any(getattr(r, "event", "") == "user_edited_by_admin" and getattr(r, "by", "") == admin.username
               for r in caplog.records)
    stored = db.session.scalar(sa.select(SportelloUser).where(SportelloUser.id == other.id))
    assert not hasattr(stored, "current_password")
