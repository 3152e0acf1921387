"""Hostile input that must change nothing: CSRF on every POST, open redirects, SQL injection,
path traversal."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.roles import ADMIN, CALL_CENTER
from tests import factories as f
from tests.conftest import csrf_token
from tests.portal.conftest import PASSWORD

# The JSON API of FAB authenticates by token, not cookie: CSRF does not apply to it.
CSRF_EXEMPT = ("/api/",)


def _post_rules(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and not rule.rule.startswith(CSRF_EXEMPT):
            yield rule


def _fill(rule) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", "1", rule.rule)


def test_csrf_every_post_without_token_is_refused(app, client, login_as, db):
    """Every POST route of the app, signed in as an admin, refuses a form without the token."""
    login_as(ADMIN)
    urls = sorted({_fill(r) for r in _post_rules(app)})
    assert len(urls) > 40  # portal, back office, sales, settings...
    accepted = [(u, code) for u in urls
                if (code := client.post(u, data={"name": "x", "action": "x"}).status_code) not in (400, 404, 405)]
    assert accepted == []


def test_csrf_portal_post_without_token_is_refused_signed_in(client, logged_in, app):
    urls = sorted({_fill(r) for r in _post_rules(app) if r.rule.startswith("/portal")})
    accepted = [u for u in urls if client.post(u, data={"x": "1"}).status_code not in (400, 404, 405)]
    assert accepted == []


def _stays_here(location: str) -> bool:
    """A redirect a browser follows to this very host (a path, or an absolute URL to localhost)."""
    from urllib.parse import urlsplit

    parts = urlsplit(location)
    return parts.netloc in ("", "localhost") and not location.startswith(("//", "/\\")) \
        and parts.scheme in ("", "http", "https")


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/portal/", "/\\evil.example",
                                    "javascript:alert(1)", "/portal/../../evil", "%2F%2Fevil.example"])
def test_open_redirect_portal_login_next(client, db, customer_graph, target):
    from tests.portal.conftest import make_account

    user = make_account(db, None, customer_graph["customer"])
    page = client.get("/portal/login", query_string={"next": target})
    resp = client.post("/portal/login", query_string={"next": target},
                       data={"username": user.username, "password": PASSWORD,
                             "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert resp.status_code == 302
    assert _stays_here(resp.headers["Location"])


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_open_redirect_staff_login_next(client, make_user, target):
    user, password = make_user(CALL_CENTER)
    page = client.get("/login/", query_string={"next": target})
    resp = client.post("/login/", query_string={"next": target},
                       data={"username": user.username, "password": password,
                             "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert resp.status_code == 302 and _stays_here(resp.headers["Location"])


INJECTIONS = ["' OR '1'='1", "x' UNION SELECT password FROM ab_user --", "%' OR 1=1 --", "1; DROP TABLE customers"]


@pytest.mark.parametrize("q", INJECTIONS)
def test_sql_injection_search_finds_nothing_and_breaks_nothing(client, login_as, db, q):
    from app.models import Customer

    f.customer()
    f.customer()
    db.session.commit()
    login_as(CALL_CENTER)
    resp = client.get("/callcenter/", query_string={"q": q, "go": "0"})
    assert resp.status_code == 200
    assert "scrypt:" not in resp.get_data(as_text=True)
    listed = client.get("/customerview/list/", query_string={"_flt_0_name": q})
    assert listed.status_code in (200, 403)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Customer)) == 2


@pytest.mark.parametrize("path", ["/static/../config.py", "/static/%2e%2e/config.py", "/static/..%2fconfig.py",
                                  "/static/portal/../../../config.py", "/users/download/..%2f..%2fconfig.py",
                                  "/portal/documents/..%2f..%2fconfig.py", "/appbuilder/static/../../config.py"])
def test_path_traversal_answers_404(client, login_as, path):
    login_as(ADMIN)
    resp = client.get(path)
    assert resp.status_code in (400, 404)
    assert "SECRET_KEY" not in resp.get_data(as_text=True)
