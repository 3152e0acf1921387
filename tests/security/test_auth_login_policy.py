"""One sign-in policy for every login path: FAB's API login gone, per-address and per-account
locks, growing, the owner told by e-mail, lifted by an admin or by a password reset."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app.models import AuditLog, OutgoingMail
from app.services.core import login_policy
from app.services.mailing import mail
from tests.conftest import csrf_token, staff_login
from tests.portal.conftest import PASSWORD, customer_graph, mailed_reset_link, make_account, post_form  # noqa: F401
from tests.security.fixtures_auth import (STAFF_PASSWORD_WRONG, portal_post_login, security_events,  # noqa: F401
                                          staff_post_login)

ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"


def _lock_out(post, username: str, ip: str = ATTACKER) -> list[int]:
    return [post(username, STAFF_PASSWORD_WRONG, ip).status_code for _ in range(login_policy.PAIR_FAILS)]


def test_auth_api_login_unregistered(client, db, make_user):
    user, password = make_user("Back office")
    for path in ("/api/v1/security/login", "/api/v1/security/refresh"):
        resp = client.post(path, json={"username": user.username, "password": password,
                                       "provider": "db", "refresh": True})
        assert resp.status_code == 404, path
        assert "access_token" not in resp.get_data(as_text=True)


def test_auth_staff_lock_per_address_and_owner_mailed(app, client, db, make_user, smtp_server):
    user, password = make_user("Back office")
    codes = _lock_out(lambda u, p, ip: staff_post_login(client, u, p, ip), user.username)
    assert codes == [302] * login_policy.PAIR_FAILS  # wrong password: back to the form
    locked = staff_post_login(client, user.username, password, ATTACKER)
    assert locked.status_code == 429
    assert "Troppi tentativi di accesso non riusciti" in locked.get_data(as_text=True)
    assert client.get("/users/userinfo/").status_code == 302  # not signed in
    # The owner, from another address, signs in: the lock is per address, not global.
    other = app.test_client()
    assert staff_post_login(other, user.username, password, OWNER).status_code == 302
    assert mail.deliver_mail()["sent"] == 1
    [message] = smtp_server.messages
    assert message.envelope_rcpt == [user.email]
    assert "bloccato" in message["Subject"]
    assert "5" not in message["Subject"] and user.username in message.get_content()


def test_auth_portal_form_same_policy(client, db, customer_graph):
    account = make_account(db, None, customer_graph["customer"])
    post = lambda u, p, ip: portal_post_login(client, u, p, ip)  # noqa: E731
    assert _lock_out(post, account.username) == [200] * login_policy.PAIR_FAILS
    assert portal_post_login(client, account.username, PASSWORD, ATTACKER).status_code == 429
    assert portal_post_login(client, account.username, PASSWORD, OWNER).status_code == 302


def test_auth_unknown_account_answers_alike(client, db, make_user):
    user, _password = make_user("Back office")
    answers = []
    for name in (user.username, "nobody-by-this-name"):
        first = staff_post_login(client, name, STAFF_PASSWORD_WRONG, ATTACKER)
        assert first.status_code == 302
        page = client.get(first.headers["Location"]).get_data(as_text=True)
        answers.append(re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', page, re.S))
        codes = [staff_post_login(client, name, STAFF_PASSWORD_WRONG, ATTACKER).status_code for _ in range(5)]
        assert codes == [302] * (login_policy.PAIR_FAILS - 1) + [429], name
    assert answers[0] and answers[0] == answers[1]


def test_auth_lock_grows_per_address(app, client, db, make_user):
    user, password = make_user("Back office")
    post = lambda u, p, ip: staff_post_login(client, u, p, ip)  # noqa: E731
    _lock_out(post, user.username)
    first = staff_post_login(client, user.username, password, ATTACKER).get_data(as_text=True)
    assert "1 minuti" in first
    # The first lock has run out (its key expires in storage); five more wrong passwords:
    with app.test_request_context():
        gen = login_policy._generation(user.username.lower())
        login_policy._storage().clear(login_policy._key("pair-lock", gen, ATTACKER, user.username.lower()))
    assert staff_post_login(client, user.username, STAFF_PASSWORD_WRONG, ATTACKER).status_code == 302
    _lock_out(post, user.username)
    second = staff_post_login(client, user.username, password, ATTACKER).get_data(as_text=True)
    assert "2 minuti" in second or "4 minuti" in second


def test_auth_account_slowed_from_many_addresses(app, client, db, make_user):
    user, password = make_user("Back office")
    for n in range(login_policy.ACCOUNT_FREE_FAILS + 1):  # each address stays under its own lock
        assert staff_post_login(client, user.username, STAFF_PASSWORD_WRONG, f"192.0.2.{n + 1}").status_code == 302
    # Even the right password from a fresh address waits a while now.
    assert staff_post_login(client, user.username, password, "192.0.2.200").status_code == 429


def test_auth_admin_lifts_lock_audited(app, client, db, make_user):
    user, password = make_user("Back office")
    _lock_out(lambda u, p, ip: staff_post_login(client, u, p, ip), user.username)
    assert staff_post_login(client, user.username, password, ATTACKER).status_code == 429
    admin, admin_pw = make_user("Admin")
    desk = app.test_client()
    staff_login(desk, admin.username, admin_pw)
    show = desk.get(f"/users/show/{user.id}")
    assert show.status_code == 200 and "Sblocca" in show.get_data(as_text=True)
    assert desk.get(f"/users/action/lift_signin_lock/{user.id}").status_code == 405  # never by GET
    done = desk.post(f"/users/action/lift_signin_lock/{user.id}",
                     data={"csrf_token": csrf_token(show.get_data(as_text=True))}, follow_redirects=True)
    assert done.status_code == 200 and "sbloccat" in done.get_data(as_text=True).lower()
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "signin_lock_lifted"))
    assert row.entity_id == str(user.id) and row.actor_id == admin.id
    assert staff_post_login(client, user.username, password, ATTACKER).status_code == 302


def test_auth_reset_link_works_while_locked(client, db, customer_graph, smtp_server):
    account = make_account(db, None, customer_graph["customer"])
    _lock_out(lambda u, p, ip: portal_post_login(client, u, p, ip), account.username)
    assert portal_post_login(client, account.username, PASSWORD, ATTACKER).status_code == 429
    link = mailed_reset_link(client, smtp_server, account.username)
    new_password = "a brand new passphrase 77"
    done = post_form(client, link, {"answer": "Scuola Dante Alighieri", "password": new_password,
                                    "password_confirm": new_password})
    assert done.status_code == 302
    assert portal_post_login(client, account.username, new_password, ATTACKER).status_code == 302


def test_auth_events_logged(client, db, make_user, security_events):
    user, password = make_user("Back office")
    _lock_out(lambda u, p, ip: staff_post_login(client, u, p, ip), user.username)
    staff_post_login(client, user.username, password, ATTACKER)
    staff_post_login(client, user.username, password, OWNER)
    failed = security_events("signin_failed")
    assert len(failed) == login_policy.PAIR_FAILS
    assert {r.ip for r in failed} == {ATTACKER} and {r.username for r in failed} == {user.username.lower()}
    assert all(len(r.request_id) >= 16 for r in failed)
    [lock] = security_events("signin_locked")
    assert lock.ip == ATTACKER
    assert security_events("signin_refused_locked") and security_events("rate_limited")
    [ok] = security_events("signin_succeeded")
    assert ok.ip == OWNER and ok.username == user.username
    logged = " ".join(r.getMessage() for r in security_events())
    assert password not in logged and STAFF_PASSWORD_WRONG not in logged


def test_auth_production_refuses_memory_storage():
    import pytest

    from config import Config

    base = {"SECRET_KEY": "u8Vq-2LmZx9_Qw7!Pa4Rt6Ny3Kc1Hs5Jd0", "PRODUCTION": True,
            "PUBLIC_BASE_URL": "https://sportello.example.it",
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://db/x", "RATELIMIT_STORAGE_URI": "memory://"}
    with pytest.raises(RuntimeError, match="RATELIMIT_STORAGE_URI"):
        Config.finalize(dict(base))
    Config.finalize(dict(base, SINGLE_PROCESS=True))
    Config.finalize(dict(base, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379"))


def test_auth_permission_denial_logged(client, db, login_as, security_events):
    user = login_as("Call center")
    assert client.get("/outboxview/list/").status_code == 403
    [denied] = security_events("permission_denied")
    assert denied.username == user.username and denied.ip == "127.0.0.1" and denied.request_id != "-"


def test_auth_forwarded_for_ignored_without_trusted_proxy(client, db, make_user):
    """SPORTELLO_PROXIES=0 (the default): a client's own X-Forwarded-For changes nothing."""
    user, password = make_user("Back office")
    for n in range(login_policy.PAIR_FAILS):
        page = client.get("/login/")
        client.post("/login/", data={"username": user.username, "password": STAFF_PASSWORD_WRONG,
                                     "csrf_token": csrf_token(page.get_data(as_text=True))},
                    headers={"X-Forwarded-For": f"192.0.2.{n + 1}"})
    page = client.get("/login/")
    again = client.post("/login/", data={"username": user.username, "password": password,
                                         "csrf_token": csrf_token(page.get_data(as_text=True))},
                        headers={"X-Forwarded-For": "192.0.2.99"})
    assert again.status_code == 429


