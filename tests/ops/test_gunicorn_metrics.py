"""/metrics under gunicorn with deploy/gunicorn.conf.py: two workers, multiprocess mode, one
scrape adds up what every worker counted."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from simulator.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-scrape-token-for-tests-0001"


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.slow
def test_two_gunicorn_workers_are_counted_together(app, database_url, tmp_path):
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x" * 48, "METRICS_TOKEN": TOKEN,
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "SPORTELLO_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": "2", "SPORTELLO_THREADS": "1", "SPORTELLO_VAR_DIR": str(tmp_path / "var"),
           "BILLING_WSDL_CACHE_DIR": str(tmp_path / "wsdl"), "RATELIMIT_STORAGE_URI": "memory://",
           "LOG_FORMAT": "json"}
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                             "app:create_app()"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # two workers import the app: slow on a busy machine
        while time.monotonic() < deadline:
            try:
                if _get(f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("gunicorn did not become ready: " + (tmp_path / "gunicorn.log").read_text()[-2000:])
        for _ in range(20):
            assert _get(f"{base}/portal/login")[0] == 200
        assert _get(f"{base}/metrics")[0] == 404  # no token: off
        status, text = _get(f"{base}/metrics", TOKEN)
        assert status == 200
        counted = sum(s.value for fam in text_string_to_metric_families(text) for s in fam.samples
                      if s.name == "sportello_http_requests_total" and s.labels.get("endpoint") == "portal.login")
        assert counted == 20
        # The counters live in the workers' files (one per process), which the scrape adds up.
        assert list(metrics_dir.glob("counter_*.db"))
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
    lines = (tmp_path / "gunicorn.log").read_text().splitlines()
    assert any('"logger": "sportello.web"' in line and '"endpoint": "portal.login"' in line for line in lines)
