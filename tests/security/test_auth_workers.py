"""The sign-in policy across real gunicorn worker processes sharing Redis, behind one trusted
proxy (SPORTELLO_PROXIES=1), on every login path: the staff form, the portal form, the
second-factor code step of each, and the customer API's personal tokens. Each worker is replaced
after four requests, so no process sees a whole series of attempts: the series must reach the
limit at the same total as on one process, and the lock is the client's (X-Forwarded-For), not
the proxy's."""
from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pyotp
import pytest

from app.services.core import login_policy
from simulator.testing import free_port
from tests.security.fixtures_auth import redis_prefix_module  # noqa: F401
from tests.security.workers_seed import CUSTOMER_TOTP, PASSWORD, PORTAL_PASSWORD, STAFF_TOTP

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ATTACKER, OWNER = "203.0.113.50", "198.51.100.60"
API_LIMIT = 5  # API_RATE_LIMIT of the served instance, per minute

# Starts processes and waits for them: in the SQLite pass only (`-m "not sweep"` elsewhere).
pytestmark = [pytest.mark.sweep, pytest.mark.slow]


class Browser:
    """Cookies and CSRF over plain HTTP, one new connection per request."""

    def __init__(self, port: int):
        self.port, self.cookie = port, ""

    def request(self, method: str, path: str, body: dict | None = None, ip: str = ATTACKER,
                headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=180)
        headers = {"X-Forwarded-For": ip, "Cookie": self.cookie, **(headers or {})}
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
        return resp.status, text, resp.getheader("Location") or ""

    def token(self, path: str, ip: str = ATTACKER) -> str:
        status, page, _location = self.request("GET", path, ip=ip)
        assert status == 200, (path, status)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def post(self, path: str, fields: dict, token: str, ip: str = ATTACKER) -> tuple[int, str]:
        status, _page, location = self.request("POST", path, {**fields, "csrf_token": token}, ip)
        return status, location


def _wrong_code(secret: str) -> str:
    """A well-formed code of an hour ago: outside the step either side the server accepts."""
    return pyotp.TOTP(secret).at(time.time() - 3600)


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


class Served:
    """The running instance: its port and the processes that answered each request."""

    def __init__(self, port: int, access: Path):
        self.port, self.access = port, access

    def mark(self) -> int:
        return len(self.access.read_text().splitlines()) if self.access.exists() else 0

    def processes(self, since: int, request_line: str) -> set[str]:
        """The worker pids that answered requests starting with `request_line` after `since`."""
        time.sleep(0.2)  # the access log is written after the answer
        lines = self.access.read_text().splitlines()[since:]
        return {line.split()[0] for line in lines if line.split(" ", 2)[2].startswith(request_line)}


