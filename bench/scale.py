"""Benchmark: the alignment and the hot reads at scale, on PostgreSQL.

    .venv/bin/python bench/scale.py [--customers 300000] [--compare 10000]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale] [--million]

For `--customers` and for the `--compare` size (the reference, 10,000 customers by default),
the billing simulator's data set is generated once under var/bench/ (kept for later runs, never
committed) and served by the simulator; a fresh PostgreSQL database (created and dropped by the
run) gets the schema and a full alignment (records/s, each entity's share), then 1 % of the
records change and an incremental alignment runs (target < 60 s at 300,000 customers). Then,
in process on the aligned database, the hot reads are timed (p50, p99 over --samples random
customers): the portal's invoice list (first page, and the "to pay" filter's second page) and
the call center's search by tax code and by surname prefix; the figures at `--customers` are
set against the reference size's.

A 1,000,000-customer full alignment is projected from the measured rate and labelled as
extrapolated; with --million it is run instead, but only when that projection is under 120
minutes. Results are appended to docs/benchmarks.md with machine and date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.alignment import (PAGE, PhaseTimer, drop_postgres, fresh_postgres, make_app,  # noqa: E402
                             timed)
from bench.common import append_results, machine  # noqa: E402

from simulator.testing import SimulatorProcess, generate  # noqa: E402

MILLION = 1_000_000
MILLION_LIMIT_MIN = 120


def template(data: Path, customers: int, months: int, seed: int) -> Path:
    """The simulator's data set for `customers`, generated once and kept."""
    path = data / f"sim-{customers}-{months}-{seed}.db"
    if not path.exists():
        print(f"generating {customers:,} customers under {data} ...", flush=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        _, gen_s = timed(generate, partial, customers, seed, months)
        partial.rename(path)
        print(f"  generated in {gen_s:.0f} s", flush=True)
    return path


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


def hot_reads(app, samples: int, seed: int) -> dict[str, tuple[float, float]]:
    """p50 and p99 (ms) of the hot reads over random customers of the aligned database."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import Customer, Invoice
    from app.services.crm.callcenter import find_customers
    from app.services.portal.invoices import InvoiceFilter, invoice_page

    rnd = random.Random(seed)
    with app.app_context():
        top = db.session.scalar(sa.select(sa.func.max(Customer.id)))
        ids = [rnd.randint(1, top) for _ in range(samples * 3)]
        rows = db.session.execute(sa.select(Customer.id, Customer.tax_code, Customer.last_name)
                                  .where(Customer.id.in_(ids), Customer.tax_code != "",
                                         Customer.last_name != "")).all()
        rows = rows[:samples]
        with_invoices = db.session.scalars(sa.select(Invoice.customer_id).where(
            Invoice.customer_id.in_([r.id for r in rows])).distinct()).all()
        cases = {
            "invoice list, page 1": lambda r: invoice_page(r.id, InvoiceFilter()),
            "invoice list, to pay, page 2": lambda r: invoice_page(r.id, InvoiceFilter(status="UNPAID", page=2)),
            "call center, tax code": lambda r: find_customers(r.tax_code),
            "call center, surname prefix": lambda r: find_customers(r.last_name[:4]),
        }
        out = {}
        for name, fn in cases.items():
            subjects = [r for r in rows if r.id in set(with_invoices)] if name.startswith("invoice") else rows
            for r in subjects[:5]:  # warm the pool and the caches
                fn(r)
                db.session.rollback()
            times = []
            for r in subjects:
                start = time.perf_counter()
                fn(r)
                times.append(time.perf_counter() - start)
                db.session.rollback()
            out[name] = percentiles(times)
    return out


def measure(args, customers: int, work: Path) -> dict:
    """Full and 1 % incremental alignment of `customers` into a fresh PostgreSQL database, then
    the hot reads; the database is dropped afterwards."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.services.sync.alignment import align

    sim_db = work / f"sim-{customers}.db"
    src, dst = sqlite3.connect(template(Path(args.data), customers, args.months, args.seed)), sqlite3.connect(sim_db)
    src.backup(dst)
    src.close()
    dst.close()
    name = sa_url_database(args.database_url)
    url = fresh_postgres(args.database_url.replace(f"/{name}", f"/{name}_{customers}"))
    try:
        with SimulatorProcess(sim_db, flavour="nav") as sim:
            app = make_app(argparse.Namespace(billing="nav"), sim.url, url, work)
            from flask_migrate import upgrade

            with app.app_context():
                upgrade(directory=str(app.config["MIGRATIONS_DIR"]), revision="heads")
                with PhaseTimer() as phases:
                    run, full_s = timed(lambda: align(full=True, trigger="bench"))
                assert run.status == "ok", run.error
                full_n = sum(run.counts.values())
                print(f"{customers:,} customers: full alignment {full_n:,} records in {full_s:.1f} s "
                      f"= {full_n / full_s:,.0f} rec/s", flush=True)
                print(f"    phases: {phases.shares()}", flush=True)
                sim.touch(0.01, seed=args.seed)
                spies = profilers(args, work, customers, sim)
                with PhaseTimer() as inc_phases:
                    inc, inc_s = timed(lambda: align(trigger="bench"))
                assert inc.status == "ok", inc.error
                inc_n = sum(inc.counts.values())
                print(f"    incremental 1 %: {inc_n:,} records in {inc_s:.1f} s", flush=True)
                print(f"    phases: {inc_phases.shares()}", flush=True)
                report_profiles(spies)
                print("    updated rows (of them in place, HOT): " + ", ".join(
                    f"{name} {upd:,} ({hot:,})" for name, upd, hot in db.session.execute(sa.text(
                        "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                        "WHERE n_tup_upd > 0 ORDER BY n_tup_upd DESC"))), flush=True)
            reads = hot_reads(app, args.samples, args.seed)
            for k, (p50, p99) in reads.items():
                print(f"    {k}: p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    finally:
        drop_postgres(url)
        sim_db.unlink(missing_ok=True)
    return dict(customers=customers, full_n=full_n, full_s=full_s, inc_n=inc_n, inc_s=inc_s,
                wall=dict(phases.wall), write=dict(phases.write), reads=reads)


def profilers(args, work: Path, customers: int, sim) -> list[tuple[str, subprocess.Popen, Path]]:
    """With --profile-incremental, py-spy samples this process (the alignment) and the simulator
    for the incremental run (stopped when it ends); printed, never written to the docs."""
    if not args.profile_incremental:
        return []
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        print("py-spy is not installed: no profile", flush=True)
        return []
    out = []
    for name, pid in (("alignment", os.getpid()), ("simulator", sim.proc.pid)):
        path = work / f"profile-{customers}-{name}.txt"
        proc = subprocess.Popen([str(spy), "record", "-p", str(pid), "-r", "100", "--format", "raw",
                                 "-o", str(path), "--nonblocking", "--idle"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append((name, proc, path))
    time.sleep(1)  # py-spy attached before the run starts
    return out


def report_profiles(spies, top: int = 30) -> None:
    from bench.mixed import profile_top

    for name, proc, path in spies:
        proc.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
        proc.wait(60)
        collapsed = path.read_text() if path.exists() else ""
        total, frames = profile_top(collapsed, top)
        print(f"    profile of the {name} during the incremental run, {total} samples (inclusive %, self %):")
        for frame, k, own in frames:
            print(f"      {100 * k / max(total, 1):5.1f} {100 * own / max(total, 1):5.1f}  {frame}")
        own = {}
        for line in collapsed.splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                leaf = stack.split(";")[-1].strip()
                own[leaf] = own.get(leaf, 0) + int(count)
        print(f"    most samples in the {name} itself (self %, line):")
        for leaf, k in sorted(own.items(), key=lambda kv: -kv[1])[:15]:
            print(f"      {100 * k / max(total, 1):5.1f}  {leaf}")


def sa_url_database(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)).database


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=300_000)
    ap.add_argument("--compare", type=int, default=10_000,
                    help="the reference size the hot reads are set against")
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default=str(ROOT / "var" / "bench"),
                    help="where the generated data sets are kept")
    ap.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale",
                    help="PostgreSQL server and database name prefix (a database per size, dropped at the end)")
    ap.add_argument("--samples", type=int, default=200, help="customers per timed read")
    ap.add_argument("--profile-incremental", action="store_true",
                    help="py-spy the alignment and the simulator during each incremental run (printed)")
    ap.add_argument("--million", action="store_true",
                    help="run 1,000,000 customers too when the measured rate projects it under 120 minutes")
    args = ap.parse_args()
    if sa_url_database(args.database_url) in (None, "", "test", "postgres"):
        raise SystemExit("--database-url must name a benchmark database of its own")
    Path(args.data).mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        reference = measure(args, args.compare, work) if args.compare and args.compare != args.customers else None
        big = measure(args, args.customers, work)
        rate = big["full_n"] / big["full_s"]
        records_per_customer = big["full_n"] / big["customers"]
        projected_min = MILLION * records_per_customer / rate / 60
        million = None
        if args.million and args.customers < MILLION:
            if projected_min < MILLION_LIMIT_MIN:
                million = measure(args, MILLION, work)
            else:
                print(f"1,000,000 customers not run: projected {projected_min:.0f} min "
                      f"(limit {MILLION_LIMIT_MIN})", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_results(args, load, reference, big, projected_min, million)


def write_results(args, load: float, reference: dict | None, big: dict, projected_min: float,
                  million: dict | None) -> None:
    def phase_cells(r):
        total = sum(r["wall"].values()) or 1.0
        return ", ".join(f"{e} {t / total:.0%}" for e, t in r["wall"].items())

    runs = [r for r in (reference, big, million) if r]
    rows = "\n".join(
        f"| {r['customers']:,} | {r['full_n']:,} | {r['full_s'] / 60:.1f} | {r['full_n'] / r['full_s']:,.0f} "
        f"| {r['inc_n']:,} | {r['inc_s']:.1f} | {phase_cells(r)} |" for r in runs)
    reads = list(big["reads"])
    head = "| read | " + " | ".join(f"{r['customers']:,} customers p50 / p99 ms" for r in runs) + \
        (" | p50 ratio |" if reference else " |")
    read_rows = []
    for k in reads:
        cells = [f"{r['reads'][k][0]:.1f} / {r['reads'][k][1]:.1f}" for r in runs]
        ratio = f" | {big['reads'][k][0] / reference['reads'][k][0]:.2f}×" if reference else ""
        read_rows.append(f"| {k} | " + " | ".join(cells) + ratio + " |")
    inc_ok = "under" if big["inc_s"] < 60 else "over"
    if million:
        projection = (f"1,000,000 customers were run: full alignment {million['full_s'] / 60:.1f} min.")
    elif big["customers"] >= 1_000_000:
        projection = ""  # measured, nothing to extrapolate
    else:
        projection = (f"1,000,000 customers, **extrapolated** (not run) from the {big['customers']:,}-customer rate "
                      f"and its records per customer: full alignment about **{projected_min:.0f} min**"
                      + (" (under 120 min, so `--million` would run it)." if projected_min < MILLION_LIMIT_MIN
                         else " (over 120 min: `--million` would not run it)."))
    text = f"""
## Alignment and hot reads at scale, PostgreSQL ({dt.date.today().isoformat()})

`bench/scale.py --customers {args.customers} --compare {args.compare} --months {args.months} --seed {args.seed}{" --million" if args.million else ""}`
(`make bench-scale`): billing simulator and PostgreSQL on the same machine, a fresh database per
size. Machine: {machine()}; load average when the run started: {load:.1f} (shared machine).

| customers | records | full alignment min | records/s | 1 % changed: records | incremental s | phase shares |
|---:|---:|---:|---:|---:|---:|---|
{rows}

The 1 % incremental alignment at {big['customers']:,} customers took **{big['inc_s']:.1f} s** ({inc_ok} the 60 s target).
{projection}

Hot reads in process on the aligned database (service calls, {args.samples} random customers each):

{head}
|---|{"---:|" * len(runs)}{"---:|" if reference else ""}
{chr(10).join(read_rows)}
"""
    print(f"results appended to {append_results(text)}")


if __name__ == "__main__":
    main()
