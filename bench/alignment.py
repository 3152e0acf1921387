"""Benchmark: alignment throughput against a raw SOAP paging loop, measured in the same run.

    .venv/bin/python bench/alignment.py [--billing nav|sap] [--customers 100000] [--months 12]
                                        [--seed 1] [--rounds 3]

--billing picks the simulator's flavour and its adapter: nav (Dynamics NAV pages, default) or
sap (SAP IS-U function modules); both serve the same generated data set.
(a) raw: a plain suds client pages through every entity, no database work (NAV: ReadMultiple
    on each page service; SAP: Z_ISU_CHANGEPOINTERS_READ per object), per-entity rates on the
    first pages, weighted by the number of records of each entity; median of --rounds samples;
(b) gateway: the adapter's read_changes over the same pages, no database work;
(c) ours: a full alignment into a fresh SQLite database;
then (d) 1 % of the simulator's records change and an incremental alignment runs, --rounds
times (median). Figures (records/s, ratios, times) are appended to docs/benchmarks.md with
machine and date.

--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_align aligns the same data
into that PostgreSQL database too (created fresh, dropped at the end): (c) and (d) run on both
engines from the same simulator, and the PostgreSQL/SQLite ratio is reported with each
entity's share of the full alignment (wall time per entity, and the part of it spent writing).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import append_results, machine  # noqa: E402

from app.billing import make_gateway  # noqa: E402
from app.billing.gateway import Entity  # noqa: E402
from simulator.testing import SimulatorProcess, generate  # noqa: E402

PAGE = 1000
TABLES = {Entity.CUSTOMER: "customer", Entity.SUPPLY_POINT: "supply_point", Entity.METER: "meter",
          Entity.READING: "meter_reading", Entity.INVOICE: "sales_invoice", Entity.PAYMENT: "payment"}


def raw_suds_rates(url: str, pages: int) -> dict[Entity, float]:
    """Records/s of a stock suds client (objects unmarshalled by suds) paging with
    ReadMultiple, per entity, over the first `pages` pages of each entity."""
    from suds.client import Client

    from app.billing.nav import PAGES

    rates = {}
    for entity in Entity:
        service = PAGES[entity]
        client = Client(f"{url}/Page/{service}?wsdl", timeout=120, cache=None)
        bookmark, n, start = None, 0, time.perf_counter()
        for _ in range(pages):
            flt = client.factory.create(f"{service}_Filter")
            flt.Field = "Row_Version"
            flt.Criteria = ">0"
            result = client.service.ReadMultiple(filter=[flt], bookmarkKey=bookmark, setSize=PAGE)
            rows = getattr(result, service, []) if result else []
            if not rows:
                break
            n += len(rows)
            bookmark = rows[-1].Key
            if len(rows) < PAGE:
                break
        rates[entity] = n / (time.perf_counter() - start)
    return rates


def raw_suds_rates_sap(url: str, pages: int) -> dict[Entity, float]:
    """Records/s of a stock suds client paging with Z_ISU_CHANGEPOINTERS_READ, per object
    (partners, installations, devices, reading documents, print documents, payments), over
    the first `pages` packages of each; RETURN is checked for E/A as any SAP client must."""
    from suds.client import Client

    from app.billing.sap import OBJECT, TABLE

    client = Client(f"{url}?wsdl", timeout=120, cache=None)
    rates = {}
    for entity in Entity:
        obj = OBJECT[entity]
        bookmark, n, start = None, 0, time.perf_counter()
        for _ in range(pages):
            result = client.service.Z_ISU_CHANGEPOINTERS_READ(
                IV_OBJECT=obj, IV_CPIDENT_FROM=0, IV_CPIDENT_TO=0, IV_BOOKMARK=bookmark,
                IV_MAX_ROWS=PAGE)
            ret = getattr(result, "RETURN", None)
            if ret is not None and getattr(ret, "TYPE", "") in ("E", "A"):
                raise RuntimeError(f"{obj}: {ret.MESSAGE}")
            table = getattr(result, TABLE[obj], None)
            rows = getattr(table, "item", []) if table else []
            n += len(rows)
            bookmark = getattr(result, "EV_BOOKMARK", None)
            if not rows or not bookmark:
                break
        rates[entity] = n / (time.perf_counter() - start)
    return rates


def gateway_loop(url: str, billing: str) -> int:
    gw = make_gateway({"BILLING_SYSTEM": billing, "BILLING_URL": url, "BILLING_TIMEOUT": 120,
                       "BILLING_PAGE_SIZE": PAGE})
    upper = gw.current_version()
    total = 0
    for entity in Entity:
        bookmark = None
        while True:
            page = gw.read_changes(entity, 0, bookmark, PAGE, until_version=upper)
            total += len(page.records)
            if page.bookmark is None:
                break
            bookmark = page.bookmark
    return total


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


class PhaseTimer:
    """Wall time of each entity's phase of an alignment, and the part spent writing (upserts and
    page commits); installed around the alignment module's functions for the run's duration."""

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.write: dict[str, float] = {}

    def __enter__(self):
        from app.services.sync import alignment

        self._mod = alignment
        self._align_entity, self._upsert = alignment._align_entity, alignment.upsert_records
        timer = self

        def align_entity(gw, entity, *args, **kw):
            start = time.perf_counter()
            try:
                return timer._align_entity(gw, entity, *args, **kw)
            finally:
                timer.wall[entity.value] = timer.wall.get(entity.value, 0.0) + time.perf_counter() - start

        def upsert(entity, records, *args, **kw):
            start = time.perf_counter()
            try:
                return timer._upsert(entity, records, *args, **kw)
            finally:
                timer.write[entity.value] = timer.write.get(entity.value, 0.0) + time.perf_counter() - start

        alignment._align_entity, alignment.upsert_records = align_entity, upsert
        return self

    def __exit__(self, *exc):
        self._mod._align_entity, self._mod.upsert_records = self._align_entity, self._upsert

    def shares(self) -> str:
        total = sum(self.wall.values()) or 1.0
        return ", ".join(f"{e} {t:.1f} s ({t / total:.0%}; writing {self.write.get(e, 0.0):.1f} s)"
                         for e, t in self.wall.items())


def fresh_postgres(url: str) -> str:
    """Drop and create the database `url` names (never `test`); return the URL for the app."""
    import sqlalchemy as sa

    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    parsed = sa.engine.make_url(url)
    if parsed.database in (None, "", "test", "postgres", "template0", "template1"):
        raise SystemExit(f"--database-url must name a benchmark database of its own, not {parsed.database!r}")
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return url


def drop_postgres(url: str) -> None:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def make_app(args, sim_url: str, db_url: str, work: Path):
    from app import create_app
    from config import Config

    return create_app(Config, BILLING_SYSTEM=args.billing, BILLING_URL=sim_url,
                      BILLING_PAGE_SIZE=PAGE, BILLING_TIMEOUT=120, SQLALCHEMY_DATABASE_URI=db_url,
                      BILLING_WSDL_CACHE_DIR=str(work / "wsdl"))


def full_alignment(app, label: str) -> dict:
    """Migrate the app's empty database and run a full alignment; records, seconds, phases."""
    from flask_migrate import upgrade

    from app.services.sync.alignment import align

    with app.app_context():
        upgrade(directory=str(app.config["MIGRATIONS_DIR"]), revision="heads")
        with PhaseTimer() as phases:
            run, full_s = timed(lambda: align(full=True, trigger="bench"))
        assert run.status == "ok", run.error
        full_n = sum(run.counts.values())
    print(f"(c) full alignment, {label}: {full_n} records in {full_s:.1f} s = {full_n / full_s:,.0f} rec/s",
          flush=True)
    print(f"    phases: {phases.shares()}", flush=True)
    return dict(n=full_n, s=full_s, wall=dict(phases.wall), write=dict(phases.write))


