"""Two-factor sign-in (F-65): enrolment with a QR code, sign-in with a code, replay refused,
recovery codes once, the admin's reset, the roles that must enrol, the code step throttled, and
re-authentication asking the code."""
from __future__ import annotations

import re
import time

import pyotp
import pytest
import sqlalchemy as sa

from app.models import AuditLog, TotpCredential
from app.roles import ADMIN, BACK_OFFICE, MANAGER
from tests.conftest import csrf_token, staff_login
from tests.security.fixtures_auth import security_events, staff_post_login  # noqa: F401


def _secret_from(html: str) -> str:
    match = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', html)
    assert match, "no key on the enrolment page"
    return match.group(1).replace(" ", "")


def _code(secret: str, offset: int = 0) -> str:
    """A real code of the step `offset` steps from now (the server accepts one step either way)."""
    return pyotp.TOTP(secret).at(time.time(), counter_offset=offset)


def _post(client, url: str, data: dict):
    page = client.get(url)
    return client.post(url, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))})


def _require(db, roles: str = "Admin, Manager") -> None:
    from app.services.core import settings

    settings.update({"totp_required_roles": roles}, None)


def _enrol_signed_in(client, password: str) -> tuple[str, list[str]]:
    page = client.get("/two-factor/enrol/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html and 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    secret = _secret_from(html)
    done = client.post("/two-factor/enrol/", data={"current_password": password, "code": _code(secret, -1),
                                                   "csrf_token": csrf_token(html)})
    if done.status_code != 200:  # a time step ended between reading the clock and the check: the
        # previous step again, so a sign-in with the current step's code is still a later step
        done = client.post("/two-factor/enrol/", data={"current_password": password, "code": _code(secret, -1),
                                                       "csrf_token": csrf_token(html)})
    assert done.status_code == 200, done.get_data(as_text=True)[:300]
    codes = re.findall(r"<li>([0-9a-f]{5}-[0-9a-f]{5})</li>", done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def _login_code(client, code: str):
    return _post(client, "/login/code/", {"code": code})


def test_F65_enrolment_and_sign_in_with_code(app, client, make_user, db, security_events):
    user, password = make_user(BACK_OFFICE)
    staff_login(client, user.username, password)
    secret, _ = _enrol_signed_in(client, password)
    row = db.session.get(TotpCredential, user.id)
    assert row.confirmed_at is not None and secret not in row.secret_encrypted  # stored encrypted
    other = app.test_client()
    resp = staff_post_login(other, user.username, password)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/code/")
    assert other.get("/customerview/list/").status_code == 302  # no page before the code
    done = _login_code(other, _code(secret))
    assert done.status_code == 302
    assert other.get("/customerview/list/").status_code == 200
    assert security_events("signin_succeeded")[-1].second_factor == "totp"
    assert not any(secret in r.getMessage() for r in security_events())


def test_F65_wrong_code_refused(app, client, make_user, db, security_events):
    user, password = make_user(BACK_OFFICE)
    staff_login(client, user.username, password)
    secret, _ = _enrol_signed_in(client, password)
    other = app.test_client()
    staff_post_login(other, user.username, password)
    wrong = f"{(int(_code(secret)) + 1) % 1000000:06d}"
    resp = _login_code(other, wrong)
    assert resp.status_code == 200 and "Il codice non è corretto" in resp.get_data(as_text=True)
    assert other.get("/customerview/list/").status_code == 302
    assert security_events("two_factor_failed")


def test_F65_totp_replay_refused(app, client, make_user, db, security_events):
    user, password = make_user(BACK_OFFICE)
    staff_login(client, user.username, password)
    secret, _ = _enrol_signed_in(client, password)  # used the previous step
    code = _code(secret)
    first = app.test_client()
    staff_post_login(first, user.username, password)
    assert _login_code(first, code).status_code == 302
    second = app.test_client()
    staff_post_login(second, user.username, password)
    again = _login_code(second, code)  # the same code, seen over a shoulder
    assert again.status_code == 200 and second.get("/customerview/list/").status_code == 302
    assert security_events("two_factor_replay_refused")
    older = _login_code(second, _code(secret, -1))  # an earlier step than the one used: refused too
    assert older.status_code == 200


def test_F65_recovery_code_works_once(app, client, make_user, db):
    user, password = make_user(BACK_OFFICE)
    staff_login(client, user.username, password)
    _, codes = _enrol_signed_in(client, password)
    first = app.test_client()
    staff_post_login(first, user.username, password)
    done = _login_code(first, codes[3].upper())
    assert done.status_code == 302
    landed = first.get(done.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "codice di recupero: ne restano 9" in landed  # how many are left, told once
    assert first.get("/customerview/list/").status_code == 200
    second = app.test_client()
    staff_post_login(second, user.username, password)
    assert _login_code(second, codes[3]).status_code == 200
    assert second.get("/customerview/list/").status_code == 302


def test_F65_admin_reset_lets_user_sign_in_and_re_enrol(app, client, make_user, db, security_events):
    _require(db)
    user, password = make_user(MANAGER)
    # Forced to enrol right after the password.
    resp = staff_post_login(client, user.username, password)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/two-factor/enrol/")
    html = client.get("/two-factor/enrol/").get_data(as_text=True)
    secret = _secret_from(html)
    assert client.post("/two-factor/enrol/", data={"code": _code(secret), "csrf_token": csrf_token(html)}).status_code == 200
    assert client.get("/customerview/list/").status_code in (200, 403)
    admin, admin_password = make_user(ADMIN)
    desk = app.test_client()
    staff_post_login(desk, admin.username, admin_password)
    html = desk.get("/two-factor/enrol/").get_data(as_text=True)  # the admin enrols too
    admin_secret = _secret_from(html)
    assert desk.post("/two-factor/enrol/", data={"code": _code(admin_secret), "csrf_token": csrf_token(html)}).status_code == 200
    show = desk.get(f"/users/show/{user.id}")
    assert "reset_two_factor" in show.get_data(as_text=True)
    assert desk.get(f"/users/action/reset_two_factor/{user.id}").status_code == 405
    done = desk.post(f"/users/action/reset_two_factor/{user.id}",
                     data={"csrf_token": csrf_token(show.get_data(as_text=True))})
    assert done.status_code == 302
    assert db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "two_factor_reset",
                                                       AuditLog.entity_id == str(user.id)))
    assert security_events("two_factor_reset")
    again = app.test_client()
    resp = staff_post_login(again, user.username, password)
    assert resp.headers["Location"].endswith("/two-factor/enrol/")  # the password, then a new enrolment
    html = again.get("/two-factor/enrol/").get_data(as_text=True)
    new_secret = _secret_from(html)
    assert new_secret != secret
    assert again.post("/two-factor/enrol/", data={"code": _code(new_secret), "csrf_token": csrf_token(html)}).status_code == 200
    assert again.get("/users/userinfo/").status_code == 200


@pytest.mark.parametrize("role", [ADMIN, MANAGER])
def test_F65_admin_and_manager_forced_to_enrol(app, client, make_user, db, role):
    _require(db)
    user, password = make_user(role)
    resp = staff_post_login(client, user.username, password)
    assert resp.headers["Location"].endswith("/two-factor/enrol/")
    for url in ("/customerview/list/", "/users/userinfo/", "/resetmypassword/form"):
        assert client.get(url).status_code == 302  # signed in to nothing before the enrolment
    page = client.get("/two-factor/enrol/").get_data(as_text=True)
    assert "Il tuo ruolo richiede" in page
    other, other_password = make_user(BACK_OFFICE)  # not obliged: the password alone
    third = app.test_client()
    assert staff_post_login(third, other.username, other_password).headers["Location"].endswith("/")


def test_F65_code_step_throttled(app, client, make_user, db, security_events):
    user, password = make_user(BACK_OFFICE)
    staff_login(client, user.username, password)
    secret, _ = _enrol_signed_in(client, password)
    other = app.test_client()
    staff_post_login(other, user.username, password)
    statuses = [_login_code(other, "000000" if _code(secret) != "000000" else "111111").status_code
                for _ in range(6)]
    assert statuses[-1] == 429
    refused = _login_code(other, _code(secret))  # even the right code waits for the lock
    assert refused.status_code == 429 and other.get("/customerview/list/").status_code == 302
    assert security_events("signin_locked")


def test_F65_reauth_asks_the_code(app, client, make_user, db):
    user, password = make_user(BACK_OFFICE)
    staff_login(client, user.username, password)
    secret, _ = _enrol_signed_in(client, password)
    new = "a fresh staff passphrase 2026 ok"
    page = client.get("/resetmypassword/form")
    html = page.get_data(as_text=True)
    assert 'name="current_code"' in html
    refused = client.post("/resetmypassword/form", data={"current_password": password, "password": new,
                                                         "conf_password": new, "csrf_token": csrf_token(html)})
    assert refused.status_code == 200 and "Digita il codice" in refused.get_data(as_text=True)
    done = client.post("/resetmypassword/form", data={"current_password": password, "current_code": _code(secret),
                                                      "password": new, "conf_password": new,
                                                      "csrf_token": csrf_token(html)})
    assert done.status_code == 302
    # Turning it off asks the password and a current code too.
    page = client.get("/two-factor/").get_data(as_text=True)
    wrong = client.post("/two-factor/off", data={"off-current_password": new, "off-code": "",
                                                 "off-csrf_token": csrf_token(page)})
    assert wrong.status_code == 400
    off = client.post("/two-factor/off", data={"off-current_password": new, "off-code": _code(secret, 1),
                                               "off-csrf_token": csrf_token(page)})
    assert off.status_code == 302 and db.session.get(TotpCredential, user.id) is None


def test_F65_totp_code_command_prints_the_code(app, db, make_user):
    from app.services.core import two_factor

    user, _ = make_user(ADMIN)
    two_factor.enrol_with_secret(user, "SPORTELLODEMOADMINTOTPSECRET2345")
    app.config["DEMO_MODE"] = True
    try:
        out = app.test_cli_runner().invoke(args=["sportello", "totp-code", user.username])
    finally:
        app.config["DEMO_MODE"] = False
    assert out.exit_code == 0, out.output
    assert out.output.strip() in {_code("SPORTELLODEMOADMINTOTPSECRET2345", k) for k in (-1, 0, 1)}


# --- the portal: optional for customers --------------------------------------------------------

def _portal_enrol(client) -> str:
    from tests.portal.conftest import PASSWORD

    html = client.get("/portal/account/two-factor/enrol").get_data(as_text=True)
    assert "<svg" in html and 'autocomplete="one-time-code"' in html
    secret = _secret_from(html)
    done = client.post("/portal/account/two-factor/enrol",
                       data={"current_password": PASSWORD, "code": _code(secret, -1), "csrf_token": csrf_token(html)})
    if done.status_code != 200:  # a time step ended between reading the clock and the check: the
        # previous step again, so a sign-in with the current step's code is still a later step
        done = client.post("/portal/account/two-factor/enrol",
                           data={"current_password": PASSWORD, "code": _code(secret, -1), "csrf_token": csrf_token(html)})
    assert done.status_code == 200 and len(re.findall(r"<li>[0-9a-f]{5}-[0-9a-f]{5}</li>", done.get_data(as_text=True))) == 10
    return secret


def test_F65_portal_optional_enrolment_and_sign_in(app, client, db, logged_in):
    from tests.portal.conftest import PASSWORD
    from tests.security.fixtures_auth import portal_post_login

    _require(db)  # the staff rule does not touch customers
    assert "Accesso in due passaggi" in client.get("/portal/account").get_data(as_text=True)
    secret = _portal_enrol(client)
    other = app.test_client()
    resp = portal_post_login(other, logged_in["user"].username, PASSWORD)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/login/code")
    assert other.get("/portal/home").status_code == 302
    done = _post(other, "/portal/login/code", {"code": _code(secret)})
    assert done.status_code == 302 and other.get("/portal/home").status_code == 200


def test_F65_portal_reauth_asks_the_code(app, client, db, logged_in):
    from tests.portal.conftest import PASSWORD, post_form
    from tests.security.test_auth_reauth import _email_on_file, _personal

    secret = _portal_enrol(client)
    c = logged_in["customer"]
    html = client.get("/portal/personal-data").get_data(as_text=True)
    assert 'name="current_code"' in html
    refused = post_form(client, "/portal/personal-data",
                        _personal(c, email="nuovo@example.com", current_password=PASSWORD))
    assert refused.status_code == 400 and "Digita il codice" in refused.get_data(as_text=True)
    assert _email_on_file(db, c.id) != "nuovo@example.com"
    accepted = post_form(client, "/portal/personal-data",
                         _personal(c, email="nuovo@example.com", current_password=PASSWORD,
                                   current_code=_code(secret)))
    assert accepted.status_code == 302 and _email_on_file(db, c.id) == "nuovo@example.com"


def test_F65_portal_api_token_that_submits_readings_asks_the_code(app, client, db, logged_in):
    from app.models import ApiToken, TokenScope
    from tests.portal.conftest import PASSWORD

    tokens = "/portal/account/tokens"
    data = {"name": "Home automation", "scope": "read_readings", "days": "", "current_password": PASSWORD}
    assert 'name="current_code"' not in client.get(tokens).get_data(as_text=True)  # no second factor yet
    secret = _portal_enrol(client)
    assert 'name="current_code"' in client.get(tokens).get_data(as_text=True)
    refused = _post(client, tokens, data)
    assert refused.status_code == 400 and "Digita il codice" in refused.get_data(as_text=True)
    live = {_code(secret, offset) for offset in (-1, 0, 1)}
    wrong = _post(client, tokens, {**data, "current_code": next(c for c in ("000000", "111111") if c not in live)})
    assert wrong.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0
    done = _post(client, tokens, {**data, "current_code": _code(secret)})
    assert done.status_code == 200 and "spt_" in done.get_data(as_text=True)
    assert db.session.scalar(sa.select(ApiToken)).scope == TokenScope.READINGS


def test_F65_portal_api_token_without_two_factor_needs_the_password_only(client, db, logged_in):
    from app.models import ApiToken, TokenScope
    from tests.portal.conftest import PASSWORD

    done = _post(client, "/portal/account/tokens", {"name": "Home automation", "scope": "read_readings",
                                                     "days": "", "current_password": PASSWORD})
    assert done.status_code == 200 and db.session.scalar(sa.select(ApiToken)).scope == TokenScope.READINGS


def _is_enrolled(db, user_id: int) -> bool:
    from app.models import SportelloUser
    from app.services.core import two_factor

    db.session.expire_all()
    return two_factor.is_enrolled(db.session.get(SportelloUser, user_id))


@pytest.mark.parametrize("area", ["staff", "portal"])
def test_F65_enrolment_while_signed_in_needs_the_password(app, client, make_user, db, area, request):
    if area == "staff":
        user, password = make_user(BACK_OFFICE)
        staff_login(client, user.username, password)
        url = "/two-factor/enrol/"
    else:
        from tests.portal.conftest import PASSWORD

        user, password = request.getfixturevalue("logged_in")["user"], PASSWORD
        url = "/portal/account/two-factor/enrol"
    html = client.get(url).get_data(as_text=True)
    secret = _secret_from(html)
    for typed in ("", "not the password at all"):
        refused = client.post(url, data={"current_password": typed, "code": _code(secret, -1),
                                         "csrf_token": csrf_token(html)})
        text = refused.get_data(as_text=True)
        assert refused.status_code == 400 and 'name="current_password"' in text  # the form again
        assert not re.findall(r"<li>[0-9a-f]{5}-[0-9a-f]{5}</li>", text)
        assert not _is_enrolled(db, user.id)
    done = client.post(url, data={"current_password": password, "code": _code(secret), "csrf_token": csrf_token(html)})
    assert done.status_code == 200 and _is_enrolled(db, user.id)


def _recovery_hashes(db, user_id: int) -> set[str]:
    from app.models import TotpRecoveryCode

    db.session.expire_all()
    return set(db.session.scalars(sa.select(TotpRecoveryCode.code_hash).where(
        TotpRecoveryCode.user_id == user_id, TotpRecoveryCode.used_at.is_(None))))


def _enrolled_in(area: str, client, make_user, request) -> tuple[object, str, str, str]:
    """A signed-in user of `area` with two-factor sign-in on: (user, password, secret, the URL of
    the two-factor page, which the change URLs extend)."""
    if area == "staff":
        user, password = make_user(BACK_OFFICE)
        staff_login(client, user.username, password)
        secret, _codes = _enrol_signed_in(client, password)
        return user, password, secret, "/two-factor/"
    from tests.portal.conftest import PASSWORD

    user = request.getfixturevalue("logged_in")["user"]
    return user, PASSWORD, _portal_enrol(client), "/portal/account/two-factor"


@pytest.mark.parametrize("area", ["staff", "portal"])
def test_F65_new_recovery_codes_need_the_password_and_a_code(app, client, make_user, db, area, request):
    from app.models import SportelloUser
    from app.services.core import two_factor

    user, password, secret, manage = _enrolled_in(area, client, make_user, request)
    change = manage.rstrip("/") + "/recovery-codes"
    page = client.get(manage).get_data(as_text=True)
    before = _recovery_hashes(db, user.id)
    for typed, code in (("", _code(secret)), ("not the password at all", _code(secret)), (password, "")):
        refused = client.post(change, data={"rc-current_password": typed, "rc-code": code,
                                            "rc-csrf_token": csrf_token(page)})
        assert refused.status_code == 400
        assert not re.findall(r"<li>[0-9a-f]{5}-[0-9a-f]{5}</li>", refused.get_data(as_text=True))
        assert _recovery_hashes(db, user.id) == before  # the old codes still hold
    done = client.post(change, data={"rc-current_password": password, "rc-code": _code(secret, 1),
                                     "rc-csrf_token": csrf_token(page)})
    codes = re.findall(r"<li>([0-9a-f]{5}-[0-9a-f]{5})</li>", done.get_data(as_text=True))
    assert done.status_code == 200 and len(codes) == 10
    assert _recovery_hashes(db, user.id).isdisjoint(before)
    assert two_factor.recovery_codes_left(db.session.get(SportelloUser, user.id)) == 10


@pytest.mark.parametrize("area", ["staff", "portal"])
def test_F65_turning_two_factor_off_needs_the_password_and_a_code(app, client, make_user, db, area, request):
    from app.models import SportelloUser
    from app.services.core import two_factor

    user, password, secret, manage = _enrolled_in(area, client, make_user, request)
    change = manage.rstrip("/") + "/off"
    page = client.get(manage).get_data(as_text=True)
    for typed, code in (("", _code(secret)), ("not the password at all", _code(secret)), (password, ""),
                        (password, "000000" if _code(secret) != "000000" else "111111")):
        refused = client.post(change, data={"off-current_password": typed, "off-code": code,
                                            "off-csrf_token": csrf_token(page)})
        assert refused.status_code == 400
        db.session.expire_all()
        assert two_factor.is_enrolled(db.session.get(SportelloUser, user.id))  # still on
    done = client.post(change, data={"off-current_password": password, "off-code": _code(secret, 1),
                                     "off-csrf_token": csrf_token(page)}, follow_redirects=True)
    assert done.status_code == 200
    assert "accesso in due passaggi è disattivato" in done.get_data(as_text=True)
    db.session.expire_all()
    assert not two_factor.is_enrolled(db.session.get(SportelloUser, user.id))


def test_F65_a_role_that_requires_two_factor_cannot_turn_it_off(app, client, make_user, db):
    from app.models import SportelloUser
    from app.roles import MANAGER
    from app.services.core import two_factor

    user, password = make_user(MANAGER)
    staff_login(client, user.username, password)
    secret, _codes = _enrol_signed_in(client, password)
    _require(db, "Manager")
    page = client.get("/two-factor/").get_data(as_text=True)
    resp = client.post("/two-factor/off", data={"off-current_password": password, "off-code": _code(secret, 1),
                                               "off-csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "richiede l&#39;accesso in due passaggi: non può essere disattivato" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert two_factor.is_enrolled(db.session.get(SportelloUser, user.id))
