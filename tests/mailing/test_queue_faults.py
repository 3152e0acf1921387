"""Outgoing mail under faults (queue core): a crashed sender, a broken template, a slow SMTP
server holding the line, addresses that can't be written in ASCII."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.models import OutgoingMail
from app.services.mailing.mail import deliver_mail, queue_mail
from tests.conftest import serve_smtp
from tests.portal.conftest import customer_graph, logged_in, post_form  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]


class HoldingSink:
    """An SMTP server that keeps each DATA waiting until `release` is set."""

    def __init__(self):
        self.in_data = threading.Event()
        self.release = threading.Event()
        self.received: list[tuple[str, tuple[str, ...]]] = []

    async def handle_DATA(self, server, session, envelope):
        self.in_data.set()
        while not self.release.is_set():
            await asyncio.sleep(0.02)
        self.received.append((envelope.mail_from, tuple(envelope.rcpt_tos)))
        return "250 Message accepted"


@pytest.fixture
def holding_smtp(app):
    with serve_smtp(app, HoldingSink()) as sink:
        try:
            yield sink
        finally:
            sink.release.set()


def _statuses(db):
    db.session.rollback()
    return {m.idempotency_key: m.status for m in db.session.scalars(sa.select(OutgoingMail))}


def test_a_message_left_sending_by_a_killed_sender_is_sent_again(app, db, holding_smtp, tmp_path):
    """SIGKILL while the server holds the message inside DATA: the next run sends it."""
    queue_mail("password_changed", "it", ["anna@example.com"], {"name": "Anna"}, key="pw-kill")
    db.session.commit()
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY=app.config["SECRET_KEY"],
               MAIL_SERVER="127.0.0.1", MAIL_PORT=str(holding_smtp.port), MAIL_USE_TLS="0",
               SPORTELLO_VAR_DIR=str(tmp_path), BILLING_URL="http://127.0.0.1:9/NAV/WS/DEMO")
    log = open(tmp_path / "job.log", "wb")
    child = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app.py", "sportello", "run-job", "mail"],
                             cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert holding_smtp.in_data.wait(60), (tmp_path / "job.log").read_text()[-2000:]
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert _statuses(db) == {"pw-kill": "sending"}
    holding_smtp.release.set()
    counts = deliver_mail()
    assert counts["sent"] == 1 and counts["recovered"] == 1
    assert _statuses(db) == {"pw-kill": "sent"}
    assert holding_smtp.received[-1][1] == ("anna@example.com",)


def test_a_template_that_does_not_render_keeps_its_message_and_the_others_go(db, smtp_server):
    queue_mail("no_such_template", "it", ["anna@example.com"], {}, key="broken")
    queue_mail("password_changed", "it", ["bruno@example.com"], {"name": "Bruno"}, key="fine")
    db.session.commit()
    counts = deliver_mail()
    assert counts["sent"] == 1 and counts["retry"] == 1
    broken = db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.idempotency_key == "broken"))
    assert broken.status == "pending" and "no_such_template" in broken.error and broken.claimed_by is None
    assert [m["To"] for m in smtp_server.messages] == ["bruno@example.com"]


def test_temporary_failures_never_fail_a_message_by_count(db, smtp_server):
    queue_mail("password_changed", "it", ["anna@example.com"], {"name": "Anna"}, key="many")
    db.session.commit()
    db.session.execute(sa.update(OutgoingMail).values(attempts=500))
    db.session.commit()
    smtp_server.fail_data = [(451, "4.3.0 try later")]
    counts = deliver_mail()
    assert counts["retry"] == 1 and counts["failed"] == 0
    row = db.session.scalar(sa.select(OutgoingMail))
    assert row.status == "pending" and row.attempts == 501
    smtp_server.fail_data = [(554, "5.7.1 refused")]
    db.session.execute(sa.update(OutgoingMail).values(next_attempt_at=row.created_at))
    db.session.commit()
    assert deliver_mail()["failed"] == 1  # a permanent refusal fails at once


def _write_lock_free(db) -> bool:
    """Can another connection take the write lock (SQLite) / the row (PostgreSQL) right now?"""
    if db.engine.dialect.name == "sqlite":
        import sqlite3

        conn = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()
    with db.engine.connect() as conn:
        try:
            conn.execute(sa.text("SELECT id FROM outgoing_mail FOR UPDATE NOWAIT"))
            return True
        except sa.exc.OperationalError:
            return False
        finally:
            conn.rollback()


def test_no_database_lock_is_held_while_the_smtp_server_is_slow(app, db, holding_smtp, client, logged_in):
    """The server holds the message inside DATA: the database stays free for customers."""
    queue_mail("password_changed", "it", ["anna@example.com"], {"name": "Anna"}, key="slow")
    db.session.commit()
    errors = []

    def job():
        with app.app_context():
            try:
                deliver_mail()
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                from app.extensions import db as _db

                _db.session.remove()

    worker = threading.Thread(target=job)
    worker.start()
    try:
        assert holding_smtp.in_data.wait(30)
        assert _write_lock_free(db)
        c = logged_in["customer"]
        data = {k: getattr(c, k) or "" for k in ("last_name", "first_name", "company_name", "tax_code",
                                                 "vat_number", "address", "post_code", "city", "province", "email")}
        resp = post_form(client, "/portal/personal-data", dict(data, phone="06 1234567", birth_date=""))
        assert resp.status_code == 302
    finally:
        holding_smtp.release.set()
        worker.join(60)
    assert errors == []


def test_an_idn_domain_goes_out_encoded_and_a_utf8_local_part_fails_only_its_message(app, db):
    from tests.conftest import SmtpSink

    queue_mail("password_changed", "it", ["user@bücher.de"], {"name": "Ugo"}, key="idn")
    queue_mail("password_changed", "it", ["müller@example.it"], {"name": "Max"}, key="utf8-local")
    queue_mail("password_changed", "it", ["anna@example.com"], {"name": "Anna"}, key="plain")
    db.session.commit()
    with serve_smtp(app, SmtpSink(), enable_SMTPUTF8=False) as sink:
        counts = deliver_mail()
    assert counts["sent"] == 2 and counts["failed"] == 1
    assert _statuses(db) == {"idn": "sent", "utf8-local": "failed", "plain": "sent"}
    assert sorted(m.envelope_rcpt[0] for m in sink.messages) == ["anna@example.com", "user@xn--bcher-kva.de"]
    failed = db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.idempotency_key == "utf8-local"))
    assert "SMTPUTF8" in failed.error


def test_a_utf8_local_part_goes_to_a_server_that_advertises_smtputf8(app, db):
    from tests.conftest import SmtpSink

    queue_mail("password_changed", "it", ["müller@example.it"], {"name": "Max"}, key="utf8-ok")
    db.session.commit()
    with serve_smtp(app, SmtpSink(), enable_SMTPUTF8=True) as sink:
        assert deliver_mail()["sent"] == 1
    assert sink.messages[0].envelope_rcpt == ["müller@example.it"]
