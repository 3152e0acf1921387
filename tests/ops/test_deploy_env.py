"""The processes of deploy/ started with deploy/sportello.env and their systemd unit's settings
(only hosts, ports and paths changed to this machine's): the scheduler runs its jobs, calls
billing and serves its counters on its own /metrics; a web node writes its workers' metrics
where its unit lets it; a metrics directory that can't be used never breaks the work."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from simulator.testing import free_port
from tests.ops.flows import align_and_login, submit_reading
from tests.ops.helpers import DEPLOY, read_env_file, unit_settings

ROOT = Path(__file__).resolve().parents[2]


def unit_environment(unit: str, root: Path) -> tuple[dict[str, str], list[str]]:
    """What systemd gives the unit's process: the environment file, then its Environment= lines
    (the file wins, as with systemd), with /run and /var/lib moved under `root`; the directories
    systemd creates for it (StateDirectory, RuntimeDirectory) are created. Returns (environment,
    the command after the venv's bin/)."""
    settings = unit_settings(unit)
    env: dict[str, str] = {}
    for line in settings.get("Environment", []):
        key, _, value = line.partition("=")
        env[key] = value
    env.update(read_env_file(DEPLOY / "sportello.env"))
    moved = {"/run/": str(root / "run") + "/", "/var/lib/": str(root / "var-lib") + "/"}

    def move(value: str) -> str:
        for old, new in moved.items():
            value = value.replace(old, new)
        return value

    env = {key: move(value) for key, value in env.items()}
    for name in settings.get("StateDirectory", []):
        (root / "var-lib" / name).mkdir(parents=True, exist_ok=True)
    for name in settings.get("RuntimeDirectory", []):
        (root / "run" / name).mkdir(parents=True, exist_ok=True)
    command = settings["ExecStart"][0].split()
    command = [part.strip('"') for part in command]
    command[0] = Path(command[0]).name
    return env, command


def local_overrides(env: dict[str, str], database_url: str, billing_url: str, **ports: int) -> dict[str, str]:
    """Hosts, ports and the database of this machine; everything else as the files say."""
    out = dict(env)
    out.update(DATABASE_URL=database_url, BILLING_URL=billing_url,
               # The shared Redis of this machine, with keys of this test's own.
               RATELIMIT_KEY_PREFIX=f"deploy-env-{uuid.uuid4().hex[:8]}",
               MAIL_SERVER="127.0.0.1", MAIL_PORT="9", MAIL_USE_TLS="0",
               BILLING_WSDL_CACHE_DIR=str(Path(env["SPORTELLO_VAR_DIR"]) / "wsdl"))
    for key, port in ports.items():
        host = out[key].rpartition(":")[0]
        out[key] = f"{host}:{port}"
    return out


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def redis_up():
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no Redis here
        pytest.skip(f"the deploy environment shares its rate limits through Redis; none answers: {exc}")


@pytest.mark.slow
def test_the_scheduler_of_the_deploy_files_delivers_and_serves_its_counters(
        app, client, db, database_url, billing_sim, tmp_path, redis_up):
    from app.jobs import JOBS
    from app.models import OutboxMessage

    sp, meter = align_and_login(client, db)
    assert submit_reading(client, sp, meter).status_code == 302
    db.session.remove()

    env, command = unit_environment("sportello-scheduler.service", tmp_path)
    metrics_port = free_port()
    env = local_overrides(env, database_url, billing_sim.url, SCHEDULER_METRICS_BIND=metrics_port)
    # The outbox every 2 s; the other jobs not in this test's minute.
    triggers = {job.id: {"trigger": "cron", "month": 1, "day": 1, "hour": 3} for job in JOBS}
    triggers["outbox"] = {"trigger": "interval", "seconds": 2}
    env["JOB_TRIGGERS"] = json.dumps(triggers)
    token = env["METRICS_TOKEN"]
    assert command[:1] == ["flask"]
    log = tmp_path / "scheduler.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", *command], cwd=ROOT, env={"PATH": os.environ["PATH"], **env},
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    values: dict = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                status, text = _get(url, token)
            except OSError:
                time.sleep(0.5)
                continue
            assert status == 200, text
            values = samples(text)
            if values.get(("sportello_job_runs_total", (("job", "outbox"), ("outcome", "ok"))), 0) >= 1:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"no outbox run in the scheduler's metrics: {log.read_text()[-3000:]}")
        assert _get(url)[0] == 404  # no token: nothing
        assert _get(url, "wrong-token")[0] == 404
    finally:
        _stop(proc)
    text = log.read_text()
    # The billing call happened in the scheduler, was counted there and the write went through.
    assert values[("sportello_billing_calls_total", (("adapter", "nav"), ("operation", "submit_reading")))] == 1
    assert values[("sportello_job_duration_seconds_count", (("job", "outbox"), ("outcome", "ok")))] >= 1
    row = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.operation == "submit_reading"))
    assert row.status.value == "delivered", text[-3000:]
    assert "Error" not in text and "Traceback" not in text, text[-3000:]


