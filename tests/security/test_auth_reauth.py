"""Re-authentication before a sensitive change: staff type their current password to set a
new one at /resetmypassword/form; customers type theirs to change the e-mail on file or to
request direct debit on a new IBAN, and wrong ones count in the sign-in throttle."""
from __future__ import annotations

import sqlalchemy as sa

from app.models import Customer, DirectDebitMandate, OutgoingMail
from tests.conftest import csrf_token
from tests.portal.conftest import PASSWORD, customer_graph, logged_in, post_form  # noqa: F401  (fixtures)
from tests.security.fixtures_auth import portal_post_login, security_events, staff_post_login  # noqa: F401

NEW = "a fresh staff passphrase 2026 ok"


def _change(client, current: str):
    page = client.get("/resetmypassword/form")
    assert page.status_code == 200
    return client.post("/resetmypassword/form", data={
        "current_password": current, "password": NEW, "conf_password": NEW,
        "csrf_token": csrf_token(page.get_data(as_text=True))})


def test_auth_staff_password_change_needs_current(app, client, make_user):
    user, password = make_user("Back office")
    assert staff_post_login(client, user.username, password).status_code == 302
    page = client.get("/resetmypassword/form").get_data(as_text=True)
    assert 'name="current_password"' in page
    for wrong in ("", "not my password"):
        refused = _change(client, wrong)
        assert refused.status_code == 200
        assert wrong == "" or "La password attuale non è corretta" in refused.get_data(as_text=True)
    other = app.test_client()
    assert staff_post_login(other, user.username, NEW).status_code == 302 and \
        other.get("/customerview/list/").status_code == 302  # the new password was not set
    assert _change(client, password).status_code == 302
    third = app.test_client()
    assert staff_post_login(third, user.username, NEW).status_code == 302
    assert third.get("/customerview/list/").status_code == 200


# --- portal ----------------------------------------------------------------------------------

IBAN = "DE89370400440532013000"


def _personal(customer, **over):
    data = {k: getattr(customer, k) or "" for k in ("last_name", "first_name", "company_name", "tax_code",
                                                      "vat_number", "address", "post_code", "city",
                                                      "province", "phone", "email")}
    return {**data, "birth_date": "", **over}


def _mandate(current: str | None):
    data = {"iban": IBAN, "holder_last_name": "Rossi", "holder_first_name": "Mario", "bank": "Banca Popolare",
            "accept": "y"}
    return data if current is None else {**data, "current_password": current}


def _email_on_file(db, customer_id) -> str:
    db.session.expire_all()
    return db.session.get(Customer, customer_id).email


def test_auth_portal_email_change_needs_current_password(client, db, logged_in, security_events):
    c = logged_in["customer"]
    old = c.email
    refused = post_form(client, "/portal/personal-data", _personal(c, email="nuovo@example.com"))
    assert refused.status_code == 400
    assert "Per confermare questa modifica scrivi la password attuale." in refused.get_data(as_text=True)
    wrong = post_form(client, "/portal/personal-data",
                      _personal(c, email="nuovo@example.com", current_password="not my password"))
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and "La password attuale non è corretta." in body
    assert 'value="nuovo@example.com"' in body  # the form keeps what was typed
    assert _email_on_file(db, c.id) == old
    assert not db.session.scalars(sa.select(OutgoingMail).where(OutgoingMail.template == "email_changed")).all()
    assert [r.username for r in security_events("reauth_failed")] == [logged_in["user"].username]
    # the other data change without the password
    c = db.session.get(Customer, c.id)
    assert post_form(client, "/portal/personal-data", _personal(c, phone="3331234567")).status_code == 302
    c = db.session.get(Customer, c.id)
    accepted = post_form(client, "/portal/personal-data",
                         _personal(c, email="nuovo@example.com", current_password=PASSWORD))
    assert accepted.status_code == 302
    assert _email_on_file(db, c.id) == "nuovo@example.com"


def test_auth_portal_new_iban_needs_current_password(client, db, logged_in):
    url = f"/portal/supply/{logged_in['supply_point'].id}/direct-debit"
    assert 'name="current_password"' in client.get(url).get_data(as_text=True)
    for current, message in ((None, "Per confermare questa modifica scrivi la password attuale."),
                             ("not my password", "La password attuale non è corretta.")):
        refused = post_form(client, url, _mandate(current))
        assert refused.status_code == 400 and message in refused.get_data(as_text=True)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DirectDebitMandate)) == 0
    post_form(client, "/portal/language", {"language": "en"}, page_url=url)
    english = post_form(client, url, _mandate("still not my password"))
    assert "The current password is not correct." in english.get_data(as_text=True)
    accepted = post_form(client, url, _mandate(PASSWORD))
    assert accepted.status_code == 302
    assert db.session.scalar(sa.select(DirectDebitMandate).where(DirectDebitMandate.iban == IBAN)) is not None


def test_auth_portal_wrong_reauth_counts_in_sign_in_throttle(app, client, db, logged_in):
    url = f"/portal/supply/{logged_in['supply_point'].id}/direct-debit"
    for _ in range(5):  # login_policy.PAIR_FAILS wrong passwords from this address
        assert post_form(client, url, _mandate("not my password")).status_code == 400
    locked = post_form(client, url, _mandate(PASSWORD))
    assert locked.status_code == 400 and "Troppe password errate: riprova tra" in locked.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DirectDebitMandate)) == 0
    # the same lock holds on the sign-in form from this address
    assert portal_post_login(app.test_client(), logged_in["user"].username, PASSWORD).status_code == 429


def test_auth_reauth_lock_notice_survives_the_refused_change(app, client, db, logged_in, smtp_server):
    """Wrong current passwords that lock the account roll the change back, not the owner's
    "sign-in locked" e-mail."""
    from app.services.mailing import mail

    url = f"/portal/supply/{logged_in['supply_point'].id}/direct-debit"
    for _ in range(5):  # login_policy.PAIR_FAILS wrong passwords from this address
        assert post_form(client, url, _mandate("not my password")).status_code == 400
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DirectDebitMandate)) == 0
    assert db.session.scalars(sa.select(OutgoingMail).where(OutgoingMail.template == "sign_in_locked")).all()
    mail.deliver_mail()
    [message] = [m for m in smtp_server.messages if "bloccato" in m["Subject"]]
    assert message.envelope_rcpt == [logged_in["customer"].email]
