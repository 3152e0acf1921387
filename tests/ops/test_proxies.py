"""SPORTELLO_PROXIES: the client's address is taken from X-Forwarded-For only when a proxy count
is configured, and then only from the hops the proxies added (a client can't choose its own)."""
from __future__ import annotations

import pytest

from config import TestConfig

ALLOWED = "10.1.2.0/24"  # the metrics allow-list: what the app takes as the client's address shows


@pytest.fixture
def proxied_app(app, database_url, tmp_path):
    """A node as deployed behind nginx (SPORTELLO_PROXIES=1), on the test database."""
    from app import create_app

    class Proxied(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        BILLING_WSDL_CACHE_DIR = str(tmp_path / "wsdl")
        PROXY_COUNT = 1
        METRICS_ALLOW = ALLOWED

    node = create_app(Proxied)
    yield node
    with node.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def test_x_forwarded_for_is_ignored_without_a_proxy_count(app, client, monkeypatch):
    assert app.config["PROXY_COUNT"] == 0
    monkeypatch.setitem(app.config, "METRICS_ALLOW", ALLOWED)
    # The request comes from 127.0.0.1; the header claims an allowed address: not believed.
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 404


def test_x_forwarded_for_is_honoured_behind_one_proxy(proxied_app):
    client = proxied_app.test_client()
    assert client.get("/metrics").status_code == 404  # 127.0.0.1 itself is not allowed
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 200
    # A client sending its own X-Forwarded-For: nginx appends the address it saw; only that one counts.
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3, 198.51.100.7"}).status_code == 404
    assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7, 10.1.2.3"}).status_code == 200
