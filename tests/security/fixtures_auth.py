"""Fixtures and helpers of the authentication and session tests (tests/security/test_auth_*,
test_sessions_*): sign-in from a chosen address, the security log, Redis with a key prefix per
run."""
from __future__ import annotations

import contextlib
import logging
import uuid

import pytest

from tests.conftest import csrf_token

STAFF_PASSWORD_WRONG = "not the password at all"


def staff_post_login(client, username: str, password: str, ip: str = "127.0.0.1"):
    """POST the staff login form from address `ip`; returns the response."""
    page = client.get("/login/", environ_base={"REMOTE_ADDR": ip})
    return client.post("/login/", data={"username": username, "password": password,
                                        "csrf_token": csrf_token(page.get_data(as_text=True))},
                       environ_base={"REMOTE_ADDR": ip})


def portal_post_login(client, username: str, password: str, ip: str = "127.0.0.1"):
    page = client.get("/portal/login", environ_base={"REMOTE_ADDR": ip})
    return client.post("/portal/login", data={"username": username, "password": password,
                                              "csrf_token": csrf_token(page.get_data(as_text=True))},
                       environ_base={"REMOTE_ADDR": ip})


@pytest.fixture
def security_events(caplog):
    """The records of the `sportello.security` logger during the test."""
    caplog.set_level(logging.INFO, logger="sportello.security")

    def _events(name: str | None = None):
        return [r for r in caplog.records if r.name == "sportello.security"
                and (name is None or getattr(r, "event", None) == name)]

    return _events


@contextlib.contextmanager
def _redis_prefix():
    redis = pytest.importorskip("redis")
    conn = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        conn.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"sportello-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        keys = list(conn.scan_iter(match=f"*{prefix}*"))
        if keys:
            conn.delete(*keys)
        conn.close()


@pytest.fixture
def redis_prefix():
    """A key prefix of this run's own in the Redis at 127.0.0.1:6379; its keys are deleted after
    the test. Skips when no Redis answers."""
    with _redis_prefix() as prefix:
        yield prefix


@pytest.fixture(scope="module")
def redis_prefix_module():
    """The same for all the tests of one module (one served instance)."""
    with _redis_prefix() as prefix:
        yield prefix


def staff_logout(client) -> None:
    """Sign out of the back office as a user does: the confirmation page, then its POST."""
    page = client.get("/logout/")
    if page.status_code == 200:
        client.post("/logout/", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
