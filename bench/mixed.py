"""Benchmark: a mixed workload of signed-in customers (or, with --staff, of staff), against the
floor and the baseline, on SQLite and PostgreSQL.

    .venv/bin/python bench/mixed.py [--db bench/data/aligned-100000-12-1.db] [--engine both]
                                    [--staff] [--seconds 15] [--rounds 3] [--users 16] [--rate 0]
                                    [--no-write]

Customers: `--customers` (50) portal accounts are created for customers of the aligned database
with a year of more than one page of invoices and an active meter, each signed in through the
portal's login form. Every request picks one of them and a page: home, the invoice list
filtered by year at page 2, an invoice, an invoice's PDF (stored, as billing's print would
be), a supply point's consumption, "my requests" (95 % split evenly) and, 5 %, a self-reading:
a POST of the reading form with the session's CSRF token and a valid reading (the next day
after the meter's last reading, a little higher). The floor (bench/floor_app.py: the stack
answering a signed-in request with "ok") and the baseline (bench/baseline_app.py: one indexed
query, a file template) are loaded the same way, in alternating rounds.

Staff (--staff): a call-center operator's search by tax code and by name prefix, the
call-center customer page, the start page, and a manager's activities list, against the
stock Flask-AppBuilder views of the same data (the customer list filtered by tax code and by
name, the customer's show page), each in its own server.

Load: locust (headless, FastHttpUser, closed loop, no wait, `--users` users; with `--rate R`
paced instead: each user sends R / users requests a second on average at exponentially
distributed intervals, together a Poisson stream of R requests a second, so the latencies are
those of a node serving R requests a second, not of one driven to saturation), every latency
kept (bench/mixed_locustfile.py). Servers: gunicorn with the deployment's settings
(deploy/gunicorn.conf.py: 2 workers, 4 threads) plus hooks that add up each request's thread
CPU by page kind (bench/mixed_gunicorn.py). Figures per round, medians of the rounds: requests/s,
p50/p95/p99, errors per page kind; the CPU of the gunicorn workers (user + system, /proc) per
request served, and on PostgreSQL of the backends serving them (found in pg_stat_activity by
application_name); the load generator's own CPU. Then a fresh server takes 2 × 5,000 mixed
requests and its workers' resident memory is read after each half.

Targets (customers): worker CPU per request ≤ 2.0× the floor's and ≤ 3.0 ms, p99 < 50 ms at
16 connections on PostgreSQL, 150 requests/s served at p99 < 50 ms on PostgreSQL (`--rate 150`),
the floor ≤ 1.51 ms, worker + database CPU per request on PostgreSQL ≤ 1.25× SQLite's, worker
RSS ≤ 150 MB after 10,000 requests with < 5 % growth over the second 5,000.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import append_results, machine  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef0123456789"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) sportello-bench"
PASSWORD = "a long bench passphrase"
STAFF_PASSWORD = "bench-passphrase-not-common-42"
VENV_BIN = Path(sys.executable).parent
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_mixed"

CUSTOMER_MIX = {"home": 95 / 6, "invoice list": 95 / 6, "invoice": 95 / 6, "invoice pdf": 95 / 6,
                "consumption": 95 / 6, "my requests": 95 / 6, "reading": 5}
STAFF_MIX = {"search tax code": 1, "search name": 1, "customer page": 1, "start page": 1,
             "activities list": 1}
STOCK_MIX = {"stock list tax code": 1, "stock list name": 1, "stock show": 1}


# --- pure helpers (tests/unit/test_bench_mixed.py) ---------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) of `values`, linear between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def stat_cpu_ticks(stat: str) -> int:
    """utime + stime (clock ticks) from the text of /proc/<pid>/stat (the command name, in
    parentheses, may hold spaces and parentheses itself)."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def status_rss_kb(status: str) -> int:
    """VmRSS in kB from the text of /proc/<pid>/status (0 when absent)."""
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.M)
    return int(match.group(1)) if match else 0


def session_cookie(set_cookie: str | None) -> str | None:
    """`session=<value>` from a Set-Cookie header, None when it sets no session cookie."""
    if not set_cookie:
        return None
    for part in set_cookie.split(","):
        part = part.strip()
        if part.startswith("session="):
            return part.split(";", 1)[0]
    return None