def incremental_alignment(app, label: str) -> tuple[float, int]:
    from app.services.sync.alignment import align

    with app.app_context():
        inc, inc_s = timed(lambda: align(trigger="bench"))
        assert inc.status == "ok", inc.error
    n = sum(inc.counts.values())
    print(f"(d) incremental 1 %, {label}: {n} records in {inc_s:.2f} s", flush=True)
    return inc_s, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--billing", choices=("nav", "sap"), default="nav",
                    help="simulator flavour and adapter")
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default=str(ROOT / "bench" / "data"))
    ap.add_argument("--raw-pages", type=int, default=40,
                    help="pages per entity for the raw suds rate (the whole set takes ~30 min)")
    ap.add_argument("--skip-gateway-loop", action="store_true",
                    help="leave out (b), the gateway-only loop (about as long as the full alignment)")
    ap.add_argument("--database-url", default="",
                    help="also align into this PostgreSQL database (created and dropped by the run)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="samples of the raw suds rate and incremental runs (medians reported)")
    args = ap.parse_args()
    load = os.getloadavg()[0]

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    template = data / f"sim-{args.customers}-{args.months}-{args.seed}.db"
    if not template.exists():
        print(f"generating {args.customers} customers ...", flush=True)
        _, gen_s = timed(generate, template, args.customers, args.seed, args.months)
        print(f"  generated in {gen_s:.1f} s")
    work = Path(tempfile.mkdtemp(prefix="bench-align-"))
    sim_db = work / "sim.db"
    src, dst = sqlite3.connect(template), sqlite3.connect(sim_db)
    src.backup(dst)
    src.close()
    dst.close()

    raw_rates = raw_suds_rates_sap if args.billing == "sap" else raw_suds_rates
    with SimulatorProcess(sim_db, flavour=args.billing) as sim:
        with sqlite3.connect(sim_db) as conn:
            per_entity = {e: conn.execute(f"select count(*) from {t}").fetchone()[0]
                          for e, t in TABLES.items()}
        raw_n = sum(per_entity.values())
        raw_rounds = []
        for _ in range(args.rounds):
            rates = raw_rates(sim.url, args.raw_pages)
            # Time the raw loop would take for the whole data set at the measured per-entity rates.
            raw_rounds.append(sum(per_entity[e] / rates[e] for e in Entity))
            for e in Entity:
                print(f"    raw suds {e.value:<13} {rates[e]:,.0f} rec/s")
            print(f"    raw suds round: {raw_n / raw_rounds[-1]:,.0f} rec/s", flush=True)
        raw_s = statistics.median(raw_rounds)
        print(f"(a) raw suds loop:   {raw_n} records, {raw_s:.1f} s at those rates = {raw_n / raw_s:,.0f} rec/s", flush=True)
        gw_n, gw_s = 0, 0.0
        if not args.skip_gateway_loop:
            gw_n, gw_s = timed(gateway_loop, sim.url, args.billing)
            print(f"(b) gateway loop:    {gw_n} records in {gw_s:.1f} s = {gw_n / gw_s:,.0f} rec/s", flush=True)

        app = make_app(args, sim.url, f"sqlite:///{work / 'sportello.db'}", work)
        full = full_alignment(app, "SQLite")
        full_n, full_s = full["n"], full["s"]
        pg = None
        if args.database_url:
            pg_url = fresh_postgres(args.database_url)
            pg_app = make_app(args, sim.url, pg_url, work)
            pg = dict(full=full_alignment(pg_app, "PostgreSQL"), inc_rounds=[])
        inc_rounds = []
        for i in range(args.rounds):
            changed = sim.touch(0.01, seed=args.seed + i)
            inc_s, n = incremental_alignment(app, "SQLite")
            inc_rounds.append((inc_s, n))
            if pg:
                pg["inc_rounds"].append(incremental_alignment(pg_app, "PostgreSQL"))
        inc_s = statistics.median(t for t, _ in inc_rounds)
        inc_n = round(statistics.median(n for _, n in inc_rounds))
        if pg:
            pg["inc_s"] = statistics.median(t for t, _ in pg["inc_rounds"])
            with pg_app.app_context():
                from app.extensions import db

                db.engine.dispose()
            drop_postgres(pg_url)
            print(f"PostgreSQL / SQLite: full alignment {pg['full']['s'] / full_s:.2f}x, "
                  f"incremental {pg['inc_s'] / inc_s:.2f}x", flush=True)

    ratio_raw = (full_n / full_s) / (raw_n / raw_s)
    ratio_gw = (full_n / full_s) / (gw_n / gw_s) if gw_n else None
    print(f"full alignment / raw suds = {ratio_raw:.2f}"
          + (f"; full alignment / gateway = {ratio_gw:.2f}" if ratio_gw else ""))
    write_results(args, dict(raw_n=raw_n, raw_s=raw_s, gw_n=gw_n, gw_s=gw_s, full_n=full_n,
                             full_s=full_s, inc_n=inc_n, inc_s=inc_s, ratio_raw=ratio_raw,
                             ratio_gw=ratio_gw, changed=changed, load=load, raw_rounds=raw_rounds,
                             inc_rounds=inc_rounds, full=full, pg=pg))
    # Keep the aligned database: the portal and back-office benchmarks start from it.
    flavour = "" if args.billing == "nav" else f"{args.billing}-"
    aligned = data / f"aligned-{flavour}{args.customers}-{args.months}-{args.seed}.db"
    src, dst = sqlite3.connect(work / "sportello.db"), sqlite3.connect(aligned)
    src.backup(dst)
    src.close()
    dst.close()
    print(f"aligned database kept at {aligned}")
    shutil.rmtree(work, ignore_errors=True)




def phase_table(r: dict) -> str:
    """Each entity's share of the full alignment, on SQLite and (when measured) PostgreSQL."""
    engines = [("SQLite", r["full"])] + ([("PostgreSQL", r["pg"]["full"])] if r.get("pg") else [])
    head = "| entity | " + " | ".join(f"{name} s (share; writing s)" for name, _ in engines) + " |"
    rows = [head, "|---|" + "---:|" * len(engines)]
    for entity in engines[0][1]["wall"]:
        cells = []
        for _, full in engines:
            wall, total = full["wall"].get(entity, 0.0), sum(full["wall"].values()) or 1.0
            cells.append(f"{wall:.1f} ({wall / total:.0%}; {full['write'].get(entity, 0.0):.1f})")
        rows.append(f"| {entity} | " + " | ".join(cells) + " |")
    text = "\nEach entity's phase of the full alignment (wall time, its share, and the part spent in the upserts):\n\n"
    text += "\n".join(rows) + "\n"
    if r.get("pg"):
        pg = r["pg"]
        text += (f"\nSame data aligned into PostgreSQL (local server, `--database-url`): full alignment "
                 f"{pg['full']['n']:,} records in {pg['full']['s']:.1f} s = {pg['full']['n'] / pg['full']['s']:,.0f} rec/s, "
                 f"**PostgreSQL / SQLite = {pg['full']['s'] / r['full_s']:.2f}×** (target ≤ 1.2×); incremental 1 % "
                 f"{pg['inc_s']:.2f} s against {r['inc_s']:.2f} s ({pg['inc_s'] / r['inc_s']:.2f}×).\n")
    return text


def write_results(args, r: dict) -> None:
    sap = args.billing == "sap"
    flavour = ", SAP IS-U flavour" if sap else ""
    raw = ("`Z_ISU_CHANGEPOINTERS_READ` paging loop" if sap else "`ReadMultiple` paging loop")
    unit = "packages" if sap else "pages"
    adapter = "SapGateway" if sap else "NavGateway"
    billing = f"--billing {args.billing} " if sap else ""
    rounds = ""
    if args.rounds > 1:
        raw_each = " / ".join(f"{r['raw_n'] / s:,.0f}" for s in r["raw_rounds"])
        inc_each = " / ".join(f"{s:.2f}" for s, _ in r["inc_rounds"])
        rounds = (f" Medians of {args.rounds} rounds: raw suds rate per round {raw_each} "
                  f"rec/s; incremental runs {inc_each} s (a fresh 1 % changed before each).")
    if r["gw_n"]:
        gateway_row = (f"| (b) `{adapter}.read_changes` loop, no database | {r['gw_n']:,} | "
                       f"{r['gw_s']:.1f} | {r['gw_n'] / r['gw_s']:,.0f} |")
        of_gateway = f" and\n{r['ratio_gw']:.0%} of the gateway-only rate"
    else:
        gateway_row = f"| (b) `{adapter}.read_changes` loop, no database | not measured in this run | | |"
        of_gateway = ""
    text = f"""
## Alignment{flavour} ({dt.date.today().isoformat()})

`bench/alignment.py {billing}--customers {args.customers} --months {args.months} --seed {args.seed}{f" --raw-pages {args.raw_pages} --rounds {args.rounds}" if args.rounds > 1 else ""}{" --skip-gateway-loop" if args.skip_gateway_loop else ""}{" --database-url " + args.database_url if args.database_url else ""}`,
billing simulator on the same machine, local SQLite database{" and local PostgreSQL" if r.get("pg") else ""}. Machine: {machine()};
load average when the run started: {r['load']:.1f} (shared machine).

| measure | records | seconds | records/s |
|---|---:|---:|---:|
| (a) raw suds {raw}, no database (per-entity rate measured on the first {args.raw_pages} {unit} of 1,000, weighted by the entity mix) | {r['raw_n']:,} | {r['raw_s']:.1f} | {r['raw_n'] / r['raw_s']:,.0f} |
{gateway_row}
| (c) full alignment (gateway + upserts + commits) | {r['full_n']:,} | {r['full_s']:.1f} | {r['full_n'] / r['full_s']:,.0f} |
| (d) incremental alignment after changing 1 % of the records | {r['inc_n']:,} | {r['inc_s']:.2f} | |

Full alignment runs at **{r['ratio_raw']:.0%} of the raw suds rate** (target ≥ 70 %){of_gateway};
the incremental alignment of 1 % took
**{r['inc_s']:.1f} s** (target < 10 s).{rounds}
{phase_table(r)}"""
    print(f"results appended to {append_results(text)}")


if __name__ == "__main__":
    main()
