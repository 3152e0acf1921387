"""The multi-node installation of deploy/, run for real: nginx (deploy/nginx-sportello.conf on
free ports, its own prefix) in front of two gunicorn nodes (deploy/gunicorn.conf.py) on
PostgreSQL, the limiter's counters in Redis, two scheduler processes. Customer traffic goes
through nginx while one web node and one scheduler are killed with SIGKILL.

PostgreSQL pass only (the nodes and schedulers share one database server)."""
from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import math
import os
import random
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from simulator.testing import free_port
from tests.conftest import csrf_token
from tests.ops.helpers import figures_key, read_env_file
from tests.portal.conftest import PASSWORD, make_account

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
REDIS_URL = "redis://127.0.0.1:6379/0"
TRAFFIC_SECONDS = 30
CLIENTS = 6
OUTBOX_SECONDS = 5
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
                       reason="multi-node installation: PostgreSQL pass only (TEST_DATABASE_URL is not PostgreSQL)"),
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make system-deps)"),
]


def render_site(listen: int, node_ports: list[int]) -> str:
    """deploy/nginx-sportello.conf with its placeholders filled, as envsubst does."""
    text = (DEPLOY / "nginx-sportello.conf").read_text()
    values = {"SPORTELLO_LISTEN": f"127.0.0.1:{listen}",
              "SPORTELLO_NODE_1": f"127.0.0.1:{node_ports[0]}",
              "SPORTELLO_NODE_2": f"127.0.0.1:{node_ports[1]}"}
    return string.Template(text).safe_substitute(values)


def nginx_conf(prefix: Path, site: Path) -> str:
    """The main configuration around the site: everything under the prefix, no root needed."""
    temp = "\n".join(f"    {kind}_temp_path {prefix}/tmp/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format upstream '$request_method $uri $status $upstream_addr';
    access_log {prefix}/logs/access.log upstream;
{temp}
    include {site};
}}
"""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list = field(default_factory=list)  # (start, end, method, path, status)
    readings: int = 0

    def add(self, *row) -> None:
        with self.lock:
            self.requests.append(row)


class Customer:
    """A browser of one customer: cookies, no redirect following, every answer recorded."""

    def __init__(self, base: str, tally: Tally):
        self.base, self.tally = base, tally
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)

    def call(self, method: str, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method=method)
        start = time.monotonic()
        try:
            with self.opener.open(req, timeout=30) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode(errors="replace")
        except OSError:
            status, text = 599, ""  # the connection dropped: a lost request as well
        self.tally.add(start, time.monotonic(), method, path.split("?")[0], status)
        return status, text

    def post_form(self, path: str, data: dict) -> int:
        status, page = self.call("GET", path)
        if status != 200:
            return status
        return self.call("POST", path, {**data, "csrf_token": csrf_token(page)})[0]


class Process:
    def __init__(self, name: str, args: list[str], env: dict, log: Path):
        self.name, self.log_path = name, log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the whole process group (a gunicorn master and its workers)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        # The master is gone; its workers die with it, but until the last of them is gone the
        # listening socket still takes connections into its backlog. "Killed" means all gone.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill()
        self._log.close()

    def text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")


def _wait_ready(url: str, procs: list[Process], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.proc.poll() is not None:
                pytest.fail(f"{p.name} stopped: {p.text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} not ready: " + " | ".join(p.text()[-1500:] for p in procs))


@pytest.fixture
def redis_prefix():
    """A limiter key prefix of this run, its keys deleted afterwards."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis does not answer at " + REDIS_URL)
    prefix = f"sportello-test-{uuid.uuid4().hex[:12]}"

    def clear():
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)

    yield prefix, clear
    clear()
    client.close()


def _customers(db, n: int):
    """n customers with a plain meter each, a portal account; (username, supply point, meter id, value)."""
    from app.models import Customer as CustomerRow, Meter, SupplyPoint
    from app.services.portal.readings import previous_reading

    meters = db.session.scalars(sa.select(Meter).join(SupplyPoint).where(
        Meter.has_corrector.is_(False), Meter.removed_on.is_(None)).order_by(Meter.id)).all()
    out, seen = [], set()
    for meter in meters:
        sp = meter.supply_point
        if sp.customer_id in seen or previous_reading(meter) is None:
            continue
        seen.add(sp.customer_id)
        user = make_account(db, None, db.session.get(CustomerRow, sp.customer_id))
        value = (previous_reading(meter).value + 5) % 10 ** meter.digits
        out.append((user.username, sp.id, meter.id, str(value)))
        if len(out) == n:
            break
    db.session.commit()
    return out


