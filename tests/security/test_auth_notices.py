"""Notice e-mail on a credential change: the customer is told of a password change (at the
address on file), of an e-mail change (at the old and the new address) and of a request for
direct debit on a new IBAN, so that a change made by someone else does not go unnoticed."""
from __future__ import annotations

import sqlalchemy as sa

from app.models import OutgoingMail
from tests.conftest import csrf_token
from tests.portal.conftest import PASSWORD, post_form
from tests.security.test_auth_reauth import _mandate, _personal


def _recipients(db, template: str) -> list[str]:
    rows = db.session.scalars(sa.select(OutgoingMail).where(OutgoingMail.template == template)).all()
    return sorted(address for row in rows for address in row.recipients)


def test_notice_email_on_password_email_and_iban_changes(client, db, logged_in):
    c, sp = logged_in["customer"], logged_in["supply_point"]
    old = c.email
    changed = post_form(client, "/portal/personal-data",
                        _personal(c, email="nuovo@example.com", current_password=PASSWORD))
    assert changed.status_code == 302
    assert _recipients(db, "email_changed") == sorted([old, "nuovo@example.com"])
    assert post_form(client, f"/portal/supply/{sp.id}/direct-debit", _mandate(PASSWORD)).status_code == 302
    assert _recipients(db, "iban_changed") == ["nuovo@example.com"]
    new = "a fresh customer passphrase for 2027"
    html = client.get("/portal/account").get_data(as_text=True)
    resp = client.post("/portal/account/password", data={
        "pw-current_password": PASSWORD, "pw-password": new, "pw-password_confirm": new,
        "pw-csrf_token": csrf_token(html)})
    assert resp.status_code == 302
    assert _recipients(db, "password_changed") == ["nuovo@example.com"]