def test_auth_policy_counts_with_rate_limits_turned_off(database_url, tmp_path, app, db, make_user):
    """RATELIMIT_ENABLED=0 turns the request rate limits off, not the sign-in policy: in a
    process whose limiter never started, sign-in works and wrong passwords still lock out."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    user, password = make_user("Back office")
    script = textwrap.dedent(f"""
        from app import create_app
        from config import TestConfig
        from tests.conftest import csrf_token

        class NoLimits(TestConfig):
            SQLALCHEMY_DATABASE_URI = {database_url!r}
            BILLING_WSDL_CACHE_DIR = {str(tmp_path / "wsdl")!r}
            SETTINGS_DEFAULTS = {{"totp_required_roles": ""}}
            RATELIMIT_ENABLED = False

        app = create_app(NoLimits)

        def sign_in(client, password, ip):
            page = client.get("/login/", environ_base={{"REMOTE_ADDR": ip}}).get_data(as_text=True)
            return client.post("/login/", data={{"username": {user.username!r}, "password": password,
                                                "csrf_token": csrf_token(page)}},
                               environ_base={{"REMOTE_ADDR": ip}}).status_code

        owner = app.test_client()
        print("owner", sign_in(owner, {password!r}, "192.0.2.10"), owner.get("/users/userinfo/").status_code)
        attacker = app.test_client()
        print("wrong", *[sign_in(attacker, "wrong password", "198.51.100.7") for _ in range(5)])
        print("right", sign_in(attacker, {password!r}, "198.51.100.7"))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line.split(" ", 1)[0]
                 in ("owner", "wrong", "right"))
    assert lines["owner"] == "302 200"  # signed in
    assert lines["wrong"] == " ".join(["302"] * login_policy.PAIR_FAILS)  # back to the form each time
    assert lines["right"] == "429"  # the address is locked out, rate limits off or not
