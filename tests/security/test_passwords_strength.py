"""Password strength on every path: zxcvbn's estimate with the account's own words, its list of
30,000 common passwords, at least 8 characters, up to 128 accepted, no composition rules."""
from __future__ import annotations

import pytest
from flask_appbuilder.exceptions import PasswordComplexityValidationError

from app.passwords import password_complexity
from app.roles import ADMIN, BACK_OFFICE
from tests.conftest import csrf_token, staff_login

WEAK = ["password12", "sportello2026", "qwertyuiop", "Password123!", "1234567890", "iloveyou123"]
STRONG = ["correct horse battery staple", "tre gatti neri sul tetto di via Roma",
          "zanzara-lampione-7-violino", "a" + "x9Kq" * 31]  # 125 characters


@pytest.mark.parametrize("password", WEAK)
def test_password_strength_refuses_common_and_guessable(app, password):
    with app.test_request_context():
        with pytest.raises(PasswordComplexityValidationError):
            password_complexity(password)


@pytest.mark.parametrize("password", STRONG)
def test_password_strength_accepts_passphrases_without_composition_rules(app, password):
    with app.test_request_context():
        password_complexity(password)  # lower-case only, no digits: fine when long and unusual


def test_password_strength_length_limits(app):
    with app.test_request_context():
        with pytest.raises(PasswordComplexityValidationError, match="almeno 8 caratteri"):
            password_complexity("Kq9!zX2")  # 7 characters: short
        password_complexity("Kq9!zX2mT")  # 9 unguessable characters pass
        password_complexity("vulcano fragola tamburo " * 2 + "ok" * 10)  # 68 characters accepted
        with pytest.raises(PasswordComplexityValidationError):
            password_complexity("x9Kq" * 33)  # 132 > 128


def test_password_strength_common_list_is_large_and_shipped():
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    assert len(FREQUENCY_LISTS["passwords"]) >= 10_000


def test_password_strength_uses_the_accounts_own_words(app):
    own = "ermenegilda.quartararo1987"
    with app.test_request_context():
        password_complexity(own)  # unusual words for a stranger ...
        with pytest.raises(PasswordComplexityValidationError):
            password_complexity(own, ["Ermenegilda", "Quartararo", "ermenegilda.quartararo@example.com"])
    with app.test_request_context(method="POST", data={"first_name": "Ermenegilda", "last_name": "Quartararo"}):
        with pytest.raises(PasswordComplexityValidationError):
            password_complexity(own)  # ... not for her: FAB's forms carry the names