def profile_top(collapsed: str, n: int = 20) -> tuple[int, list[tuple[str, int, int]]]:
    """From py-spy's collapsed stacks ("f1;f2;f3 count" per line): the number of samples and the
    `n` functions with most samples anywhere on the stack, as (function, inclusive, self)."""
    total, inclusive, own = 0, {}, {}
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        k = int(count)
        total += k
        frames = [re.sub(r":\d+\)$", ")", f.strip()) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + k
        own[frames[-1]] = own.get(frames[-1], 0) + k
    top = sorted(inclusive.items(), key=lambda kv: -kv[1])[:n]
    return total, [(f, k, own.get(f, 0)) for f, k in top]


# --- /proc -------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float | None:
    try:
        return stat_cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / TICK
    except OSError:
        return None


def worker_pids(master: subprocess.Popen) -> list[int]:
    return [int(p) for p in Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()]


def workers_cpu(master: subprocess.Popen) -> float:
    return sum(process_cpu(pid) or 0.0 for pid in worker_pids(master))


def workers_rss_mb(master: subprocess.Popen) -> list[float]:
    return [status_rss_kb(Path(f"/proc/{pid}/status").read_text()) / 1024 for pid in worker_pids(master)]


def copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy, write-ahead log included (copying the file alone would miss it)."""
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    a.backup(b)
    a.close()
    b.close()


# --- data --------------------------------------------------------------------------------------

def sa_text(sql):
    import sqlalchemy as sa

    return sa.text(sql)


def dead_port() -> int:
    from simulator.testing import free_port

    return free_port()


def make_app(url: str):
    from app import create_app
    from config import Config

    # No billing system answers: a refresh fails at once and pages use the local copy.
    # Sign-ins go through the login policy, which keeps its counts in the rate limiter's storage.
    return create_app(Config, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET,
                      BILLING_URL=f"http://127.0.0.1:{dead_port()}", SCHEDULER_ENABLED=False)


def prepare(db: Path, n_customers: int, seed: int, pdfs: bool = True) -> dict:
    """Accounts, stored PDFs and sign-ins on the SQLite copy `db`; returns what the load needs."""
    from flask_migrate import upgrade

    from app.extensions import db as _db
    from app.models import Invoice
    from app.roles import CALL_CENTER, CUSTOMER, MANAGER
    from app.security import init_security
    from app.services.core import settings
    from app.services.portal import readings
    from app.services.sync.invoice_pdf import invoice_pdf
    from app.models import SupplyPoint

    rnd = random.Random(seed)
    app = make_app(f"sqlite:///{db}")
    customers = []
    with app.app_context():
        upgrade(directory=str(app.config["MIGRATIONS_DIR"]), revision="heads")
        init_security(app.appbuilder)
        # The scheduled alignment keeps every copy fresh: pages never wait for billing here.
        settings.update({"portal_refresh_minutes": 1440})
        _db.session.execute(sa_text("UPDATE sync_state SET last_success_at = :now"),
                            {"now": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)})
        _db.session.commit()
        rows = _db.session.execute(sa_text("""
            SELECT i.customer_id, strftime('%Y', i.invoice_date) AS y, count(*) AS n
            FROM invoices i
            WHERE EXISTS (SELECT 1 FROM supply_points sp JOIN meters m ON m.supply_point_id = sp.id
                          WHERE sp.customer_id = i.customer_id AND m.removed_on IS NULL)
            GROUP BY 1, 2 HAVING count(*) > 12 ORDER BY n DESC, i.customer_id LIMIT :limit"""),
            {"limit": n_customers * 3}).all()
        seen, chosen = set(), []
        for cid, year, _n in rows:
            if cid not in seen:
                seen.add(cid)
                chosen.append((cid, year))
        chosen = chosen[:n_customers]
        if len(chosen) < n_customers:
            raise SystemExit(f"only {len(chosen)} customers have a year of more than 12 invoices")
        sm = app.appbuilder.sm
        role = sm.find_role(CUSTOMER)
        today = dt.date.today()
        for i, (cid, year) in enumerate(chosen):
            name = f"bench-customer-{i:02d}"
            user = sm.find_user(username=name) or sm.add_user(
                name, "Bench", f"Customer {i}", f"{name}@invalid", role, PASSWORD)
            user.customer_id = cid
            user.language = "it"
            invoices = [r[0] for r in _db.session.execute(sa_text(
                "SELECT id FROM invoices WHERE customer_id = :c ORDER BY invoice_date DESC, id"), {"c": cid})]
            details = rnd.sample(invoices, min(6, len(invoices)))
            pdf_id = invoices[0]
            if pdfs:
                invoice_pdf(_db.session.get(Invoice, pdf_id), ask_billing=False)  # stored, as billing's print would be
            sps = [r[0] for r in _db.session.execute(sa_text(
                "SELECT id FROM supply_points WHERE customer_id = :c ORDER BY id"), {"c": cid})]
            meters = []
            for sp_id in sps:
                sp = _db.session.get(SupplyPoint, sp_id)
                daily = readings.expected_daily(sp) or 0
                for m in sp.meters:
                    if m.removed_on is not None:
                        continue
                    prev = readings.previous_reading(m)
                    step = max(1, int(daily))
                    top = 10 ** (m.digits or 5)
                    start = (prev.reading_date + dt.timedelta(days=1)) if prev else today - dt.timedelta(days=60)
                    value = (prev.value if prev else 0) + step
                    days = (today - start).days + 1
                    if value + days * step >= top:
                        continue  # would pass zero: the customer would be asked to confirm
                    corrector = None
                    if m.has_corrector:
                        corrector = ((prev.corrector_value or 0) if prev else 0) + step
                        if corrector + days * step >= 10 ** (m.corrector_digits or 9):
                            continue
                    meters.append([i, f"/portal/supply/{sp_id}/reading", m.id, start.isoformat(),
                                   value, corrector, step])
            reading_sps = sorted({int(m[1].split("/")[3]) for m in meters})
            customers.append({"customer_id": cid, "year": year, "details": details, "pdf": pdf_id,
                              "sps": sps, "reading_sps": reading_sps, "meters": meters})
        staff = {}
        for name, role_name in (("bench-callcenter", CALL_CENTER), ("bench-manager", MANAGER)):
            if sm.find_user(username=name) is None:
                sm.add_user(name, "Bench", role_name, f"{name}@invalid", [sm.find_role(role_name)],
                            STAFF_PASSWORD)
            staff[role_name] = name
        _db.session.commit()
        # A manager must use a second factor: enrolled here, with a code from the secret.
        from app.services.core import two_factor
        import pyotp

        manager = sm.find_user(username="bench-manager")
        with app.test_request_context():
            if not two_factor.is_enrolled(manager):
                two_factor.begin_enrolment(manager, pyotp.random_base32())
                secret = two_factor.pending_secret(manager)
                assert two_factor.confirm_enrolment(manager, pyotp.TOTP(secret).now()), "enrolment refused"
            totp_secret = two_factor.secret_of(manager)
        sample = _db.session.execute(sa_text(
            "SELECT id, tax_code, search_name FROM customers WHERE tax_code != '' AND id % 97 = 0 "
            "ORDER BY id LIMIT 60")).all()
        _db.engine.dispose()

    sessions = []
    for i, c in enumerate(customers):
        cookie, csrf = customer_sign_in(app, f"bench-customer-{i:02d}", c["reading_sps"][0] if c["reading_sps"] else None)
        c["cookie"], c["csrf"] = cookie, csrf
        sessions.append(c)
    cc_cookie = staff_sign_in(app, "bench-callcenter")
    mgr_cookie = staff_sign_in(app, "bench-manager", totp_secret)
    return {"customers": sessions, "staff": {"callcenter": cc_cookie, "manager": mgr_cookie},
            "sample": [{"id": r[0], "tax_code": r[1], "name": (r[2] or "").split(" ")[0][:5]}
                       for r in sample]}


def _token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def customer_sign_in(app, username: str, reading_sp: int | None) -> tuple[str, str]:
    """Sign in through the portal's login form as a browser would; the cookie it holds then and
    the CSRF token of the reading form. From 127.0.0.1, where the load comes from: the session
    is bound to the address and browser it was opened from."""
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=USER_AGENT, REMOTE_ADDR="127.0.0.1")
    token = _token(client.get("/portal/login").get_data(as_text=True))
    answer = client.post("/portal/login", data={"username": username, "password": PASSWORD,
                                                 "csrf_token": token}, follow_redirects=True)
    assert answer.status_code == 200 and "/portal/invoices" in answer.get_data(as_text=True), \
        f"{username} could not sign in"
    csrf = ""
    if reading_sp is not None:
        csrf = _token(client.get(f"/portal/supply/{reading_sp}/reading").get_data(as_text=True))
    return f"session={client.get_cookie('session').value}", csrf


def staff_sign_in(app, username: str, totp_secret: str | None = None) -> str:
    """Sign in through FAB's login form (and the code step, for a role that needs a second factor)."""
    import pyotp

    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=USER_AGENT, REMOTE_ADDR="127.0.0.1")
    token = _token(client.get("/login/").get_data(as_text=True))
    client.post("/login/", data={"username": username, "password": STAFF_PASSWORD, "csrf_token": token})
    if totp_secret:
        token = _token(client.get("/login/code/").get_data(as_text=True))
        # the step after the one the enrolment used (each step is accepted once)
        code = pyotp.TOTP(totp_secret).generate_otp(int(time.time() // 30) + 1)
        client.post("/login/code/", data={"code": code, "csrf_token": token})
    assert client.get("/").status_code == 200, f"{username} could not sign in"
    return f"session={client.get_cookie('session').value}"


def customer_plans(data: dict) -> dict[str, dict]:
    ours, floor, base = [], [], []
    meters = []
    for c in data["customers"]:
        urls = {
            "home": ["/portal/home"],
            "invoice list": [f"/portal/invoices?year={c['year']}&page=2"],
            "invoice": [f"/portal/invoices/{i}" for i in c["details"]],
            "invoice pdf": [f"/portal/invoices/{c['pdf']}/pdf"],
            "consumption": [f"/portal/supply/{sp}/consumption" for sp in c["sps"]],
            "my requests": ["/portal/requests"],
            "reading form": [f"/portal/supply/{sp}/reading" for sp in c["reading_sps"]],
        }
        ours.append({"cookie": c["cookie"], "csrf": c["csrf"], "urls": urls})
        floor.append({"cookie": c["cookie"], "urls": {"floor": ["/portal/_floor"]}})
        base.append({"urls": {"baseline": [f"/invoices?customer={c['customer_id']}"]}})
        meters.extend(c["meters"])
    common = {"user_agent": USER_AGENT}
    return {"ours": dict(common, sessions=ours, mix=CUSTOMER_MIX, meters=meters),
            "floor": dict(common, sessions=floor, mix={"floor": 1}),
            "baseline": dict(common, sessions=base, mix={"baseline": 1})}


def staff_plans(data: dict) -> dict[str, dict]:
    sample, cc, mgr = data["sample"], data["staff"]["callcenter"], data["staff"]["manager"]
    cc_urls = {"search tax code": [f"/callcenter/?q={s['tax_code']}&go=0" for s in sample],
               "search name": [f"/callcenter/?q={s['name']}&go=0" for s in sample],
               "customer page": [f"/callcenter/customer/{s['id']}" for s in sample],
               "start page": ["/"]}
    stock_urls = {"stock list tax code": [f"/customerview/list/?_flt_0_tax_code={s['tax_code']}" for s in sample],
                  "stock list name": [f"/customerview/list/?_flt_0_search_name={s['name']}" for s in sample],
                  "stock show": [f"/customerview/show/{s['id']}" for s in sample]}
    common = {"user_agent": USER_AGENT}
    return {"ours": dict(common, mix=STAFF_MIX, sessions=[
                {"cookie": cc, "urls": cc_urls},
                {"cookie": mgr, "urls": {"activities list": ["/activityview/list/"]}}]),
            "stock": dict(common, mix=STOCK_MIX, sessions=[{"cookie": cc, "urls": stock_urls}])}


# --- PostgreSQL --------------------------------------------------------------------------------

def load_postgres(sqlite_path: Path, url: str) -> float:
    """A fresh database at `url`: the app's migrations, then every table copied from the SQLite
    file (COPY), sequences moved past the copied ids, ANALYZE. Returns the seconds it took."""
    import psycopg
    import sqlalchemy as sa
    from flask_migrate import upgrade

    t0 = time.perf_counter()
    target = sa.engine.make_url(url)
    admin = target.set(database="postgres").render_as_string(hide_password=False).replace("+psycopg", "")
    name = target.database
    assert name != "test", "never the test database"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    app = make_app(url)
    with app.app_context():
        upgrade(directory=str(app.config["MIGRATIONS_DIR"]), revision="heads")
        from app.extensions import db as _db

        _db.engine.dispose()
    dsn = target.render_as_string(hide_password=False).replace("+psycopg", "")
    src = sqlite3.connect(sqlite_path)
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename != 'alembic_version'")]
        conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
        conn.execute("SET session_replication_role = replica")  # no FK triggers while loading
        lite_tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in tables:
            if table not in lite_tables:
                continue
            pg_cols = [r[0] for r in conn.execute(
                "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
                "ORDER BY a.attnum", (table,))]
            lite_cols = {r[1] for r in src.execute(f'PRAGMA table_info("{table}")')}
            cols = [c for c in pg_cols if c in lite_cols]
            bools = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND data_type = 'boolean'", (table,))}
            flags = [c in bools for c in cols]
            col_list = ", ".join(f'"{c}"' for c in cols)
            with conn.cursor().copy(f'COPY "{table}" ({col_list}) FROM STDIN') as copy:
                for row in src.execute(f'SELECT {col_list} FROM "{table}"'):
                    if any(flags):
                        row = [bool(v) if f and v is not None else v for v, f in zip(row, flags)]
                    copy.write_row(row)
        conn.execute("SET session_replication_role = origin")
        for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND (column_default LIKE 'nextval%%' OR is_identity = 'YES')").fetchall():
            conn.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                         f"coalesce((SELECT max(\"{column}\") FROM \"{table}\"), 0) + 1, false)")
        conn.commit()
    src.close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return time.perf_counter() - t0


def postgres_reachable(url: str) -> bool:
    import psycopg
    import sqlalchemy as sa

    admin = sa.engine.make_url(url).set(database="postgres").render_as_string(hide_password=False)
    try:
        psycopg.connect(admin.replace("+psycopg", ""), connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


def backend_pids(dsn: str, application_name: str) -> list[int]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name,))]


