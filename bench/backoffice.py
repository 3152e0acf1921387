"""Benchmark: call-center customer search against the stock FAB list view, in the same run.

    .venv/bin/python bench/backoffice.py [--customers 100000] [--seconds 20] [--clients 2]
                                         [--server gunicorn|threaded] [--workers 2]

A fresh SQLite database gets the schema (migrations), the roles and `--customers` customers;
the app is served over HTTP (gunicorn with `--workers` sync workers, or Werkzeug's threaded
server); `--clients` threads, logged in as a call-center operator, send keep-alive requests
for `--seconds` per scenario:

  tax code:    ours  GET /callcenter/?q=<tax code>&go=0
               stock GET /customerview/list/?_flt_0_tax_code=<tax code>   (FAB "starts with")
  name prefix: ours  GET /callcenter/?q=<surname>&go=0
               stock GET /customerview/list/?_flt_0_search_name=<surname>

Each scenario runs twice, interleaved (stock, ours, stock, ours) so drift hits both; figures
are requests/s and p50/p99 latency. Targets: ours ≥ 1.0x the stock view's requests/s and
p99 < 200 ms. Results are appended to docs/benchmarks.md with machine and date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import http.cookiejar
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import append_results, machine  # noqa: E402

PASSWORD = "bench-passphrase-not-common-42"
SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(db_url: str, var_dir: Path) -> dict:
    env = dict(os.environ)
    env.update(DATABASE_URL=db_url, SECRET_KEY=SECRET, SPORTELLO_VAR_DIR=str(var_dir),
               SPORTELLO_ENV="development", RATELIMIT_ENABLED="0", SCHEDULER_ENABLED="0")
    return env


def prepare(db_path: Path, customers: int, seed: int, env: dict) -> tuple[list[str], list[str]]:
    """Schema, roles, a call-center user and `customers` customers; returns sample queries."""
    os.environ.update(env)
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import Customer
    from app.roles import CALL_CENTER
    from app.security import init_security
    from simulator.italian import FEMALE, MALE, SURNAMES, tax_code

    app = create_app()
    rnd = random.Random(seed)
    taxes, surnames = [], []
    with app.app_context():
        upgrade(directory=str(app.config["MIGRATIONS_DIR"]), revision="heads")
        init_security(app.appbuilder)
        sm = app.appbuilder.sm
        sm.add_user("bench", "Bench", "Operator", "bench@example.com", [sm.find_role(CALL_CENTER)], PASSWORD)
        rows = []
        table = Customer.__table__
        for n in range(1, customers + 1):
            female = rnd.random() < 0.5
            first = rnd.choice(FEMALE if female else MALE)
            last = rnd.choice(SURNAMES)
            birth = dt.date(1940, 1, 1) + dt.timedelta(days=rnd.randrange(0, 60 * 365))
            code = tax_code(last, first, birth, female, f"H{rnd.randrange(100, 999)}")
            rows.append(dict(code=f"C{n:07d}", kind="PERSON", last_name=last, first_name=first,
                             company_name="", search_name=Customer.make_search_name(last, first, ""),
                             tax_code=code, vat_number="", address="Via Roma 1", post_code="00100",
                             city="Roma", province="RM", phone=f"06{n:08d}",
                             email=f"c{n}@example.com", language="it", billing_version=n))
            if n % 997 == 0:
                taxes.append(code)
                surnames.append(last.lower())
            if len(rows) == 10_000:
                db.session.execute(sa.insert(table), rows)
                rows = []
        if rows:
            db.session.execute(sa.insert(table), rows)
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        db.engine.dispose()
    return taxes, sorted(set(surnames))


def start_server(kind: str, workers: int, port: int, env: dict) -> subprocess.Popen:
    if kind == "gunicorn":
        cmd = [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
               "--log-level", "warning", "app:create_app()"]
    else:
        cmd = [sys.executable, "-c",
               "from werkzeug.serving import run_simple; from app import create_app; "
               f"run_simple('127.0.0.1', {port}, create_app(), threaded=True)"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start: " + proc.stderr.read().decode()[-2000:])


def login(base: str) -> str:
    """Log in through FAB's form; returns the Cookie header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login/").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": "bench", "password": PASSWORD, "csrf_token": token}).encode()
    opener.open(f"{base}/login/", data=data).read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    check = opener.open(f"{base}/callcenter/").status
    assert check == 200, "login failed"
    return cookie