@pytest.mark.slow
def test_a_web_node_of_the_deploy_files_writes_its_metrics_where_its_unit_allows(
        app, db, database_url, tmp_path, redis_up):
    env, command = unit_environment("sportello-web.service", tmp_path)
    directory = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    # Inside what the unit may write (ProtectSystem=strict): its RuntimeDirectory or ReadWritePaths.
    writable = [tmp_path / "run" / name for name in unit_settings("sportello-web.service")["RuntimeDirectory"]]
    assert any(directory.is_relative_to(path) for path in writable), directory
    port = free_port()
    env = local_overrides(env, database_url, "http://127.0.0.1:9/NAV/WS/DEMO", SPORTELLO_BIND=port)
    env["WEB_CONCURRENCY"] = "1"  # one worker is enough here; two are added up in test_gunicorn_metrics
    assert command[0] == "gunicorn"
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", *command], cwd=ROOT, env={"PATH": os.environ["PATH"], **env},
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if _get(f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the web node did not become ready: " + log.read_text()[-3000:])
        assert _get(f"{base}/portal/login")[0] == 200
        status, text = _get(f"{base}/metrics", env["METRICS_TOKEN"])
    finally:
        _stop(proc)
    assert status == 200
    assert samples(text)[("sportello_http_requests_total",
                          (("endpoint", "portal.login"), ("method", "GET"), ("status", "200")))] == 1
    assert list(directory.glob("counter_*.db"))  # the worker's file, in the unit's directory
    assert "can't be used" not in log.read_text()


FALLBACK_SCRIPT = """
from app import create_app
from app.services.core import metrics
from app.services.ops.metrics import process_exposition

create_app()
metrics.observe_job("outbox", "ok", 0.5)
metrics.count_billing_call("submit_reading", "nav")
print(process_exposition().decode())
"""


@pytest.mark.parametrize("unusable", ["/dev/null/metrics", "missing"])
def test_a_metrics_directory_that_cant_be_used_never_breaks_the_work(database_url, tmp_path, unusable):
    """Missing (created) or impossible to create (counted elsewhere, said once in the log)."""
    directory = str(tmp_path / "gone" / "metrics") if unusable == "missing" else unusable
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x" * 48, "PROMETHEUS_MULTIPROC_DIR": directory,
           "SPORTELLO_VAR_DIR": str(tmp_path / "var"), "LOG_FORMAT": "text"}
    env.pop("SPORTELLO_ENV", None)
    done = subprocess.run([sys.executable, "-c", FALLBACK_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    values = samples(done.stdout)
    assert values[("sportello_job_runs_total", (("job", "outbox"), ("outcome", "ok")))] == 1
    assert values[("sportello_billing_calls_total", (("adapter", "nav"), ("operation", "submit_reading")))] == 1
    if unusable == "missing":
        assert list(Path(directory).glob("counter_*.db"))
        assert "can't be used" not in done.stderr
    else:
        assert re.search(r"PROMETHEUS_MULTIPROC_DIR=/dev/null/metrics can't be used .*counting in \S+", done.stderr)
