"""Sessions: idle and absolute timeouts from settings, a new session at sign-in, sign-out by
POST only, deactivation ends every session."""
from __future__ import annotations

import time

from app.roles import BACK_OFFICE
from app.services.core import settings
from tests.conftest import csrf_token, staff_login
from tests.portal.conftest import customer_graph, logged_in  # noqa: F401

STAFF_PAGE = "/customerview/list/"


def _shift(client, **seconds_ago) -> None:
    """Move the session's stamps back in time, as if the user had been away."""
    with client.session_transaction() as sess:
        for key, ago in seconds_ago.items():
            sess[key] = int(time.time()) - ago


def test_sessions_idle_timeout_staff(client, login_as):
    login_as(BACK_OFFICE)
    assert client.get(STAFF_PAGE).status_code == 200
    _shift(client, seen=29 * 60)
    assert client.get(STAFF_PAGE).status_code == 200  # within the 30 minutes
    _shift(client, seen=31 * 60)
    gone = client.get(STAFF_PAGE, follow_redirects=True)
    assert "/login/" in gone.request.path
    assert "inattività" in gone.get_data(as_text=True)
    assert client.get(STAFF_PAGE).status_code == 302


def test_sessions_idle_timeout_from_settings(client, db, login_as):
    login_as(BACK_OFFICE)
    settings.update({"session_idle_minutes": 10})
    _shift(client, seen=11 * 60)
    assert client.get(STAFF_PAGE).status_code == 302


def test_sessions_absolute_timeout_portal(client, logged_in):
    assert client.get("/portal/home").status_code == 200
    _shift(client, iat=12 * 3600 + 60, seen=10)
    gone = client.get("/portal/home", follow_redirects=True)
    assert gone.request.path == "/portal/login"
    assert "durata massima" in gone.get_data(as_text=True)


def test_sessions_idle_timeout_portal(client, logged_in):
    assert client.get("/portal/home").status_code == 200
    _shift(client, seen=29 * 60)
    assert client.get("/portal/home").status_code == 200  # within the 30 minutes
    _shift(client, seen=31 * 60)
    gone = client.get("/portal/home", follow_redirects=True)
    assert gone.request.path == "/portal/login"
    assert "inattività" in gone.get_data(as_text=True)
    assert client.get("/portal/home").status_code == 302


def test_sessions_absolute_timeout_staff_from_settings(client, db, login_as):
    login_as(BACK_OFFICE)
    _shift(client, iat=11 * 3600, seen=10)
    assert client.get(STAFF_PAGE).status_code == 200  # within the 12 hours
    settings.update({"session_absolute_hours": 10})
    gone = client.get(STAFF_PAGE, follow_redirects=True)
    assert "/login/" in gone.request.path
    assert "durata massima" in gone.get_data(as_text=True)


def test_sessions_last_seen_refreshed_once_a_minute(client, login_as):
    login_as(BACK_OFFICE)
    _shift(client, seen=30)
    with client.session_transaction() as sess:
        before = sess["seen"]
    client.get(STAFF_PAGE)
    with client.session_transaction() as sess:
        assert sess["seen"] == before  # not rewritten within the minute
    _shift(client, seen=90)
    client.get(STAFF_PAGE)
    with client.session_transaction() as sess:
        assert sess["seen"] >= int(time.time()) - 5


def test_sessions_new_session_at_sign_in(client, make_user):
    user, password = make_user(BACK_OFFICE)
    client.get("/login/")
    with client.session_transaction() as sess:
        sess["planted"] = "by someone else"
    staff_login(client, user.username, password)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        first = sess["sid"]
    page = client.get("/logout/")
    client.post("/logout/", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    staff_login(client, user.username, password)
    with client.session_transaction() as sess:
        assert sess["sid"] != first


def test_sessions_logout_get_refused(app, client, login_as):
    login_as(BACK_OFFICE)
    copied = client.get_cookie("session").value
    confirm = client.get("/logout/")
    assert confirm.status_code == 200 and "Vuoi uscire" in confirm.get_data(as_text=True)
    assert client.get(STAFF_PAGE).status_code == 200  # a GET (a link from anywhere) signs no one out
    client.post("/logout/", data={})  # no CSRF token: refused
    assert client.get(STAFF_PAGE).status_code == 200
    client.post("/logout/", data={"csrf_token": csrf_token(confirm.get_data(as_text=True))})
    assert client.get(STAFF_PAGE).status_code == 302
    other = app.test_client()
    other.set_cookie("session", copied)
    assert other.get(STAFF_PAGE).status_code == 302  # server-side: the copy is void too


def test_sessions_navbar_logout_is_a_form(client, login_as):
    login_as(BACK_OFFICE)
    page = client.get(STAFF_PAGE).get_data(as_text=True)
    assert 'method="post" action="/logout/"' in page
    assert 'href="/logout/"' not in page


def test_sessions_deactivation_ends_sessions(app, client, db, make_user):
    user, password = make_user(BACK_OFFICE)
    staff_login(client, user.username, password)
    assert client.get(STAFF_PAGE).status_code == 200
    user = db.session.merge(user)
    user.active = False
    db.session.commit()
    assert client.get(STAFF_PAGE).status_code == 302
    user.active = True
    db.session.commit()
    assert client.get(STAFF_PAGE).status_code == 302  # reactivating does not revive the cookie
