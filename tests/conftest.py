"""Shared fixtures: app (one per session, on SQLite or PostgreSQL), clean tables per test,
a client, `login_as(role)`, and the billing simulator over HTTP."""
from __future__ import annotations

import contextlib
import contextvars
import os
import re
import secrets
import time
import uuid

# The tests' own "today" (dt.date.today() in seeds and expectations) is the company's day, the day
# app.clock.local_today() gives the application whatever zone the machine runs in.
os.environ["TZ"] = "Europe/Rome"
time.tzset()

import pytest
import sqlalchemy as sa

from flask.testing import FlaskClient

from config import TestConfig
from tests.axe import axe, terminal_summary as _axe_summary  # noqa: F401  (the suite's axe fixture)
from tests.logscan import log_record_file, terminal_summary as _logscan_summary  # noqa: F401  (every log record, checked)
from tests.ops.helpers import terminal_summary as _multinode_summary

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _engine_name() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    return "postgresql" if url.startswith("postgres") else "sqlite"


def pytest_report_header(config):
    url = os.environ.get("TEST_DATABASE_URL") or "a temporary file"
    return f"database engine: {_engine_name()} ({re.sub(r'//[^@/]*@', '//', url)})"


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(pytest_report_header(None))
    _axe_summary(terminalreporter)
    _logscan_summary(terminalreporter)
    _multinode_summary(terminalreporter)


