"""The sign-in policy across real gunicorn worker processes sharing Redis, behind one trusted
proxy (SPORTELLO_PROXIES=1): the counts hold whichever process answers, and the lock is the
client's (X-Forwarded-For), not the proxy's."""
from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from simulator.testing import free_port
from tests.security.fixtures_auth import redis_prefix  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "a long and proper staff passphrase 31"
ATTACKER, OWNER = "203.0.113.50", "198.51.100.60"

# Starts processes and waits for them: in the SQLite pass only (`-m "not sweep"` elsewhere).
pytestmark = [pytest.mark.sweep, pytest.mark.slow]


class Browser:
    """Cookies and CSRF over plain HTTP, one new connection per request."""

    def __init__(self, port: int):
        self.port, self.cookie = port, ""

    def request(self, method: str, path: str, body: dict | None = None, ip: str = ATTACKER):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=180)
        headers = {"X-Forwarded-For": ip, "Cookie": self.cookie}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode()
        cookie = resp.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        conn.close()
        return resp.status, text

    def login(self, token: str, password: str, ip: str) -> int:
        return self.request("POST", "/login/", {"username": "desk", "password": password,
                                                "csrf_token": token}, ip)[0]


def _wait_http(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            # One long wait per try: an abandoned request would still count towards --max-requests.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=180)
            conn.request("GET", "/login/")
            if conn.getresponse().status == 200:
                return
        except ConnectionRefusedError:
            pass
        time.sleep(1)
    raise AssertionError("gunicorn did not answer: " + log.read_text()[-3000:])


@pytest.fixture
def served(tmp_path, redis_prefix):  # noqa: F811
    """Sportello on a fresh SQLite database, served by gunicorn: two workers, each replaced
    after four requests (so no process sees all five wrong passwords), counters in Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "SPORTELLO_"))}
    env.update(SPORTELLO_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}",
               SECRET_KEY="workers-test-key-" + redis_prefix, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
               RATELIMIT_KEY_PREFIX=redis_prefix, SPORTELLO_PROXIES="1", SCHEDULER_ENABLED="0",
               SPORTELLO_ADMIN_USERNAME="admin", SPORTELLO_ADMIN_EMAIL="admin@example.com",
               SPORTELLO_ADMIN_PASSWORD="an admin passphrase for the test 7", PYTHONPATH=str(ROOT))
    flask = [str(BIN / "flask"), "--app", "app.py"]
    subprocess.run([*flask, "sportello", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "fab", "create-user", "--role", "Back office", "--username", "desk",
                    "--firstname", "Desk", "--lastname", "Clerk", "--email", "desk@example.com",
                    "--password", PASSWORD], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    access, log = tmp_path / "access.log", tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--max-requests", "4",
             "--no-control-socket", "--access-logfile", str(access), "--access-logformat", "%(p)s %(s)s %(r)s",
             "app:create_app()"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_http(port, proc, log)
        yield port, access
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_auth_lock_shared_by_workers_behind_proxy(served):
    port, access = served
    browser = Browser(port)
    status, page = browser.request("GET", "/login/")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    wrong = [browser.login(token, "not the password", ATTACKER) for _ in range(5)]
    assert wrong == [302] * 5
    assert browser.login(token, PASSWORD, ATTACKER) == 429  # locked, whichever process answers
    assert browser.login(token, PASSWORD, OWNER) == 302  # the owner's address is not locked
    posts = [line.split()[0] for line in access.read_text().splitlines() if "POST /login/" in line]
    assert len(set(posts[:5])) >= 2, posts  # the five wrong passwords met several processes