def _browse(customer: Customer, who, until: float, reading_at: float, tally: Tally) -> None:
    username, sp_id, meter_id, value = who
    status = customer.post_form("/portal/login", {"username": username, "password": PASSWORD})
    assert status == 302, f"sign-in of {username}: {status}"
    submitted = False
    while time.monotonic() < until:
        customer.call("GET", "/portal/home")
        customer.call("GET", "/portal/invoices")
        if not submitted and time.monotonic() >= reading_at:
            submitted = True
            status = customer.post_form(f"/portal/supply/{sp_id}/reading", {
                "meter": str(meter_id), "reading_date": dt.date.today().isoformat(), "value": value})
            if status == 302:
                with tally.lock:
                    tally.readings += 1
        time.sleep(0.1)


def _in_flight(tally: Tally, at: float) -> int:
    return sum(1 for start, end, *_ in tally.requests if start <= at <= end)


def test_two_nodes_two_schedulers_behind_nginx_survive_a_kill(app, db, database_url, billing_sim, tmp_path,
                                                             redis_prefix, request):
    # `db` empties the shared database afterwards: the nodes' customers and accounts must not
    # meet the tests that follow.
    from app.jobs import ANCHOR
    from app.models import JobRun, OutboxMessage, OutboxStatus
    from app.services.sync.alignment import align

    began = time.monotonic()
    prefix, clear_limits = redis_prefix
    with app.app_context():
        assert align(full=True).status == "ok"
        who = _customers(db, CLIENTS + 1)  # the last one's reading is the one in flight at the kill
        assert len(who) == CLIENTS + 1
        since = dt.datetime.utcnow() - dt.timedelta(seconds=1)
        outbox_before = db.session.scalar(sa.select(sa.func.max(OutboxMessage.id))) or 0

    ports = [free_port(), free_port()]
    listen = free_port()
    triggers = {"outbox": {"trigger": "interval", "seconds": OUTBOX_SECONDS},
                **{job: {"trigger": "interval", "hours": 12} for job in ("alignment", "mail", "contracts")},
                "reminders": {"trigger": "cron", "hour": 3}, "invoice_mail": {"trigger": "cron", "hour": 3}}
    # deploy/sportello.env, as systemd's EnvironmentFile= reads it, with this machine's hosts,
    # ports, database and secrets; two web workers' worth of threads on one (2 cores here).
    env = {**os.environ, **read_env_file(DEPLOY / "sportello.env"),
           "SESSION_COOKIE_SECURE": "0",  # plain HTTP here
           "DATABASE_URL": database_url, "MAIL_USE_TLS": "0",
           "SECRET_KEY": "multi-node-secret-key-" + "k" * 32, "RATELIMIT_STORAGE_URI": REDIS_URL,
           "RATELIMIT_KEY_PREFIX": prefix, "SPORTELLO_PROXIES": "1", "TRUST_PROXY_REQUEST_ID": "1",
           "BILLING_URL": billing_sim.url, "BILLING_WSDL_CACHE_DIR": str(tmp_path / "wsdl"),
           "SPORTELLO_VAR_DIR": str(tmp_path / "var"), "LOG_FORMAT": "json", "WEB_CONCURRENCY": "1",
           "SPORTELLO_THREADS": "4", "PUBLIC_BASE_URL": f"http://127.0.0.1:{listen}",
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(free_port()),
           "JOB_TRIGGERS": json.dumps(triggers), "SCHEDULER_CHECK_SECONDS": "5"}
    assert env["SPORTELLO_ENV"] == "production" and env["LOG_FORMAT"] == "json"
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    procs: list[Process] = []
    nodes = []
    for i, port in enumerate(ports, 1):
        node_env = {**env, "SPORTELLO_BIND": f"127.0.0.1:{port}",
                    "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"metrics{i}")}
        nodes.append(Process(f"web node {i}", [sys.executable, "-m", "gunicorn", "-c",
                                                str(DEPLOY / "gunicorn.conf.py"), "app:create_app()"],
                             node_env, tmp_path / f"web{i}.log"))
    schedulers = [Process(f"scheduler {i}", [sys.executable, "-m", "flask", "--app", "app.py", "sportello",
                                             "scheduler"],
                          {**env, "SCHEDULER_METRICS_BIND": f"127.0.0.1:{free_port()}"},  # one host, two
                          tmp_path / f"scheduler{i}.log") for i in (1, 2)]
    prefix_dir = tmp_path / "nginx"
    for sub in ("logs", "tmp"):
        (prefix_dir / sub).mkdir(parents=True)
    site = prefix_dir / "sportello.conf"
    site.write_text(render_site(listen, ports))
    (prefix_dir / "nginx.conf").write_text(nginx_conf(prefix_dir, site))
    nginx = Process("nginx", [NGINX, "-p", str(prefix_dir), "-c", str(prefix_dir / "nginx.conf")],
                    env, prefix_dir / "logs" / "stderr.log")
    procs = [*nodes, *schedulers, nginx]
    base = f"http://127.0.0.1:{listen}"
    try:
        for port in ports:
            _wait_ready(f"http://127.0.0.1:{port}/readyz", procs, 150)
        _wait_ready(f"{base}/readyz", procs, 20)
        booted = time.monotonic()

        # Sign-in throttling counted once across nodes: the lock of one address on one account
        # (login_policy.PAIR_FAILS wrong passwords) comes at the next attempt although the
        # attempts alternate between the two nodes (counted per node it would come twice as late).
        from app.services.core.login_policy import PAIR_FAILS

        wrong = Customer(base, Tally())
        token = csrf_token(wrong.call("GET", "/portal/login")[1])  # one form, posted again and again
        answers = [wrong.call("POST", "/portal/login", {"username": "nobody-here", "password": "wrong password",
                                                        "csrf_token": token})[0] for _ in range(PAIR_FAILS + 1)]
        assert answers[:PAIR_FAILS] == [200] * PAIR_FAILS and answers[PAIR_FAILS] == 429, answers
        served = [line.split()[3:] for line in (prefix_dir / "logs/access.log").read_text().splitlines()
                  if line.startswith("POST /portal/login ")]
        assert {f"127.0.0.1:{port}" for port in ports} <= {a.strip(',') for addrs in served for a in addrs}, served
        clear_limits()  # the customers below sign in from the same address

        tally = Tally()
        start = time.monotonic()
        until = start + TRAFFIC_SECONDS
        threads = [threading.Thread(target=_browse, args=(Customer(base, tally), who[i], until,
                                                            start + 3 + random.uniform(0, TRAFFIC_SECONDS - 10), tally))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(TRAFFIC_SECONDS / 3)
        killed_at = time.monotonic()
        nodes[0].kill()

        # A scheduler is killed in the middle of an outbox run: billing answers slowly, one more
        # reading is sent, and the scheduler delivering it is killed while the call is on the wire.
        billing_sim.control("delay", seconds=4)
        late = Customer(base, tally)
        username, sp_id, meter_id, value = who[CLIENTS]
        assert late.post_form("/portal/login", {"username": username, "password": PASSWORD}) == 302
        assert late.post_form(f"/portal/supply/{sp_id}/reading", {
            "meter": str(meter_id), "reading_date": dt.date.today().isoformat(), "value": value}) == 302
        with tally.lock:
            tally.readings += 1
        with app.app_context():
            deadline = time.monotonic() + 6 * OUTBOX_SECONDS
            victim = killed_run = None
            while victim is None and time.monotonic() < deadline:
                db.session.rollback()
                run = db.session.scalar(sa.select(JobRun).where(
                    # the run that holds the new reading, which may have started before billing
                    # slowed down (it was still delivering the traffic's readings)
                    JobRun.job_id == "outbox", JobRun.status == "running")
                    .order_by(JobRun.id.desc()).limit(1))
                delivering = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.id > outbox_before, OutboxMessage.status == OutboxStatus.DELIVERING))
                if run is not None and delivering:
                    pid = int(run.holder.rsplit(":", 1)[1])
                    victim = next((s for s in schedulers if s.proc.pid == pid), None)
                    killed_run = run.id
                time.sleep(0.1)
            assert victim is not None, "no scheduler was caught delivering"
        victim.kill()
        billing_sim.clear()
        for t in threads:
            t.join(60)

        # The surviving scheduler delivers what is left.
        with app.app_context():
            deadline = time.monotonic() + 6 * OUTBOX_SECONDS
            while time.monotonic() < deadline:
                db.session.rollback()
                rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id > outbox_before)).all()
                if rows and all(r.delivered_at is not None for r in rows) and len(rows) >= tally.readings:
                    break
                time.sleep(1)
            runs = db.session.scalars(sa.select(JobRun).where(JobRun.started_at >= since)).all()
        stats = billing_sim.stats()
    except BaseException:
        # What nginx and the processes said, in the failure's report (its captured output).
        logs = {name: (prefix_dir / "logs" / name).read_text(errors="replace")
                if (prefix_dir / "logs" / name).exists() else "" for name in ("error.log", "access.log")}
        print("nginx error log:", logs["error.log"][-4000:])
        print("nginx answers of 500 and above:", [line for line in logs["access.log"].splitlines()
                                                  if len(line.split()) >= 3 and line.split()[2] >= "500"][-40:])
        for p in procs:
            print(f"--- {p.name}:", p.text()[-2000:])
        raise
    finally:
        for p in procs:
            p.stop()

    lost = [r for r in tally.requests if r[4] >= 500]
    in_flight = _in_flight(tally, killed_at)
    keys = [k for k in stats["applied_keys"] if k in {r.idempotency_key for r in rows}]
    duplicated = len(keys) - len(set(keys))
    slots = {}
    for run in runs:
        slot = math.floor((run.started_at - ANCHOR.replace(tzinfo=None)).total_seconds() / OUTBOX_SECONDS)
        slots.setdefault((run.job_id, slot), []).append(run)
    figures = {"requests": len(tally.requests), "lost": len(lost), "in flight at the kill": in_flight,
               "readings": tally.readings, "outbox rows": len(rows),
               "delivered": sum(r.delivered_at is not None for r in rows), "duplicated": duplicated,
               "job runs": len(runs), "killed mid-run": killed_run is not None, "boot seconds": round(booted - began),
               "seconds": round(time.monotonic() - began)}
    line = "multi-node figures: " + ", ".join(f"{k}: {v}" for k, v in figures.items())
    print("\n" + line)
    request.config.stash.setdefault(figures_key, []).append(line)

    assert len(tally.requests) > 100
    # No IBAN, password or token in any process's log or nginx's access log.
    from tests.logscan import findings

    logs = [*(tmp_path / f"{kind}{i}.log" for kind in ("web", "scheduler") for i in (1, 2)),
            prefix_dir / "logs" / "access.log"]
    leaks = {path.name: findings(path.read_text(errors="replace")) for path in logs if path.exists()}
    assert len(leaks) == len(logs) and not any(leaks.values()), leaks
    assert len(lost) <= in_flight, (lost, in_flight)
    # ... and, from nginx's own log, every request it answered with an error was one the killed
    # node held (its upstream address is that node's); none was lost on the surviving node.
    killed_node = f"127.0.0.1:{ports[0]}"
    failed_upstream = [line.split() for line in (prefix_dir / "logs/access.log").read_text().splitlines()
                       if len(line.split()) >= 4 and line.split()[2] >= "500"]
    assert all(parts[3].strip(",") == killed_node and len(parts) == 4 for parts in failed_upstream), \
        (killed_node, failed_upstream)
    assert all(method == "POST" for _, _, method, _, _ in lost), lost  # GETs go to the other node
    # Customers stay signed in on the surviving node (the session is in the signed cookie).
    pages = [status for _, _, method, path, status in tally.requests
             if method == "GET" and path in ("/portal/home", "/portal/invoices")]
    assert set(pages) == {200}, sorted(set(pages))
    assert tally.readings >= CLIENTS - 1  # a reading in flight on the killed node may be lost
    assert len(rows) >= tally.readings
    assert all(r.delivered_at is not None for r in rows), [(r.id, r.status) for r in rows]
    assert sorted(set(keys)) == sorted(r.idempotency_key for r in rows)  # each row reached billing
    assert duplicated == 0
    # No job slot started twice; no run left "running" (a killed holder's run is closed).
    assert all(len(v) == 1 for v in slots.values()), {k: [r.holder for r in v] for k, v in slots.items() if len(v) > 1}
    assert not [r for r in runs if r.status == "running"]
    # The run killed half-way was closed by the survivor, which delivered what it had claimed.
    assert {r.id: r.status for r in runs}[killed_run] == "interrupted"
    holders = {r.holder for r in runs if r.job_id == "outbox"}
    assert len(holders) == 2  # the survivor took over the killed scheduler's slots
