"""Security headers on every page, back office included: a per-request nonce CSP with no
'unsafe-inline' for scripts, frame-ancestors 'self', no-store, nosniff, Referrer-Policy; HSTS and
`__Host-` cookies in production (not in the demo over HTTP)."""
from __future__ import annotations

import re

import pytest

from config import Config
from app.roles import ADMIN, BACK_OFFICE, MANAGER

GOOD_KEY = "Zq3v_8LkP2mW9xR4tY7uB1nC6eH5jF0s-aDgQwErTy"


def _policy(resp) -> dict[str, str]:
    header = resp.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


def assert_page_headers(resp):
    assert resp.status_code == 200, resp.status_code
    policy = _policy(resp)
    script = policy.get("script-src", "")
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, script
    nonce = re.search(r"'nonce-([^']+)'", script)
    assert nonce, policy
    assert policy.get("frame-ancestors") == "frame-ancestors 'self'"
    assert policy.get("object-src") == "object-src 'none'"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    html = resp.get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html):
        # every script is a file of ours or an inline block carrying this response's nonce
        assert f'nonce="{nonce.group(1)}"' in tag or re.search(r'src="/', tag), tag
    return nonce.group(1)


BACK_OFFICE_PAGES = [(MANAGER, "/statistics/"), (BACK_OFFICE, "/customerview/list/"),
                     (BACK_OFFICE, "/activityview/list/"), (ADMIN, "/users/list/"), (ADMIN, "/settings/")]


@pytest.mark.parametrize("role,url", BACK_OFFICE_PAGES)
def test_security_headers_back_office_pages(client, login_as, role, url):
    login_as(role)
    first = assert_page_headers(client.get(url, follow_redirects=True))
    second = assert_page_headers(client.get(url, follow_redirects=True))
    assert first != second  # a new nonce per request


def test_security_headers_portal_pages(client, logged_in):
    for url in ("/portal/", "/portal/invoices", "/portal/account"):
        resp = client.get(url, follow_redirects=True)
        assert_page_headers(resp)
        assert "'unsafe-inline'" not in _policy(resp)["style-src"]  # the portal needs no inline styles


def test_security_headers_login_and_error_pages(client, db):
    assert_page_headers(client.get("/login/"))
    assert_page_headers(client.get("/portal/login"))
    missing = client.get("/portal/no-such-page")
    assert missing.status_code == 404 and "frame-ancestors 'self'" in missing.headers["Content-Security-Policy"]


def test_no_store_on_pages_static_files_cacheable(client, login_as):
    login_as(BACK_OFFICE)
    assert client.get("/customerview/list/").headers["Cache-Control"] == "no-store"
    css = client.get("/static/portal/portal.css")
    assert css.status_code == 200 and "no-store" not in css.headers.get("Cache-Control", "")


def _production(**extra) -> dict:
    values = {"PRODUCTION": True, "SECRET_KEY": GOOD_KEY, "PUBLIC_BASE_URL": "https://sportello.example.it",
              "SESSION_COOKIE_SECURE": True, "SESSION_COOKIE_NAME": "session",
              "REMEMBER_COOKIE_NAME": "remember_token", "HSTS_SECONDS": "", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    values.update(extra)
    Config.finalize(values)
    return values


def test_security_headers_production_hsts_and_host_cookie():
    prod = _production()
    assert prod["SESSION_COOKIE_NAME"] == "__Host-session"
    assert prod["REMEMBER_COOKIE_NAME"] == "__Host-remember_token"
    assert prod["HSTS_SECONDS"] >= 180 * 24 * 3600
    demo = {"PRODUCTION": False, "SECRET_KEY": GOOD_KEY, "SESSION_COOKIE_SECURE": False,
            "SESSION_COOKIE_NAME": "session", "HSTS_SECONDS": "", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    Config.finalize(demo)
    assert demo["SESSION_COOKIE_NAME"] == "session" and demo["HSTS_SECONDS"] == 0


def test_security_headers_hsts_sent_and_host_cookie_set_over_https(app, client, make_user):
    from tests.conftest import csrf_token

    saved = {k: app.config[k] for k in ("HSTS_SECONDS", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_NAME")}
    app.config.update(HSTS_SECONDS=31536000, SESSION_COOKIE_SECURE=True, SESSION_COOKIE_NAME="__Host-session")
    try:
        user, password = make_user(BACK_OFFICE)
        page = client.get("/login/", base_url="https://localhost")
        assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        resp = client.post("/login/", base_url="https://localhost", headers={"Referer": "https://localhost/login/"},
                           data={"username": user.username, "password": password,
                                 "csrf_token": csrf_token(page.get_data(as_text=True))})
        assert resp.status_code == 302
        cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("__Host-session="))
        assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie and "HttpOnly" in cookie
    finally:
        app.config.update(saved)
