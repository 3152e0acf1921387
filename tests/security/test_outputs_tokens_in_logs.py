"""No token in any log: the gunicorn access log (the deploy configuration's logger class, when an
access log is turned on) and the app's loggers mask the password reset link's token and the
invoice link's `t=`."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from app.services.core.masking import TokenMaskingFilter, mask_tokens

ROOT = Path(__file__).resolve().parents[2]


def test_no_token_in_access_log_after_a_reset(app, db, database_url, tmp_path, customer_graph):
    from app.services.mailing.invoice_links import invoice_token
    from app.services.portal import accounts
    from simulator.testing import free_port
    from tests.portal.conftest import make_account

    user = make_account(db, app, customer_graph["customer"])
    reset = accounts.make_reset_token(user)
    invoice = customer_graph["invoice"]
    link = invoice_token(invoice.id, invoice.customer_id)
    db.session.commit()
    port = free_port()
    log = tmp_path / "access.log"
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": app.config["SECRET_KEY"],
           "SPORTELLO_VAR_DIR": str(tmp_path), "SCHEDULER_ENABLED": "0", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    env.pop("SPORTELLO_ENV", None)
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                             "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket",
                             "--access-logfile", str(log), "app:create_app()"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                urllib.request.urlopen(base + "/portal/login", timeout=30)
                break
            except OSError:  # not listening yet (URLError, refused, timed out)
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(0.5)
        page = urllib.request.urlopen(f"{base}/portal/reset/{reset}", timeout=60)
        assert page.status == 200  # the link is valid: the form to choose a new password
        try:
            urllib.request.urlopen(f"{base}/portal/invoices/{invoice.id}?t={link}&x=1", timeout=60)
        except urllib.error.HTTPError:
            pass
        for _ in range(40):
            if log.exists() and "/invoices/" in log.read_text():
                break
            time.sleep(0.25)
    finally:
        proc.terminate()
        proc.wait(20)
    text = log.read_text()
    assert "/portal/reset/[token]" in text and "t=[token]" in text
    assert reset not in text and link not in text


def test_no_token_in_app_logs(caplog):
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1,
                               '"GET %s HTTP/1.1" 200', ("/portal/reset/abc.DEF-123?x=1",), None)
    TokenMaskingFilter().filter(record)
    assert record.getMessage() == '"GET /portal/reset/[token]?x=1 HTTP/1.1" 200'
    assert mask_tokens("/portal/invoices/5?t=eyJpIjo1fQ.abc&back=x") == "/portal/invoices/5?t=[token]&back=x"
    assert mask_tokens("/portal/reset/web-code") == "/portal/reset/web-code"  # a page, not a token


def test_no_token_in_json_log_after_a_429_on_a_reset_link(app, db, customer_graph):
    """A 429 on a reset link is a security event: its JSON line names the route, never the token."""
    from app.services.core.logs import JsonFormatter
    from app.services.core.request_id import LogFilter
    from app.services.portal import accounts
    from app.views.portal.auth import RESET_LIMIT
    from tests.conftest import csrf_token
    from tests.logscan import findings
    from tests.portal.conftest import make_account

    user = make_account(db, app, customer_graph["customer"])
    token = accounts.make_reset_token(user)
    db.session.commit()
    # A handler as production's logging set-up makes one: JSON lines, request ids, masking.
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(LogFilter())
    handler.addFilter(TokenMaskingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    client = app.test_client()
    ip = {"REMOTE_ADDR": "198.51.100.15"}
    try:
        page = client.get(f"/portal/reset/{token}", environ_base=ip)
        data = {"answer": "wrong", "password": "x", "password_confirm": "x",
                "csrf_token": csrf_token(page.get_data(as_text=True))}
        codes = [client.post(f"/portal/reset/{token}", data=data, environ_base=ip).status_code
                 for _ in range(int(RESET_LIMIT.split()[0]) + 1)]
    finally:
        root.removeHandler(handler)
    assert codes[-1] == 429
    text = out.getvalue()
    [line] = [json.loads(row) for row in text.splitlines() if '"rate_limited"' in row]
    assert line["route"] == "/portal/reset/<token>" and line["path"] == "/portal/reset/[token]"
    assert token not in text and token.split(".")[0] not in text
    assert findings(text) == []  # what the run's log scan looks for
    assert findings(f"/portal/reset/{token}")  # ... and it would see this token