def backends_cpu(dsn: str | None, application_name: str) -> dict[int, float]:
    if not dsn:
        return {}
    return {pid: cpu for pid in backend_pids(dsn, application_name)
            if (cpu := process_cpu(pid)) is not None}


# --- servers and load --------------------------------------------------------------------------

class Server:
    def __init__(self, name: str, spec: str, db_url: str, work: Path, workers: int, threads: int):
        from simulator.testing import free_port

        self.name, self.port = name, free_port()
        self.app_name = f"bench-mixed-{name}"
        if db_url.startswith("postgresql"):
            db_url += ("&" if "?" in db_url else "?") + f"application_name={self.app_name}"
        self.cpu_dir = work / f"cpu-{name}-{self.port}"
        self.cpu_dir.mkdir()
        env = dict(os.environ, DATABASE_URL=db_url, SECRET_KEY=SECRET, RATELIMIT_ENABLED="0",
                   SCHEDULER_ENABLED="0", BILLING_URL=f"http://127.0.0.1:{dead_port()}",
                   SPORTELLO_VAR_DIR=str(work / f"var-{name}"), BENCH_CPU_DIR=str(self.cpu_dir),
                   PYTHONPATH=str(ROOT), WEB_CONCURRENCY=str(workers), SPORTELLO_THREADS=str(threads))
        self.log = open(work / f"server-{name}-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "bench/mixed_gunicorn.py"),
             "--bind", f"127.0.0.1:{self.port}", spec],
            cwd=str(ROOT), env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(self.url + "/", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"{name} did not start: see {self.log.name}")
                time.sleep(0.2)
        for _ in range(100):  # both workers forked
            if len(worker_pids(self.proc)) >= workers:
                break
            time.sleep(0.1)

    def stop(self) -> list[dict]:
        """Stop gracefully; the per-kind thread CPU the workers wrote on exit."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()
        rows = []
        for path in self.cpu_dir.glob("*.json"):
            if path.name.endswith(".gc.json"):
                g = json.loads(path.read_text())
                print(f"{self.name}: worker {path.name.split('.')[0]}: {g['full']} full garbage collections, "
                      f"longest {g['longest_ms']:.0f} ms, {g['total_ms']:.0f} ms in all "
                      f"({g['frozen']:,} objects frozen)", flush=True)
                continue
            rows.extend(json.loads(path.read_text()))
        return rows


def check_pages(server: Server, plan: dict) -> None:
    """Each kind answers 200, before anything is timed."""
    for kind in plan["mix"]:
        if kind == "reading":
            continue
        session = next(s for s in plan["sessions"] if s["urls"].get(kind))
        url = server.url + session["urls"][kind][0]
        headers = {"User-Agent": USER_AGENT}
        if session.get("cookie"):
            headers["Cookie"] = session["cookie"]
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as resp:
            assert resp.status == 200 and resp.url == url, f"{server.name} {kind}: {resp.status} {resp.url}"


def run_load(server: Server, plan: dict, work: Path, label: str, users: int, seconds: float,
             pg_dsn: str | None, max_requests: int = 0, rate: float = 0) -> dict:
    """One locust run against `server`; the figures of that run."""
    plan_path, out_path = work / f"plan-{server.name}.json", work / f"out-{server.name}-{label}.json"
    plan_path.write_text(json.dumps(plan))
    env = dict(os.environ, MIXED_PLAN=str(plan_path), MIXED_OUT=str(out_path), MIXED_ROUND=label,
               MIXED_MAX_REQUESTS=str(max_requests), MIXED_RATE=str(rate / max(users, 1)),
               PYTHONPATH=str(ROOT))
    cmd = [str(VENV_BIN / "locust"), "-f", str(ROOT / "bench/mixed_locustfile.py"), "--headless",
           "-u", str(users), "-r", str(max(users, 1) * 10), "-t", f"{int(seconds) if not max_requests else 3600}s",
           "--host", server.url, "--only-summary", "--loglevel", "ERROR", "--exit-code-on-error", "0"]
    cpu0, db0 = workers_cpu(server.proc), backends_cpu(pg_dsn, server.app_name)
    done = subprocess.run(cmd, cwd=str(ROOT), env=env, capture_output=True, text=True)
    cpu1, db1 = workers_cpu(server.proc), backends_cpu(pg_dsn, server.app_name)
    if done.returncode != 0 or not out_path.exists():
        raise SystemExit(f"locust failed ({done.returncode}):\n{done.stderr[-3000:]}")
    out = json.loads(out_path.read_text())
    if "meters" in plan:
        plan["meters"] = out["meters"]  # the next round goes on from the days already used
    for session, cookie in zip(plan["sessions"], out["cookies"]):
        session["cookie"] = cookie  # and with the cookies the browsers hold now
    db_cpu = sum(cpu - db0.get(pid, 0.0) for pid, cpu in db1.items())
    lat = out["latencies"]
    n = sum(len(v) for v in lat.values())
    every = [x for v in lat.values() for x in v]
    return {"label": label, "seconds": out["seconds"], "requests": n, "rps": n / out["seconds"],
            "worker_cpu": cpu1 - cpu0, "db_cpu": db_cpu, "gen_cpu": out["cpu"],
            "errors": sum(out["errors"].values()), "samples": out["samples"], "rewrites": out["rewrites"],
            "p50": percentile(every, 50), "p95": percentile(every, 95), "p99": percentile(every, 99),
            "kinds": {k: {"requests": len(v), "rps": len(v) / out["seconds"], "p50": percentile(v, 50),
                          "p95": percentile(v, 95), "p99": percentile(v, 99),
                          "errors": out["errors"].get(k, 0)} for k, v in lat.items()},
            "backends": len(db1)}


def profile(server: Server, plan: dict, work: Path, args, pg_dsn: str | None, engine: str) -> None:
    """py-spy samples one worker during an extra round (not counted), only the thread holding the
    interpreter lock (threads waiting for it or for SQLite would count otherwise); prints where
    the time goes."""
    spy = VENV_BIN / "py-spy"
    if not spy.exists():
        print("py-spy is not installed: no profile")
        return
    pid = worker_pids(server.proc)[0]
    out = work / f"profile-{engine}-{server.name}.txt"
    rec = subprocess.Popen([str(spy), "record", "-p", str(pid), "-d", str(int(args.profile)), "-r", "200",
                            "--format", "raw", "-o", str(out), "--nonblocking", "--gil"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    run_load(server, plan, work, "profile", args.users, args.profile + 1, pg_dsn)
    said = rec.communicate(timeout=60)[1]
    total, top = profile_top(out.read_text() if out.exists() else "", 40)
    if not total:
        print("py-spy took no samples:", said.strip()[-1000:])
    print(f"profile of one {server.name} worker, {total} samples (inclusive %, self %):")
    for frame, k, own in top:
        print(f"  {100 * k / max(total, 1):5.1f} {100 * own / max(total, 1):5.1f}  {frame}")


def summarize(runs: list[dict], hooks: list[dict]) -> dict:
    """Medians over the rounds; CPU per request over the requests the workers counted."""
    served = {}
    per_kind_cpu = {}
    for row in hooks:
        served[row["round"]] = served.get(row["round"], 0) + row["requests"]
        k = per_kind_cpu.setdefault((row["round"], row["kind"]), [0, 0.0])
        k[0] += row["requests"]
        k[1] += row["thread_cpu"]
    med = lambda xs: statistics.median(xs) if xs else float("nan")  # noqa: E731
    for r in runs:
        count = served.get(r["label"]) or r["requests"]
        r["served"] = count
        r["worker_ms"] = 1000 * r["worker_cpu"] / count
        r["db_ms"] = 1000 * r["db_cpu"] / count
        r["gen_ms"] = 1000 * r["gen_cpu"] / max(r["requests"], 1)
        for kind, figures in r["kinds"].items():
            n, cpu = per_kind_cpu.get((r["label"], kind), (0, 0.0))
            figures["thread_ms"] = 1000 * cpu / n if n else float("nan")
    summary = {key: med([r[key] for r in runs]) for key in
               ("rps", "p50", "p95", "p99", "worker_ms", "db_ms", "gen_ms")}
    summary["errors"] = sum(r["errors"] for r in runs)
    summary["requests"] = sum(r["requests"] for r in runs)
    summary["samples"] = {k: v for r in runs for k, v in r["samples"].items()}
    summary["rewrites"] = sum(sum(r["rewrites"].values()) for r in runs)
    summary["rounds"] = runs
    kinds = sorted({k for r in runs for k in r["kinds"]})
    summary["kinds"] = {k: {key: med([r["kinds"][k][key] for r in runs if k in r["kinds"]])
                            for key in ("rps", "p50", "p95", "p99", "thread_ms")}
                        | {"errors": sum(r["kinds"].get(k, {}).get("errors", 0) for r in runs),
                           "requests": sum(r["kinds"].get(k, {}).get("requests", 0) for r in runs)}
                        for k in kinds}
    return summary


def run_engine(engine: str, db_url: str, pg_dsn: str | None, plans: dict[str, dict], specs: dict[str, str],
               args, work: Path) -> dict:
    servers = {name: Server(f"{engine}-{name}", specs[name], db_url, work, args.workers, args.threads)
               for name in plans}
    runs = {name: [] for name in plans}
    memory = None
    try:
        for name, server in servers.items():
            check_pages(server, plans[name])
            run_load(server, plans[name], work, "warm", args.users, args.warmup, pg_dsn, rate=args.rate)
        for r in range(args.rounds):
            for name, server in servers.items():
                res = run_load(server, plans[name], work, str(r), args.users, args.seconds, pg_dsn,
                               rate=args.rate)
                runs[name].append(res)
                print(f"{engine:10} round {r} {name:8} {res['rps']:7.1f} req/s  p99 {res['p99']:6.1f} ms  "
                      f"worker {1000 * res['worker_cpu'] / max(res['requests'], 1):5.2f} ms/req  "
                      f"db {1000 * res['db_cpu'] / max(res['requests'], 1):5.2f} ms/req  errors {res['errors']}",
                      flush=True)
        if args.profile:
            profile(servers[args.profile_server], plans[args.profile_server], work, args, pg_dsn, engine)
    finally:
        hooks = {name: server.stop() for name, server in servers.items()}
    results = {name: summarize(runs[name], hooks[name]) for name in plans}
    if args.memory_requests:
        half = args.memory_requests // 2
        server = Server(f"{engine}-memory", specs["ours"], db_url, work, args.workers, args.threads)
        try:
            run_load(server, plans["ours"], work, "mem1", args.users, 0, pg_dsn, max_requests=half)
            first = workers_rss_mb(server.proc)
            run_load(server, plans["ours"], work, "mem2", args.users, 0, pg_dsn, max_requests=half)
            second = workers_rss_mb(server.proc)
        finally:
            mem_hooks = server.stop()
        memory = {"first": first, "second": second, "requests": sum(h["requests"] for h in mem_hooks),
                  "growth": [(b - a) / a for a, b in zip(first, second)]}
        print(f"{engine:10} memory after {memory['requests']:,} requests: "
              + ", ".join(f"{b:.1f} MB ({g:+.1%})" for b, g in zip(second, memory["growth"])), flush=True)
    return {"results": results, "memory": memory}


# --- report ------------------------------------------------------------------------------------

def _ms(x: float) -> str:
    return "–" if x != x else f"{x:.2f} ms"


def report(args, outcome: dict, loads: tuple, load_time: float | None) -> str:
    staff = args.staff
    names = {"ours": "Sportello, staff mix" if staff else "Sportello, customer mix",
             "floor": "floor: signed-in page answering \"ok\" (`bench/floor_app.py`)",
             "baseline": "baseline: one indexed query, file template (`bench/baseline_app.py`)",
             "stock": "stock Flask-AppBuilder views, same questions"}
    lines = []
    for engine, data in outcome.items():
        for name, s in data["results"].items():
            lines.append(f"| {engine} | {names[name]} | {s['requests']:,} | {s['rps']:,.0f} | {s['p50']:.1f} | "
                         f"{s['p95']:.1f} | {s['p99']:.1f} | {s['errors']} | {s['worker_ms']:.2f} | "
                         + (f"{s['db_ms']:.2f} | " if engine == "postgresql" else "– | ")
                         + f"{s['gen_ms']:.2f} |")
    kind_lines = []
    for engine, data in outcome.items():
        for name in ("ours", "stock") if staff else ("ours",):
            for kind, k in data["results"][name]["kinds"].items():
                kind_lines.append(f"| {engine} | {kind} | {k['requests']:,} | {k['rps']:,.1f} | {k['p50']:.1f} | "
                                  f"{k['p95']:.1f} | {k['p99']:.1f} | {k['errors']} | {_ms(k['thread_ms'])} |")
    verdicts = []
    for engine, data in outcome.items():
        r = data["results"]
        ours = r["ours"]
        if staff:
            verdicts.append(f"{engine}: the staff mix uses {ours['worker_ms'] / r['stock']['worker_ms']:.2f}× the "
                            f"stock views' worker CPU per request ({ours['worker_ms']:.2f} against "
                            f"{r['stock']['worker_ms']:.2f} ms), p99 {ours['p99']:.1f} ms against "
                            f"{r['stock']['p99']:.1f} ms")
        else:
            if args.rate:
                verdicts.append(f"{engine}: paced at {args.rate:g} requests/s, served **{ours['rps']:.0f} requests/s** "
                                f"at p99 **{ours['p99']:.1f} ms** (target ≥ 150 requests/s at p99 < 50 ms on PostgreSQL)")
            closed_p99 = "" if args.rate else f"p99 **{ours['p99']:.1f} ms** (target < 50 ms on PostgreSQL); "
            verdicts.append(f"{engine}: **{ours['worker_ms'] / r['floor']['worker_ms']:.2f}× the floor's worker CPU "
                            f"per request** (target ≤ 2.0×), **{ours['worker_ms']:.2f} ms** (target ≤ 3.0 ms), "
                            f"{closed_p99}the floor "
                            f"**{r['floor']['worker_ms']:.2f} ms** (target ≤ 1.51 ms)")
    if "sqlite" in outcome and "postgresql" in outcome:
        lite = outcome["sqlite"]["results"]["ours"]
        pg = outcome["postgresql"]["results"]["ours"]
        total_pg = pg["worker_ms"] + pg["db_ms"]
        verdicts.append(f"worker + database CPU per request, PostgreSQL against SQLite: {total_pg:.2f} ms "
                        f"({pg['worker_ms']:.2f} worker + {pg['db_ms']:.2f} backends) against "
                        f"{lite['worker_ms']:.2f} ms, **{total_pg / lite['worker_ms']:.2f}×** (target ≤ 1.25×)")
    for engine, data in outcome.items():
        m = data["memory"]
        if m:
            verdicts.append(f"{engine}: worker RSS after {m['requests']:,} mixed requests "
                            + " and ".join(f"**{b:.1f} MB**" for b in m["second"])
                            + " (target ≤ 150 MB), growth over the second half "
                            + " and ".join(f"**{g:+.1%}**" for g in m["growth"]) + " (target < 5 %)")
    rewrites = "; ".join(f"{engine} {name}: {s['rewrites']:,} of {s['requests']:,}"
                         for engine, data in outcome.items() for name, s in data["results"].items()
                         if s["rewrites"])
    errors = {k: v for data in outcome.values() for s in data["results"].values() for k, v in s["samples"].items()}
    command = "bench/mixed.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    title = "Staff mixed workload" if staff else "Customer mixed workload"
    pacing = f"closed loop, no wait, {args.users} users"
    if args.rate:
        title += f", paced at {args.rate:g} requests/s"
        pacing = (f"{args.users} users each sending {args.rate / args.users:.3g} requests/s on average at "
                  f"exponentially distributed intervals: a Poisson stream of {args.rate:g} requests/s in all")
    where = [{"sqlite": "SQLite: a copy of the file",
              "postgresql": "PostgreSQL on 127.0.0.1: loaded from the same copy"
                            + (f" in {load_time:.0f} s" if load_time else "")}[e] for e in outcome]
    what = ("a call-center operator's search by tax code and by name prefix (`/callcenter/?q=`), "
            "the call-center customer page, the start page and a manager's activities list, against the "
            "stock `CustomerView` list filtered by tax code and by name and its show page, each mix in its own server"
            if staff else
            f"{args.customers} customers signed in through the portal's login form, each request a random "
            "customer and page: home, invoice list filtered by year at page 2, an invoice, an invoice's PDF "
            "(stored), consumption, my requests (95 % evenly) and 5 % self-readings (POST of the reading form "
            "with its CSRF token, a valid reading); the floor and the baseline loaded the same way")
    return f"""