def _fresh_database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    # A database of our own per session, so parallel or repeated runs never share state.
    name = f"sportello_test_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = _fresh_database_url(tmp_path_factory)
    yield url
    if url.startswith("postgres"):
        base = os.environ["TEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.engine.make_url(url).database}" WITH (FORCE)'))
        admin.dispose()


class IsolatedClient(FlaskClient):
    """Each request runs in its own contexts, as in a server.

    Tests keep an app context pushed for the database; Flask would reuse it for the client's
    requests and share `g` (and Flask-Login's cached user) between them, hiding real bugs.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def _compile_catalogues() -> None:
    """Tests see the same translations as users: compile the catalogues if stale."""
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in Path(__file__).resolve().parent.parent.glob("translations/*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as src, mo.open("wb") as dst:
                write_mo(dst, read_po(src))


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The app on a freshly migrated database with roles and permissions in place."""
    from flask_migrate import upgrade

    from app import create_app

    _compile_catalogues()
    from app.security import init_security

    class Cfg(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        BILLING_WSDL_CACHE_DIR = str(tmp_path_factory.mktemp("wsdl"))
        # Tests sign staff in with the password alone; the two-factor tests (tests/security/
        # test_F65_*) name the roles that must use it through the setting.
        SETTINGS_DEFAULTS = {"totp_required_roles": ""}

    app = create_app(Cfg)
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade(directory=str(app.config["MIGRATIONS_DIR"]), revision="heads")
        init_security(app.appbuilder)
    yield app
    with app.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


KEEP_TABLES = {"alembic_version", "ab_permission", "ab_view_menu", "ab_permission_view",
               "ab_role", "ab_permission_view_role"}


@pytest.fixture
def db(app):
    """The database session; every table but the security ones is emptied after the test."""
    from app.extensions import db as _db

    ctx = app.app_context()
    ctx.push()
    yield _db
    _db.session.rollback()
    _db.session.remove()
    tables = [t for t in reversed(_db.metadata.sorted_tables) if t.name not in KEEP_TABLES]
    with _db.engine.begin() as conn:
        for table in tables:
            conn.execute(table.delete())
    from app.extensions import limiter

    limiter.reset()
    ctx.pop()


@pytest.fixture
def client(app, db):
    return app.test_client()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def make_user(db, app):
    """Create a staff user with the given role names; returns (user, password)."""

    def _make(*roles: str, username: str | None = None):
        sm = app.appbuilder.sm
        username = username or f"u-{uuid.uuid4().hex[:10]}"
        password = secrets.token_urlsafe(16)
        role_objs = [sm.find_role(r) for r in roles]
        user = sm.add_user(username, "Test", roles[0] if roles else "User", f"{username}@example.com",
                           role_objs, password)
        assert user, f"could not create {username}"
        return user, password

    return _make


def staff_login(client, username: str, password: str) -> None:
    """Sign `client` in through FAB's login form."""
    page = client.get("/login/")
    resp = client.post("/login/", data={"username": username, "password": password,
                                        "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]


@pytest.fixture
def login_as(client, make_user):
    """Log the test client in through FAB's login form as a new user with `role`."""

    def _login(role: str, **kw):
        user, password = make_user(role, **kw)
        staff_login(client, user.username, password)
        return user

    return _login


# --- the billing simulator, over HTTP ------------------------------------------------------

SIM_CUSTOMERS = 25
SIM_SEED = 7


@pytest.fixture(scope="session")
def sim_template(tmp_path_factory):
    """A small simulator data set, generated once per session and copied per test."""
    from simulator.testing import generate

    path = tmp_path_factory.mktemp("sim-template") / "sim.db"
    generate(path, customers=SIM_CUSTOMERS, seed=SIM_SEED, months=6)
    return path


def _billing_sim(sim_template, tmp_path, app, flavour: str):
    import shutil
    import sqlite3

    from app.billing import make_gateway
    from app.services.sync.gateway import set_gateway
    from simulator.testing import SimulatorProcess

    path = tmp_path / f"sim-{flavour}.db"
    # A consistent copy even if the template is in WAL mode.
    src = sqlite3.connect(sim_template)
    dst = sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()
    sim = SimulatorProcess(path, flavour=flavour).start()
    set_gateway(app, make_gateway({"BILLING_SYSTEM": flavour, "BILLING_URL": sim.url,
                                   "BILLING_TIMEOUT": 3.0, "BILLING_PAGE_SIZE": 50,
                                   "BILLING_WSDL_CACHE_DIR": app.config["BILLING_WSDL_CACHE_DIR"]}))
    app.config["BILLING_URL"] = sim.url
    app.config["BILLING_SYSTEM"] = flavour
    try:
        yield sim
    finally:
        app.config["BILLING_SYSTEM"] = "nav"
        set_gateway(app, None)
        sim.stop()
        shutil.rmtree(tmp_path / "unused", ignore_errors=True)


@pytest.fixture
def billing_sim(sim_template, tmp_path, app):
    """A billing simulator of this test's own (a copy of the template data) on a free port;
    the app's gateway points at it (NAV)."""
    yield from _billing_sim(sim_template, tmp_path, app, "nav")


@pytest.fixture
def billing_sim_sap(sim_template, tmp_path, app):
    """`billing_sim` in its SAP IS-U flavour, with the SAP adapter as the app's gateway."""
    yield from _billing_sim(sim_template, tmp_path, app, "sap")


# Every simulator flavour with its adapter; a third adapter adds its flavour here (and to the
# contract suite's FLAVOURS). The repeats beyond NAV run in the SQLite pass only (`one_pass`).
BILLING_FLAVOURS = ["nav", pytest.param("sap", marks=pytest.mark.one_pass)]


@pytest.fixture(params=BILLING_FLAVOURS)
def each_billing_sim(request, sim_template, tmp_path, app):
    """`billing_sim` once in each flavour (NAV, SAP IS-U), the app's gateway on that adapter;
    for the alignment, outage and outbox tests that hold for every billing system."""
    yield from _billing_sim(sim_template, tmp_path, app, request.param)


# --- a real SMTP server (aiosmtpd) -----------------------------------------------------------

class SmtpSink:
    """Messages received by a local aiosmtpd server; `refuse` makes it answer errors."""

    def __init__(self):
        self.messages = []  # email.message.EmailMessage, in arrival order
        self.refuse: dict[str, tuple[int, str]] = {}  # address -> (code, text) for RCPT
        self.fail_data: list[tuple[int, str]] = []  # answers for the next DATA commands
        self.drop_data = 0  # drop the connection in the middle of the next N DATA commands

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            code, text = self.refuse[address]
            return f"{code} {text}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop_data > 0:
            self.drop_data -= 1
            server.transport.abort()  # the line goes down before any answer
            return "421 4.4.2 connection dropped"
        if self.fail_data:
            code, text = self.fail_data.pop(0)
            return f"{code} {text}"
        import email
        from email import policy

        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        msg.envelope_rcpt = list(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 Message accepted"


@contextlib.contextmanager
def serve_smtp(app, handler, **options):
    """A real SMTP server (aiosmtpd) with `handler` and Controller `options` on a free port; the
    app sends its mail there. Yields the handler, with `.port` set."""
    from aiosmtpd.controller import Controller

    from simulator.testing import free_port

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    saved = {k: app.config.get(k) for k in ("MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USERNAME")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USERNAME="")
    handler.port = port
    try:
        yield handler
    finally:
        controller.stop()
        app.config.update(saved)


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on a free port; the app sends its mail there."""
    with serve_smtp(app, SmtpSink()) as sink:
        yield sink


# --- the app served over HTTP, and headless Chromium ------------------------------------------

def _path_only_log_handler():
    from werkzeug.serving import WSGIRequestHandler

    class PathOnly(WSGIRequestHandler):
        """The test server's access log without query strings (an invoice link's token is one),
        as production's access log masks them."""

        def log_request(self, code="-", size="-"):
            path = self.path
            self.path = path.split("?", 1)[0]
            try:
                super().log_request(code, size)
            finally:
                self.path = path

    return PathOnly


_PathOnlyLogHandler = _path_only_log_handler()


@pytest.fixture
def live_server(app, db):
    """The app served by a real HTTP server in a thread; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    from simulator.testing import free_port

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_PathOnlyLogHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(5)


CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    import shutil

    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail("Debian package 'chromium' is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(locale="it-IT", accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()
