"""Shared fixtures: app (one per session, on SQLite or PostgreSQL), clean tables per test,
a client, `login_as(role)`, and the billing simulator over HTTP."""
from __future__ import annotations

import contextvars
import os
import re
import secrets
import uuid

import pytest
import sqlalchemy as sa

from flask.testing import FlaskClient

from config import TestConfig

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _engine_name() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    return "postgresql" if url.startswith("postgres") else "sqlite"


def pytest_report_header(config):
    url = os.environ.get("TEST_DATABASE_URL") or "sqlite (temporary file)"
    return f"database engine: {_engine_name()} ({re.sub(r'//[^@/]*@', '//', url)})"


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

    app = create_app(Cfg)
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade(directory=str(app.config["MIGRATIONS_DIR"]))
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


@pytest.fixture
def login_as(client, make_user):
    """Log the test client in through FAB's login form as a new user with `role`."""

    def _login(role: str, **kw):
        user, password = make_user(role, **kw)
        page = client.get("/login/")
        resp = client.post("/login/", data={"username": user.username, "password": password,
                                            "csrf_token": csrf_token(page.get_data(as_text=True))})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
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


@pytest.fixture
def billing_sim(sim_template, tmp_path, app):
    """A billing simulator of this test's own (a copy of the template data) on a free port;
    the app's gateway points at it."""
    import shutil
    import sqlite3

    from app.billing.nav import NavGateway
    from app.services.billing import set_gateway
    from simulator.testing import SimulatorProcess

    path = tmp_path / "sim.db"
    # A consistent copy even if the template is in WAL mode.
    src = sqlite3.connect(sim_template)
    dst = sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()
    sim = SimulatorProcess(path).start()
    set_gateway(app, NavGateway(sim.url, timeout=3.0, page_size=50,
                                cache_dir=app.config["BILLING_WSDL_CACHE_DIR"]))
    app.config["BILLING_URL"] = sim.url
    try:
        yield sim
    finally:
        set_gateway(app, None)
        sim.stop()
        shutil.rmtree(tmp_path / "unused", ignore_errors=True)