@pytest.fixture(scope="module")
def served(tmp_path_factory, redis_prefix_module):  # noqa: F811
    """Sportello on a fresh SQLite database, served by gunicorn: two workers, each replaced
    after four requests (so no process sees all five wrong attempts), counters in Redis, the
    accounts of tests/security/workers_seed.py, at most API_LIMIT calls a minute per token."""
    tmp_path = tmp_path_factory.mktemp("workers")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "SPORTELLO_"))}
    env.update(SPORTELLO_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}",
               SECRET_KEY="workers-test-key-" + redis_prefix_module,
               RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0", RATELIMIT_KEY_PREFIX=redis_prefix_module,
               API_RATE_LIMIT=f"{API_LIMIT} per minute", SPORTELLO_PROXIES="1", SCHEDULER_ENABLED="0",
               SPORTELLO_ADMIN_USERNAME="admin", SPORTELLO_ADMIN_EMAIL="admin@example.com",
               SPORTELLO_ADMIN_PASSWORD="an admin passphrase for the test 7", PYTHONPATH=str(ROOT))
    flask = [str(BIN / "flask"), "--app", "app.py"]
    subprocess.run([*flask, "sportello", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "fab", "create-user", "--role", "Back office", "--username", "desk",
                    "--firstname", "Desk", "--lastname", "Clerk", "--email", "desk@example.com",
                    "--password", PASSWORD], cwd=ROOT, env=env, check=True, capture_output=True)
    seeded = subprocess.run([str(BIN / "python"), "-m", "tests.security.workers_seed"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    port = free_port()
    access, log = tmp_path / "access.log", tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--max-requests", "4",
             "--no-control-socket", "--access-logfile", str(access), "--access-logformat", "%(p)s %(s)s %(r)s",
             "app:create_app()"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_http(port, proc, log)
        yield Served(port, access)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


FAILS = login_policy.PAIR_FAILS


def test_auth_lock_shared_by_workers_behind_proxy(served):
    browser = Browser(served.port)
    token = browser.token("/login/")
    since = served.mark()
    form = lambda password: {"username": "desk", "password": password}  # noqa: E731
    wrong = [browser.post("/login/", form("not the password"), token)[0] for _ in range(FAILS)]
    assert wrong == [302] * FAILS
    assert browser.post("/login/", form(PASSWORD), token)[0] == 429  # locked, whichever process answers
    assert browser.post("/login/", form(PASSWORD), token, OWNER)[0] == 302  # the owner's address is not locked
    assert len(served.processes(since, "POST /login/")) >= 2  # the wrong passwords met several processes


def test_auth_workers_portal_form_counted_once(served):
    ip = "203.0.113.51"
    browser = Browser(served.port)
    token = browser.token("/portal/login", ip)
    since = served.mark()
    form = lambda password: {"username": "portal-plain", "password": password}  # noqa: E731
    wrong = [browser.post("/portal/login", form("not the password"), token, ip)[0] for _ in range(FAILS)]
    assert wrong == [200] * FAILS
    assert browser.post("/portal/login", form(PORTAL_PASSWORD), token, ip)[0] == 429
    owner = Browser(served.port)
    assert owner.post("/portal/login", form(PORTAL_PASSWORD), owner.token("/portal/login", OWNER), OWNER)[0] == 302
    assert len(served.processes(since, "POST /portal/login")) >= 2


@pytest.mark.parametrize("area", ["staff", "portal"])
def test_auth_workers_code_step_counted_once(served, area):
    ip = {"staff": "203.0.113.52", "portal": "203.0.113.53"}[area]
    login, code_step = {"staff": ("/login/", "/login/code/"), "portal": ("/portal/login", "/portal/login/code")}[area]
    username, password, secret = {"staff": ("coder", PASSWORD, STAFF_TOTP),
                                  "portal": ("portal-coded", PORTAL_PASSWORD, CUSTOMER_TOTP)}[area]
    browser = Browser(served.port)
    status, location = browser.post(login, {"username": username, "password": password}, browser.token(login, ip), ip)
    assert status == 302 and location.endswith(code_step)  # the password is right: the code step follows
    token = browser.token(code_step, ip)
    since = served.mark()
    wrong = [browser.post(code_step, {"code": _wrong_code(secret)}, token, ip)[0] for _ in range(FAILS)]
    assert wrong == [200] * FAILS
    right = browser.post(code_step, {"code": pyotp.TOTP(secret).now()}, token, ip)
    assert right[0] == 429  # even the right code waits for the lock, whichever process answers
    assert len(served.processes(since, f"POST {code_step}")) >= 2


def test_auth_workers_api_bad_token_counted_once(served):
    browser = Browser(served.port)
    bearer = {"Authorization": "Bearer spt_" + "x" * 40}
    since = served.mark()
    statuses = [browser.request("GET", "/api/portal/v1/me", ip="203.0.113.54", headers=bearer)[0]
                for _ in range(API_LIMIT + 1)]
    assert statuses == [401] * API_LIMIT + [429]
    other = {"Authorization": "Bearer spt_" + "y" * 40}  # the count is the token's, not the address's
    assert browser.request("GET", "/api/portal/v1/me", ip="203.0.113.54", headers=other)[0] == 401
    assert len(served.processes(since, "GET /api/portal/v1/me")) >= 2
