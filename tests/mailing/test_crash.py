"""F-31: the batch process killed (SIGKILL) mid-run and started again completes the night's
batch; duplicates happen only among the messages in flight at the kill, and are counted."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from app.models import InvoiceEmailLog, SendOutcome

ROOT = Path(__file__).resolve().parents[2]


class SlowSink:
    """An aiosmtpd handler that takes a little time per message and keeps what it got."""

    def __init__(self, delay: float):
        self.delay = delay
        self.received: list[tuple[str, str, tuple[str, ...]]] = []  # (message id, subject, rcpts)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        await asyncio.sleep(self.delay)
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.lock:
            self.received.append((msg["Message-ID"], msg["Subject"], tuple(envelope.rcpt_tos)))
        return "250 Message accepted"


def batch_process(app, port: int, var_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               SECRET_KEY=app.config["SECRET_KEY"], MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port),
               MAIL_USE_TLS="0", PUBLIC_BASE_URL=app.config["PUBLIC_BASE_URL"],
               SPORTELLO_VAR_DIR=str(var_dir), BILLING_URL="http://127.0.0.1:9/NAV/WS/DEMO")
    log = open(var_dir / "batch.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app.py", "sportello", "invoice-mail",
                             "--chunk", "10", "--quiet"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def test_F31_batch_killed_mid_run_and_restarted_completes_with_counted_duplicates(
        app, db, mailing_data, tmp_path):
    from aiosmtpd.controller import Controller

    from simulator.testing import free_port

    data = mailing_data(60, recipients=2)
    sink = SlowSink(delay=0.03)
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        first = batch_process(app, port, tmp_path)
        deadline = time.monotonic() + 120
        while len(sink.received) < 15 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.01)
        assert first.poll() is None, (tmp_path / "batch.log").read_text()[-2000:]
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
        at_kill = len(sink.received)
        db.session.rollback()
        left = Counter(r.outcome for r in db.session.scalars(sa.select(InvoiceEmailLog)))
        assert left[SendOutcome.SENT] < 120  # killed mid-run
        in_flight = left[SendOutcome.SENDING]
        assert in_flight <= 2  # at most one message (its two addresses) was on the wire

        second = batch_process(app, port, tmp_path)
        assert second.wait(180) == 0, (tmp_path / "batch.log").read_text()[-2000:]
    finally:
        controller.stop()
    output = (tmp_path / "batch.log").read_text()
    uncertain = int(re.findall(r"uncertain (\d+)", output)[-1])
    assert uncertain == in_flight

    db.session.rollback()
    rows = db.session.scalars(sa.select(InvoiceEmailLog)).all()
    assert len(rows) == 120 and {r.outcome for r in rows} == {SendOutcome.SENT}
    deliveries = Counter((subject, rcpt) for _, subject, rcpts in sink.received for rcpt in rcpts)
    expected = {(f"La tua bolletta {inv.number} è disponibile", e) for _, _, inv, emails in data for e in emails}
    assert set(deliveries) == expected  # everything arrived
    duplicates = sum(n - 1 for n in deliveries.values())
    assert duplicates <= uncertain  # only the in-flight addresses may have arrived twice
    # A message sent again carries the Message-ID it had when it was interrupted.
    ids = Counter(mid for mid, _, _ in sink.received)
    assert sum(n - 1 for n in ids.values()) * 2 == duplicates
    assert len(sink.received) >= at_kill