def load(port: int, cookie: str, urls: list[str], seconds: float, clients: int) -> dict:
    """`clients` keep-alive threads request `urls` round-robin for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        k = i
        while time.perf_counter() < stop:
            url = urls[k % len(urls)]
            k += clients
            t0 = time.perf_counter()
            conn.request("GET", urllib.parse.quote(url, safe="/?=&_"), headers={"Cookie": cookie})
            resp = conn.getresponse()
            resp.read()
            latencies[i].append(time.perf_counter() - t0)
            if resp.status != 200:
                errors[i] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    lat = sorted(x for part in latencies for x in part)
    return {"n": len(lat), "rps": len(lat) / elapsed, "p50": statistics.median(lat) * 1000,
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, "errors": sum(errors)}


def merge(a: dict, b: dict) -> dict:
    n = a["n"] + b["n"]
    return {"n": n, "rps": (a["rps"] + b["rps"]) / 2, "p50": (a["p50"] + b["p50"]) / 2,
            "p99": max(a["p99"], b["p99"]), "errors": a["errors"] + b["errors"]}


def verify(base: str, cookie: str, tax: str, surname: str) -> None:
    """Both views answer the same question before we time them."""
    def get(path):
        req = urllib.request.Request(base + urllib.parse.quote(path, safe="/?=&_"), headers={"Cookie": cookie})
        return urllib.request.urlopen(req).read().decode()

    ours, stock = get(f"/callcenter/?q={tax}&go=0"), get(f"/customerview/list/?_flt_0_tax_code={tax}")
    code = re.search(r">(C\d{7})<", ours)
    assert code and code.group(1) in stock, "the two views disagree on the tax code search"
    ours = get(f"/callcenter/?q={surname}&go=0")
    assert ours.count("/callcenter/customer/") >= 1, "no result for the name prefix"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--server", choices=("gunicorn", "threaded"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch docs/")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-backoffice-"))
    db_path = work / "bench.db"
    env = server_env(f"sqlite:///{db_path}", work / "var")
    t0 = time.perf_counter()
    taxes, surnames = prepare(db_path, args.customers, args.seed, env)
    print(f"prepared {args.customers:,} customers in {time.perf_counter() - t0:.0f} s")
    args.load = os.getloadavg()[0]
    port = free_port()
    proc = start_server(args.server, args.workers, port, env)
    base = f"http://127.0.0.1:{port}"
    try:
        cookie = login(base)
        verify(base, cookie, taxes[0], surnames[0])
        scenarios = {
            "tax code": ([f"/customerview/list/?_flt_0_tax_code={t}" for t in taxes],
                         [f"/callcenter/?q={t}&go=0" for t in taxes]),
            "name prefix": ([f"/customerview/list/?_flt_0_search_name={s}" for s in surnames],
                            [f"/callcenter/?q={s}&go=0" for s in surnames]),
        }
        results = {}
        for name, (stock_urls, our_urls) in scenarios.items():
            load(port, cookie, stock_urls[:5] + our_urls[:5], 1.0, args.clients)  # warm-up
            runs = {"stock": [], "ours": []}
            for _ in range(2):
                runs["stock"].append(load(port, cookie, stock_urls, args.seconds / 2, args.clients))
                runs["ours"].append(load(port, cookie, our_urls, args.seconds / 2, args.clients))
            results[name] = {k: merge(*v) for k, v in runs.items()}
            s, o = results[name]["stock"], results[name]["ours"]
            print(f"{name:12} stock {s['rps']:7.1f} req/s p50 {s['p50']:6.1f} ms p99 {s['p99']:6.1f} ms | "
                  f"ours {o['rps']:7.1f} req/s p50 {o['p50']:6.1f} ms p99 {o['p99']:6.1f} ms | "
                  f"x{o['rps'] / s['rps']:.2f} errors {s['errors'] + o['errors']}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    if not args.no_write:
        write_results(args, results)




def write_results(args, results: dict) -> None:
    server = (f"gunicorn, {args.workers} sync workers" if args.server == "gunicorn"
              else "Werkzeug threaded server (one process)")
    lines = []
    for name, r in results.items():
        s, o = r["stock"], r["ours"]
        lines.append(f"| {name} | stock FAB list view | {s['n']:,} | {s['rps']:,.1f} | {s['p50']:.1f} | "
                     f"{s['p99']:.1f} | |")
        lines.append(f"| {name} | call center search (ours) | {o['n']:,} | {o['rps']:,.1f} | {o['p50']:.1f} | "
                     f"{o['p99']:.1f} | **{o['rps'] / s['rps']:.2f}x** |")
    verdicts = [f"{name}: {r['ours']['rps'] / r['stock']['rps']:.2f}x the stock view's requests/s, "
                f"p99 {r['ours']['p99']:.0f} ms"
                for name, r in results.items()]
    text = f"""
## Back-office customer search ({dt.date.today().isoformat()})

`bench/backoffice.py --customers {args.customers} --seconds {args.seconds:g} --clients {args.clients} --server {args.server}`:
{args.customers:,} customers in SQLite, {server}, {args.clients} clients (one connection each, which gunicorn's sync workers
close after every response) logged in as a call-center operator on the same machine. Stock = FAB's `CustomerView` list filtered with its
search URL (`_flt_0_tax_code`, `_flt_0_search_name`: "starts with"); ours = the call-center
search box (`/callcenter/?q=`), same questions, interleaved runs. Machine: {machine()};
load average when the measurement started: {args.load:.1f} (the machine is shared: absolute
latencies grow with it, the ratio much less).

| search | view | requests | req/s | p50 ms | p99 ms | ours / stock |
|---|---|---:|---:|---:|---:|---:|
{chr(10).join(lines)}

Targets: ≥ 1.0x the stock view's requests/s and p99 < 200 ms. Measured: {"; ".join(verdicts)}.
"""
    print(f"results appended to {append_results(text)}")


if __name__ == "__main__":
    main()
