"""F-61 personal API tokens: created in the portal (shown once, stored hashed), scoped, expiring,
revoked by the customer or with the account, listed for staff, audited."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from app.models import ApiToken, AuditLog, TokenScope
from tests.conftest import csrf_token
from tests.portal.conftest import PASSWORD

from .conftest import bearer, forget_cookies as _forget_cookies, make_token

TOKENS = "/portal/account/tokens"


def _create(client, **data):
    page = client.get(TOKENS)
    assert page.status_code == 200
    return client.post(TOKENS, data={"scope": "read_only", "days": "", "current_password": "", **data,
                                     "csrf_token": csrf_token(page.get_data(as_text=True))})


def test_F61_token_created_in_portal_is_shown_once_and_stored_hashed(client, db, logged_in):
    resp = _create(client, name="My spreadsheet")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    secret = re.search(r'value="(spt_[A-Za-z0-9_-]+)"', html).group(1)
    assert "shown only this once" in html or "mostrato solo questa volta" in html
    token = db.session.scalar(sa.select(ApiToken))
    assert token.name == "My spreadsheet" and token.scope == TokenScope.READ
    assert secret not in (token.secret_hash, token.prefix) and secret.startswith(token.prefix)
    # The list shows it without the secret, and the secret works on the API.
    listing = client.get(TOKENS).get_data(as_text=True)
    assert "My spreadsheet" in listing and secret not in listing
    _forget_cookies(client)
    me = client.get("/api/portal/v1/me", headers=bearer(secret))
    assert me.status_code == 200 and me.json["code"] == logged_in["customer"].code
    db.session.refresh(token)
    assert token.last_used_at is not None
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.entity_type == "api_token"))
    assert audit.action == "create" and secret not in str(audit.changes)


def test_F61_write_scoped_token_needs_the_current_password(client, db, logged_in):
    resp = _create(client, name="Home automation", scope="read_readings")
    assert resp.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0
    resp = _create(client, name="Home automation", scope="read_readings", current_password="wrong one")
    assert resp.status_code == 400 and db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0
    resp = _create(client, name="Home automation", scope="read_readings", current_password=PASSWORD)
    assert resp.status_code == 200
    assert db.session.scalar(sa.select(ApiToken)).scope == TokenScope.READINGS


def test_F61_read_only_token_cannot_submit_readings(client, db, logged_in):
    _t, secret = make_token(logged_in["user"], TokenScope.READ)
    _forget_cookies(client)
    sp, meter = logged_in["supply_point"], logged_in["meter"]
    resp = client.post(f"/api/portal/v1/supply-points/{sp.id}/readings",
                       headers={**bearer(secret), "Accept-Language": "en"},
                       json={"meter_id": meter.id, "reading_date": dt.date.today().isoformat(), "value": 1250})
    assert resp.status_code == 403 and resp.mimetype == "application/problem+json"
    assert "read" in resp.json["detail"]


def test_F61_revoked_and_expired_tokens_no_longer_work(client, db, logged_in):
    token, secret = make_token(logged_in["user"], days=1)
    _forget_cookies(client)
    assert client.get("/api/portal/v1/balance", headers=bearer(secret)).status_code == 200
    token.expires_at = dt.datetime(2020, 1, 1)
    db.session.commit()
    expired = client.get("/api/portal/v1/balance", headers=bearer(secret))
    assert expired.status_code == 401 and expired.headers["WWW-Authenticate"].startswith("Bearer")
    # Revoked from the portal.
    from tests.portal.conftest import portal_login

    token2, secret2 = make_token(logged_in["user"], name="second")
    portal_login(client, logged_in["user"].username)
    page = client.get(TOKENS).get_data(as_text=True)
    resp = client.post(f"{TOKENS}/{token2.id}/revoke", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    _forget_cookies(client)
    assert client.get("/api/portal/v1/balance", headers=bearer(secret2)).status_code == 401
    actions = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.entity_type == "api_token")).all()
    assert sorted(actions) == ["create", "create", "revoke"]


def test_F61_customer_cannot_revoke_another_customers_token(client, db, two_customers):
    from tests.portal.conftest import portal_login

    b_token = db.session.scalar(sa.select(ApiToken).where(ApiToken.customer_id == two_customers["b"]["customer"].id))
    portal_login(client, two_customers["a"]["user"].username)
    page = client.get(TOKENS).get_data(as_text=True)
    assert client.post(f"{TOKENS}/{b_token.id}/revoke", data={"csrf_token": csrf_token(page)}).status_code == 404
    db.session.refresh(b_token)
    assert b_token.revoked_at is None


def test_F61_deactivating_the_account_revokes_its_tokens(client, db, logged_in):
    token, secret = make_token(logged_in["user"])
    user = logged_in["user"]
    user.active = False
    db.session.commit()
    db.session.refresh(token)
    assert token.revoked_at is not None
    _forget_cookies(client)
    assert client.get("/api/portal/v1/me", headers=bearer(secret)).status_code == 401
    # Reactivating the account does not revive the token.
    user.active = True
    db.session.commit()
    assert client.get("/api/portal/v1/me", headers=bearer(secret)).status_code == 401


def test_F61_staff_see_tokens_without_the_secret(client, db, login_as, logged_in):
    token, secret = make_token(logged_in["user"], name="Chatbot")
    _forget_cookies(client)
    login_as("Back office")
    page = client.get("/apitokenview/list/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Chatbot" in html and token.prefix in html
    assert secret not in html and token.secret_hash not in html
    shown = client.get(f"/apitokenview/show/{token.id}").get_data(as_text=True)
    assert "Chatbot" in shown and token.secret_hash not in shown


def test_F61_bad_authorization_header_is_a_problem_not_a_crash(client, db):
    for header in ("Basic abc", "Bearer", "Bearer spt_nope", "Bearer " + "x" * 500):
        resp = client.get("/api/portal/v1/me", headers={"Authorization": header})
        assert resp.status_code == 401 and resp.mimetype == "application/problem+json", header


def test_F61_customer_back_office_page_lists_the_tokens(client, db, login_as, logged_in):
    token, secret = make_token(logged_in["user"], name="Chatbot aziendale")
    _forget_cookies(client)
    login_as("Call center")
    html = client.get(f"/customerview/show/{logged_in['customer'].id}").get_data(as_text=True)
    assert "Chatbot aziendale" in html and secret not in html