def test_password_strength_staff_own_change(client, login_as):
    login_as(BACK_OFFICE)
    page = client.get("/resetmypassword/form")
    assert page.status_code == 200
    resp = client.post("/resetmypassword/form", data={
        "password": "sportello2026", "conf_password": "sportello2026",
        "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert resp.status_code == 200 and "facile da indovinare" in resp.get_data(as_text=True)


def test_password_strength_admin_sets_a_password(client, make_user):
    other, _ = make_user(BACK_OFFICE)
    admin, admin_password = make_user(ADMIN)
    staff_login(client, admin.username, admin_password)
    url = f"/users/action/resetpasswords/{other.id}"
    page = client.get(f"/resetpassword/form?pk={other.id}")
    assert page.status_code == 200, url
    resp = client.post(f"/resetpassword/form?pk={other.id}", data={
        "password": "password12", "conf_password": "password12", "current_password": admin_password,
        "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert resp.status_code == 200 and "facile da indovinare" in resp.get_data(as_text=True)


def test_password_strength_fab_user_add_form(client, db, login_as):
    import re

    import sqlalchemy as sa

    from app.models import SportelloUser

    login_as(ADMIN)
    html = client.get("/users/add").get_data(as_text=True)
    role = dict((name, pk) for pk, name in re.findall(r'<option value="(\d+)">([^<]+)</option>', html))[BACK_OFFICE]
    data = {"first_name": "Nuovo", "last_name": "Impiegato", "username": "nuovo-impiegato",
            "email": "nuovo@example.com", "active": "y", "roles": role, "csrf_token": csrf_token(html)}
    refused = client.post("/users/add", data={**data, "password": "password123", "conf_password": "password123"})
    assert refused.status_code == 200 and "troppo comune" in refused.get_data(as_text=True)
    created = lambda: db.session.scalar(sa.select(SportelloUser).where(  # noqa: E731
        SportelloUser.username == "nuovo-impiegato"))
    assert created() is None
    good = "tre gatti neri sul tetto di via Roma"
    accepted = client.post("/users/add", data={**data, "password": good, "conf_password": good})
    assert accepted.status_code == 302 and created() is not None


def test_password_strength_init_command_admin_password(tmp_path):
    """`flask sportello init` refuses a weak first admin password (option or prompt alike: both
    go through the same check) and creates nobody."""
    import os
    import sqlite3
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    db_file = tmp_path / "init.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "SPORTELLO_"))}
    env.update(SPORTELLO_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{db_file}", SCHEDULER_ENABLED="0",
               SECRET_KEY="init-command-test-key-0123456789abcdef", SPORTELLO_ADMIN_USERNAME="admin",
               SPORTELLO_ADMIN_EMAIL="admin@example.com", SPORTELLO_ADMIN_PASSWORD="password123",
               PYTHONPATH=str(root))
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "app.py", "sportello", "init"]
    done = subprocess.run(flask, cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "Error: Questa password è troppo comune" in done.stderr, done.stderr[-800:]
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT count(*) FROM ab_user").fetchone()[0] == 0


def test_password_strength_portal_registration(client, db, customer_graph):
    from tests import factories as f
    from tests.portal.conftest import post_form

    inv = f.invoice(customer_graph["customer"], web_code="WSTRONG001")
    db.session.commit()
    data = {"web_code": "WSTRONG001", "identifier": customer_graph["customer"].tax_code,
            "username": "mario-weak", "password": "sportello2026", "email": "",
            "question": "Prima scuola?", "answer": "Scuola Dante"}
    resp = post_form(client, "/portal/register", data)
    assert resp.status_code == 200 and "facile da indovinare" in resp.get_data(as_text=True)
    assert inv is not None


def _password_is(db, user_id: int, password: str) -> bool:
    from werkzeug.security import check_password_hash

    from app.models import SportelloUser

    db.session.expire_all()
    return check_password_hash(db.session.get(SportelloUser, user_id).password, password)


def test_password_strength_portal_change(client, db, logged_in):
    from tests.portal.conftest import PASSWORD, post_form

    resp = post_form(client, "/portal/account/password", {
        "pw-current_password": PASSWORD, "pw-password": "sportello2026", "pw-password_confirm": "sportello2026"},
        page_url="/portal/account")
    assert resp.status_code in (200, 400) and "facile da indovinare" in resp.get_data(as_text=True)
    assert _password_is(db, logged_in["user"].id, PASSWORD)  # unchanged


def test_password_strength_portal_reset_by_link(client, db, customer_graph, smtp_server):
    from tests.portal.conftest import ANSWER, PASSWORD, mailed_reset_link, make_account, post_form

    user = make_account(db, None, customer_graph["customer"])
    link = mailed_reset_link(client, smtp_server, user.username)
    resp = post_form(client, link, {"answer": ANSWER, "password": "sportello2026", "password_confirm": "sportello2026"})
    assert resp.status_code == 200 and "facile da indovinare" in resp.get_data(as_text=True)
    assert _password_is(db, user.id, PASSWORD)
    assert client.get(link).status_code == 200  # the link is still unused


def test_password_strength_portal_reset_by_web_code(client, db):
    import datetime as dt

    from tests import factories as f
    from tests.portal.conftest import ANSWER, PASSWORD, make_account, post_form

    c = f.customer(email="")  # no e-mail on file: the reset goes by web code
    db.session.commit()
    user = make_account(db, None, c)
    newer = f.invoice(c, invoice_date=dt.date.today() + dt.timedelta(days=1), web_code="WSTRONG002")
    db.session.commit()
    resp = post_form(client, "/portal/reset/web-code", {
        "username": user.username, "answer": ANSWER, "web_code": newer.web_code,
        "password": "sportello2026", "password_confirm": "sportello2026"})
    assert resp.status_code == 200 and "facile da indovinare" in resp.get_data(as_text=True)
    assert _password_is(db, user.id, PASSWORD)
