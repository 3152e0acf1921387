"""/healthz and /readyz: 503 only when this node can't serve (database down, schema behind the
code), 200 with `degraded` when billing or SMTP is down, and back to normal once they return."""
from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from config import TestConfig
from tests.ops.helpers import Forwarder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def probes_now(app, monkeypatch):
    """Billing and SMTP asked at every /readyz (no per-process cache), as after 15 s."""
    monkeypatch.setitem(app.config, "READYZ_SOFT_CHECK_SECONDS", 0)
    from app.services.ops.health import SOFT

    SOFT.clear()
    yield
    SOFT.clear()


@pytest.fixture
def node(app, database_url, tmp_path, probes_now):
    """A second web node on the test database, reached through a path the test can break:
    on PostgreSQL a TCP forwarder, on SQLite a copy of the database in a directory that can go away.
    Yields (app, cut, restore)."""
    from app import create_app

    if database_url.startswith("postgres"):
        url = sa.engine.make_url(database_url)
        forwarder = Forwarder(url.host or "127.0.0.1", url.port or 5432).start()
        node_url = url.set(host="127.0.0.1", port=forwarder.port).render_as_string(hide_password=False)
        cut, restore = forwarder.cut, forwarder.restore
    else:
        folder = tmp_path / "node-db"
        folder.mkdir()
        src = sqlite3.connect(sa.engine.make_url(database_url).database)
        dst = sqlite3.connect(folder / "node.db")
        src.backup(dst)
        src.close()
        dst.close()
        node_url = f"sqlite:///{folder / 'node.db'}"

        def cut():
            os.rename(folder, tmp_path / "node-db-away")

        def restore():
            os.rename(tmp_path / "node-db-away", folder)

    class Node(TestConfig):
        SQLALCHEMY_DATABASE_URI = node_url
        BILLING_WSDL_CACHE_DIR = str(tmp_path / "wsdl")
        PROPAGATE_EXCEPTIONS = False
        READYZ_SOFT_CHECK_SECONDS = 0

    node_app = create_app(Node)
    try:
        yield node_app, cut, restore
    finally:
        with node_app.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()
        if database_url.startswith("postgres"):
            forwarder.close()
        else:
            with_folder = tmp_path / "node-db-away"
            if with_folder.exists():
                shutil.rmtree(with_folder)


def _dispose(node_app):
    """Pooled connections die with the outage; the pool is emptied as a worker's pre-ping would."""
    with node_app.app_context():
        from app.extensions import db

        db.engine.dispose()


def test_healthz_answers_without_the_database(node):
    node_app, cut, restore = node
    cut()
    _dispose(node_app)
    resp = node_app.test_client().get("/healthz")
    restore()
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_readyz_is_503_while_the_database_is_down_and_200_once_it_is_back(node):
    node_app, cut, restore = node
    client = node_app.test_client()
    before = client.get("/readyz")
    assert before.status_code == 200, before.get_json()
    assert before.get_json()["checks"]["database"] is True
    assert before.get_json()["checks"]["migrations"] is True

    cut()
    _dispose(node_app)
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.get_json()["failed"] == ["database"]
    assert down.get_json()["status"] == "unavailable"
    # The body names the check, never the error or the connection string.
    assert "sqlite" not in down.get_data(as_text=True) and "postgres" not in down.get_data(as_text=True)

    restore()
    back = client.get("/readyz")
    assert back.status_code == 200
    assert back.get_json()["checks"]["database"] is True


def test_readyz_is_503_when_the_schema_is_behind_the_code(client, db):
    head = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    db.session.execute(sa.text("UPDATE alembic_version SET version_num = 'wo01a7c3e5d2'"))
    db.session.commit()
    try:
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert resp.get_json()["failed"] == ["migrations"]
    finally:
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        db.session.commit()
    assert client.get("/readyz").status_code == 200


def test_billing_outage_is_degraded_not_down_and_recovers(client, billing_sim, smtp_server, probes_now):
    up = client.get("/readyz")
    assert up.status_code == 200
    assert "degraded" not in up.get_json()
    assert up.get_json()["checks"]["billing"] is True

    billing_sim.stop()
    down = client.get("/readyz")
    assert down.status_code == 200  # pages keep working from the local copy: stay in rotation
    assert down.get_json()["degraded"] == ["billing"]
    assert down.get_json()["status"] == "ready"

    billing_sim.start()
    back = client.get("/readyz")
    assert back.status_code == 200 and "degraded" not in back.get_json()


