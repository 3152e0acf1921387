"""Command line: python -m simulator {generate,serve,touch,info} ..."""
from __future__ import annotations

import argparse
import json
import os

DEFAULT_DB = os.path.join("var", "simulator.db")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m simulator",
                                 description="Billing simulator shaped like Dynamics NAV or SAP IS-U")
    sub = ap.add_subparsers(dest="cmd", required=True)

    g = sub.add_parser("generate", help="(re)create the DB with generated data")
    g.add_argument("--customers", type=int, default=1000)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--months", type=int, default=12)
    g.add_argument("--db", default=DEFAULT_DB)
    g.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("serve", help="serve the SOAP services")
    s.add_argument("--db", default=DEFAULT_DB)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=7047)
    s.add_argument("--company", default=None,
                   help="NAV company (default DEMO) or SAP client (default 100)")
    s.add_argument("--flavour", choices=("nav", "sap"),
                   default=os.environ.get("SIMULATOR_FLAVOUR", "nav"),
                   help="nav: Dynamics NAV pages and codeunit; sap: SAP IS-U function modules")
    s.add_argument("--instance", default="NAV")
    s.add_argument("--auth", default=os.environ.get("SIMULATOR_AUTH"),
                   help="user:password to require HTTP basic auth, or ntlm to require NTLM with "
                        "the users of the file NTLM_USER_FILE names (DOMAIN:USER:PASSWORD "
                        "lines) (default: none)")

    t = sub.add_parser("touch", help="modify a fraction of every entity's records")
    t.add_argument("--fraction", type=float, default=0.01)
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--db", default=DEFAULT_DB)

    i = sub.add_parser("info", help="record counts and row version")
    i.add_argument("--db", default=DEFAULT_DB)

    a = ap.parse_args(argv)
    if a.cmd == "generate":
        from .generator import generate
        print(json.dumps(generate(a.db, a.customers, a.seed, a.months,
                                  progress=not a.quiet), indent=2))
    elif a.cmd == "serve":
        from .server import serve
        company = a.company or ("100" if a.flavour == "sap" else "DEMO")
        serve(a.db, a.host, a.port, company, a.instance, a.auth, a.flavour)
    elif a.cmd == "touch":
        from .control import touch
        from .schema import connect
        if not os.path.exists(a.db):
            ap.error(f"no database at {a.db}")
        print(json.dumps(touch(connect(a.db), a.fraction, a.seed), indent=2))
    elif a.cmd == "info":
        from .schema import ENTITIES, connect
        if not os.path.exists(a.db):
            ap.error(f"no database at {a.db}")
        conn = connect(a.db)
        out = {e.name: conn.execute(f"SELECT count(*) FROM {e.table}").fetchone()[0]
               for e in ENTITIES.values()}
        out["row_version"] = conn.execute("SELECT v FROM rv_counter").fetchone()[0]
        out["meta"] = dict(conn.execute("SELECT k, v FROM meta"))
        out["applied_ops"] = conn.execute("SELECT count(*) FROM applied_op").fetchone()[0]
        out["bytes"] = os.path.getsize(a.db)
        print(json.dumps(out, indent=2))
    return 0
