"""What the app writes back: stored text escaped on every page, cookies' flags, password hashes."""
from __future__ import annotations

import sqlalchemy as sa

from app.models import Activity
from app.roles import BACK_OFFICE
from tests.portal.conftest import post_form

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_stored_xss_escaped_in_back_office(client, login_as, db):
    resp = post_form(client, "/portal/information", {
        "name": SCRIPT, "question": SCRIPT + " domanda", "email": "v@example.com",
        "phone": "", "postal_address": "", "website": ""})
    assert resp.status_code == 302
    activity = db.session.scalar(sa.select(Activity))
    login_as(BACK_OFFICE)
    for url in ("/activityview/list/", f"/activityview/show/{activity.id}"):
        html = client.get(url).get_data(as_text=True)
        assert "&lt;script&gt;" in html, url
        assert SCRIPT not in html and "<img src=x" not in html, url


def test_cookie_flags_httponly_samesite(client, make_user):
    from tests.conftest import staff_login

    user, password = make_user(BACK_OFFICE)
    page = client.get("/login/")
    cookie = next(c for c in page.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    staff_login(client, user.username, password)


def test_scrypt_hashing_staff_and_customers(app, db, make_user, customer_graph):
    from tests.portal.conftest import make_account

    staff, _ = make_user(BACK_OFFICE)
    customer = make_account(db, app, customer_graph["customer"])
    assert staff.password.startswith("scrypt:") and customer.password.startswith("scrypt:")