def test_smtp_outage_is_degraded_not_down_and_recovers(app, client, billing_sim, probes_now, monkeypatch):
    from aiosmtpd.controller import Controller

    from simulator.testing import free_port
    from tests.conftest import SmtpSink

    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_USERNAME", "")
    down = client.get("/readyz")
    assert down.status_code == 200
    assert down.get_json()["degraded"] == ["smtp"]

    controller = Controller(SmtpSink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        back = client.get("/readyz")
        assert back.status_code == 200 and "degraded" not in back.get_json()
    finally:
        controller.stop()


def test_system_status_page_shows_checks_queues_schedulers_and_version(app, client, db, login_as, billing_sim):
    from app.models import OutboxMessage, SchedulerHeartbeat
    from app.models.base import utcnow
    import datetime as dt

    db.session.add(OutboxMessage(idempotency_key="k-1", operation="submit_reading", payload={},
                                 created_at=utcnow() - dt.timedelta(hours=2)))
    db.session.add(SchedulerHeartbeat(holder="node-a:4242", started_at=utcnow() - dt.timedelta(hours=1),
                                      beat_at=utcnow()))
    db.session.add(SchedulerHeartbeat(holder="node-b:4343", started_at=utcnow() - dt.timedelta(hours=3),
                                      beat_at=utcnow() - dt.timedelta(hours=2)))
    db.session.commit()
    login_as("Admin")
    page = client.get("/system-status/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Stato del sistema" in html
    assert 'data-check="database"' in html and 'data-check="billing"' in html
    assert "Autolettura" in html  # the operation by its label, not its key
    assert "2 ore" in html  # the oldest waiting write's age, in words
    assert "node-a:4242" in html and "node-b:4343" in html
    assert "Silente" in html  # node-b stopped beating two hours ago
    head = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert head in html
    assert "None" not in html


def test_system_status_is_for_admins_only(client, login_as):
    login_as("Back office")
    assert client.get("/system-status/").status_code in (302, 403)


READYZ_PROBE = """
import json, sys
from app import create_app

app = create_app()
client = app.test_client()
print("started", flush=True)
for _ in sys.stdin:
    resp = client.get("/readyz")
    print(json.dumps({"status": resp.status_code, "body": resp.get_json()}), flush=True)
"""


def test_readyz_is_503_with_its_reason_while_redis_does_not_answer(app, database_url, tmp_path):
    """The rate limiter's Redis behind a forwarder the test cuts: every node would count sign-in
    attempts on its own, so the node leaves the rotation until Redis answers again. (A process of
    its own: the rate limiter's storage is one per process.)"""
    import json
    import subprocess
    import sys

    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no Redis here
        pytest.skip(f"needs the machine's Redis: {exc}")
    forwarder = Forwarder("127.0.0.1", 6379).start()
    storage = f"redis://127.0.0.1:{forwarder.port}/0"
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x" * 48, "RATELIMIT_STORAGE_URI": storage,
           "RATELIMIT_KEY_PREFIX": f"readyz-{os.getpid()}", "SPORTELLO_VAR_DIR": str(tmp_path / "var"),
           "READYZ_SOFT_CHECK_SECONDS": "3600", "BILLING_URL": "http://127.0.0.1:9/NAV/WS/DEMO",
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": "9", "LOG_FORMAT": "text"}
    env.pop("SPORTELLO_ENV", None)
    proc = subprocess.Popen([sys.executable, "-c", READYZ_PROBE], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def readyz() -> dict:
        proc.stdin.write("get\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line, "the probe process ended"
        return json.loads(line)

    try:
        assert proc.stdout.readline().strip() == "started"
        up = readyz()
        assert up["status"] == 200 and up["body"]["checks"]["redis"] is True, up
        forwarder.cut()
        down = readyz()
        assert down["status"] == 503, down
        assert down["body"]["failed"] == ["redis"]
        assert down["body"]["reason"] == "the rate limiter's shared storage (Redis) does not answer"
        assert str(forwarder.port) not in json.dumps(down) and "redis://" not in json.dumps(down)
        forwarder.restore()
        back = readyz()
        assert back["status"] == 200 and back["body"]["checks"]["redis"] is True, back
    finally:
        proc.stdin.close()
        proc.wait(30)
        forwarder.close()


def test_a_database_ahead_of_the_code_is_ready(client, db):
    """A newer release's migration has run (docs/operations.md, Upgrades): the old nodes stay in
    the rotation, and the build metric shows the two revisions apart."""
    head = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    db.session.execute(sa.text("UPDATE alembic_version SET version_num = 'f0e1d2c3b4a5'"))
    db.session.commit()
    try:
        resp = client.get("/readyz")
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["checks"]["migrations"] is True
        assert "failed" not in resp.get_json()
        client.application.config["METRICS_TOKEN"] = "ahead-token-0000000000000000"
        text = client.get("/metrics", headers={"Authorization": "Bearer ahead-token-0000000000000000"}).get_data(
            as_text=True)
        assert 'migration="f0e1d2c3b4a5"' in text and f'code_head="{head}"' in text
    finally:
        client.application.config["METRICS_TOKEN"] = ""
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        db.session.commit()


def test_readyz_names_the_reason_when_the_schema_is_behind(client, db):
    head = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    db.session.execute(sa.text("UPDATE alembic_version SET version_num = 'wo01a7c3e5d2'"))
    db.session.commit()
    try:
        body = client.get("/readyz").get_json()
        assert body["reason"] == "the database schema is behind this release (flask db upgrade has not run)"
    finally:
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        db.session.commit()