## {title} ({dt.date.today().isoformat()})

`{command}`: {what}. gunicorn with the deployment's settings (`deploy/gunicorn.conf.py`,
{args.workers} workers × {args.threads} threads), locust {args.locust_version} (headless, FastHttpUser,
{pacing}) on the same machine; aligned database
`{Path(args.db).name}` ({"; ".join(where)}).
{args.rounds} alternating rounds of {args.seconds:g} s after a {args.warmup:g} s warm-up; medians of the rounds.
Worker CPU: the gunicorn workers' user + system time (/proc) divided by the requests they served;
database: the PostgreSQL backends of those workers (pg_stat_activity by application_name);
generator: locust's own CPU per request. Per kind, "in-request CPU" is the serving thread's CPU
between gunicorn's request hooks (it leaves out the worker's accept loop and idle threads).
Machine: {machine()}; load average {loads[0]:.1f} at the start, {loads[1]:.1f} at the end (shared machine).

| engine | server | requests | req/s | p50 ms | p95 ms | p99 ms | errors | worker CPU ms/req | database CPU ms/req | generator CPU ms/req |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(lines)}

| engine | page kind | requests | req/s | p50 ms | p95 ms | p99 ms | errors | in-request CPU per request |
|---|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(kind_lines)}

Responses that set a new session cookie (kept by the load generator as a browser would: the
session notes its last activity once a minute, a reading's confirmation rides in it until shown):
{rewrites or "none"}.

Measured: {"; ".join(verdicts)}.{(" Errors seen: " + "; ".join(f"{k}: {v}" for k, v in errors.items()) + ".") if errors else ""}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=str(ROOT / "bench/data/aligned-100000-12-1.db"))
    ap.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--pg-url", default=PG_DEFAULT, help="a database of its own: it is dropped and loaded")
    ap.add_argument("--staff", action="store_true", help="the staff mix against the stock views")
    ap.add_argument("--customers", type=int, default=50)
    ap.add_argument("--users", type=int, default=16)
    ap.add_argument("--rate", type=float, default=0,
                    help="requests/s in all, paced (0: closed loop, no wait)")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--memory-requests", type=int, default=10_000, help="0: no memory measure")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", type=float, default=0,
                    help="seconds of py-spy on one worker after the rounds (printed, not written)")
    ap.add_argument("--profile-server", choices=("ours", "floor", "baseline"), default="ours",
                    help="whose worker --profile samples")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, plans)")
    ap.add_argument("--no-write", action="store_true", help="print only, do not touch docs/")
    args = ap.parse_args()
    if not (VENV_BIN / "locust").exists():
        raise SystemExit("locust is needed: pip install -r requirements-dev.txt")
    import locust

    args.locust_version = locust.__version__
    if args.staff:
        args.memory_requests = 0
    work = Path(tempfile.mkdtemp(prefix="bench-mixed-"))
    base = work / "base.db"
    copy_sqlite(Path(args.db), base)
    t0 = time.perf_counter()
    data = prepare(base, args.customers, args.seed, pdfs=not args.staff)
    print(f"prepared {len(data['customers'])} customers in {time.perf_counter() - t0:.0f} s", flush=True)
    plans_of = staff_plans if args.staff else customer_plans
    specs = {"ours": "app:create_app()", "floor": "bench.floor_app:app", "baseline": "bench.baseline_app:app",
             "stock": "app:create_app()"}
    loads = [os.getloadavg()[0]]
    outcome, load_time = {}, None
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    if args.engine == "both" and not postgres_reachable(args.pg_url):
        print(f"PostgreSQL does not answer at {args.pg_url}: SQLite only", flush=True)
        engines = ("sqlite",)
    try:
        for engine in engines:
            if engine == "sqlite":
                run_db = work / "run.db"
                copy_sqlite(base, run_db)
                db_url, dsn = f"sqlite:///{run_db}", None
            else:
                load_time = load_postgres(base, args.pg_url)
                print(f"PostgreSQL loaded in {load_time:.0f} s", flush=True)
                db_url = args.pg_url
                dsn = args.pg_url.replace("+psycopg", "")
            outcome[engine] = run_engine(engine, db_url, dsn, plans_of(data), specs, args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")
    loads.append(os.getloadavg()[0])
    text = report(args, outcome, tuple(loads), load_time)
    print(text)
    if not args.no_write:
        print(f"results appended to {append_results(text)}")


if __name__ == "__main__":
    main()
