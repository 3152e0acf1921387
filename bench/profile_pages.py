"""In-process cost of the portal's and the staff's pages: CPU per request, against the floor.

    .venv/bin/python bench/profile_pages.py [--db bench/data/aligned-10000-12-1.db] [--n 60]
        [--rounds 7] [--only home,invoices] [--profile PAGE | --loop PAGE|mixed | --dump DIR]

Not a load test: one process, the Flask test client, no HTTP server. The database is copied
to a temporary file first (the source is never written). A portal account is created for the
customer with the most invoices (as bench/portal.py does) and signed in through the portal's
login form; a Call center and a Manager user sign in through the staff login form. The
customer is given a page of 20 requests (as the mixed benchmark's customers have once they sent
readings), and every copy is kept fresh as in bench/mixed.py (pages never ask billing). Each page
is then requested `--n` times in a row after a few warm-up requests; each round measures every
page once, the floor first, and a page's figure is the median over `--rounds` of the CPU time
(time.process_time) per request, its ratio the median of its ratios to the floor of the same
round (the machine's load moves both alike). The floor is bench/floor_app.py's route (the same
stack answering a signed-in request with "ok"); "mixed" is the customer mix (home, invoice list
filtered at page 2, invoice detail, invoice PDF, consumption, my requests, 5 % self-reading
pages) weighted as in MIX.

`--profile PAGE` runs cProfile over `--n` requests of that page and prints the top functions;
`--loop PAGE` (or `mixed`) only requests it `--n` times, for a sampling profiler
(`py-spy record --format raw -- .venv/bin/python bench/profile_pages.py --loop home --n 2000`);
`--dump DIR` writes every page's answer (nonces and CSRF tokens blanked) to compare two
versions of the code.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-0123456789abcdef0123456789"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) sportello-bench"
PASSWORD = "a long bench passphrase"
STAFF_PASSWORD = "bench-passphrase-not-common-42"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

# (weight, page) of the customer mix.
MIX = (("home", 19), ("invoices", 19), ("invoice", 19), ("pdf", 19), ("consumption", 19),
       ("requests", 19), ("reading", 6))
REQUESTS = 20  # the bench customer's requests (one page)


def build(db: Path):
    import sqlalchemy as sa

    from app import create_app
    from app.roles import CALL_CENTER, CUSTOMER, MANAGER
    from app.security import init_security
    from app.views.portal import customer_required
    from config import Config
    from simulator.testing import free_port

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{db}", SECRET_KEY=SECRET,
                     BILLING_URL=f"http://127.0.0.1:{free_port()}")

    @app.route("/portal/_floor")
    @customer_required
    def floor():
        return "ok"

    from app.extensions import db as _db

    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=str(app.config["MIGRATIONS_DIR"]), revision="heads")
        init_security(app.appbuilder)
        q = lambda sql, **kw: _db.session.execute(sa.text(sql), kw)  # noqa: E731
        # As in bench/mixed.py: the scheduled alignment keeps every copy fresh, pages never ask billing.
        from app.services.core import settings

        settings.update({"portal_refresh_minutes": 1440})
        q("UPDATE sync_state SET last_success_at = :now", now=dt.datetime.now(dt.UTC).replace(tzinfo=None))
        customer_id = q("SELECT customer_id FROM invoices GROUP BY customer_id "
                        "ORDER BY count(*) DESC, customer_id LIMIT 1").scalar()
        sm = app.appbuilder.sm
        user = sm.find_user(username="bench-customer") or sm.add_user(
            "bench-customer", "Bench", "Customer", "bench-customer@invalid", sm.find_role(CUSTOMER), PASSWORD)
        user.customer_id = customer_id
        user.language = "it"
        for name, role in (("bench-cc", CALL_CENTER), ("bench-manager", MANAGER)):
            if sm.find_user(username=name) is None:
                sm.add_user(name, "Bench", name, f"{name}@invalid", [sm.find_role(role)], STAFF_PASSWORD)
        from app.models import Activity, ActivityKind, ActivityStatus
        from app.models.activity import subject_key

        # A page of "my requests", as the mixed benchmark's customers have after their readings.
        if not q("SELECT count(*) FROM activities WHERE customer_id = :c", c=customer_id).scalar():
            supply = q("SELECT id FROM supply_points WHERE customer_id = :c ORDER BY code LIMIT 1",
                       c=customer_id).scalar()
            for i in range(REQUESTS):
                _db.session.add(Activity(kind=ActivityKind.SELF_READING, customer_id=customer_id,
                                         supply_point_id=supply, subject=subject_key("kind"),
                                         status=ActivityStatus.CLOSED if i % 3 else ActivityStatus.NEW,
                                         payload={"value": 1000 + i}))
        _db.session.commit()
        from app.services.core import two_factor

        two_factor.enrol_with_secret(sm.find_user(username="bench-manager"), TOTP_SECRET)  # Manager: required
        ids = {
            "customer": customer_id,
            "invoice": q("SELECT id FROM invoices WHERE customer_id = :c ORDER BY invoice_date DESC LIMIT 1",
                         c=customer_id).scalar(),
            "supply": q("SELECT id FROM supply_points WHERE customer_id = :c ORDER BY code LIMIT 1",
                        c=customer_id).scalar(),
            "last_name": q("SELECT lower(last_name) FROM customers WHERE id = :c", c=customer_id).scalar(),
            "busy": q("SELECT customer_id FROM activities GROUP BY customer_id ORDER BY count(*) DESC LIMIT 1")
            .scalar() or customer_id,
        }
    return app, ids


def portal_client(app):
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=USER_AGENT, REMOTE_ADDR="127.0.0.1")
    page = client.get("/portal/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = client.post("/portal/login", data={"username": "bench-customer", "password": PASSWORD,
                                                "csrf_token": token}, follow_redirects=True)
    assert answer.status_code == 200, "the bench customer could not sign in"
    return client


def staff_client(app, username):
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=USER_AGENT, REMOTE_ADDR="127.0.0.1")
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = client.post("/login/", data={"username": username, "password": STAFF_PASSWORD, "csrf_token": token})
    if answer.location and "/login/code/" in answer.location:
        import pyotp

        page = client.get("/login/code/").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        answer = client.post("/login/code/", data={"code": pyotp.TOTP(TOTP_SECRET).now(), "csrf_token": token})
    assert answer.status_code == 302 and "/login" not in (answer.location or ""), (username, answer.location)
    return client


def pages(ids) -> dict[str, tuple[str, str]]:
    """page -> (client, address)."""
    inv, sp = ids["invoice"], ids["supply"]
    return {
        "floor": ("portal", "/portal/_floor"),
        "home": ("portal", "/portal/home"),
        "invoices": ("portal", f"/portal/invoices?supply={sp}&page=2"),
        "invoices1": ("portal", "/portal/invoices"),
        "invoice": ("portal", f"/portal/invoices/{inv}"),
        "pdf": ("portal", f"/portal/invoices/{inv}/pdf"),
        "consumption": ("portal", f"/portal/supply/{sp}/consumption"),
        "requests": ("portal", "/portal/requests"),
        "reading": ("portal", f"/portal/supply/{sp}/reading"),
        "cc_search": ("cc", f"/callcenter/?q={ids['last_name']}&go=0"),
        "cc_customer": ("cc", f"/callcenter/customer/{ids['busy']}"),
        "cc_start": ("cc", "/"),
        "mgr_activities": ("manager", "/activityview/list/"),
        "mgr_start": ("manager", "/"),
    }


def timed(client, url: str, n: int) -> float:
    """CPU milliseconds per request over n requests."""
    get = client.get
    t0 = time.process_time()
    for _ in range(n):
        get(url)
    return (time.process_time() - t0) * 1000 / n


def _loop(client, url: str, n: int) -> None:
    for _ in range(n):
        client.get(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "bench/data/aligned-10000-12-1.db")
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", default="")
    parser.add_argument("--profile", default="")
    parser.add_argument("--loop", default="")
    parser.add_argument("--dump", default="")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="profile-pages-"))
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path) -> None:
    db = tmp / "bench.db"
    shutil.copyfile(args.db, db)
    os.environ.setdefault("SPORTELLO_VAR_DIR", str(tmp / "var"))
    app, ids = build(db)
    clients = {"portal": portal_client(app), "cc": staff_client(app, "bench-cc"),
               "manager": staff_client(app, "bench-manager")}
    table = pages(ids)
    for name, (who, url) in table.items():  # each page answers, and leaves the session as it is
        answer = clients[who].get(url)
        assert answer.status_code == 200, (name, url, answer.status_code, answer.location)
        for _ in range(5):
            again = clients[who].get(url)
        if "Set-Cookie" in again.headers:
            print(f"note: {name} rewrites the session cookie on every request")

    if args.dump:  # each page's answer, to compare two versions of the code
        out = Path(args.dump)
        out.mkdir(parents=True, exist_ok=True)
        for name, (who, url) in table.items():
            body = clients[who].get(url).get_data()
            if not name == "pdf":
                body = re.sub(rb'nonce="[^"]*"', b'nonce=""', body)
                body = re.sub(rb'csrf_token"([^>]*) value="[^"]*"', rb'csrf_token"\1 value=""', body)
            (out / f"{name}.html").write_bytes(body)
        return
    if args.loop:  # for a sampling profiler: py-spy record --format raw -- python ... --loop PAGE
        chosen = [p for p, w in MIX for _ in range(w)] if args.loop == "mixed" else [args.loop]
        for _ in range(max(args.n // len(chosen), 1)):
            for page in chosen:
                who, url = table[page]
                _loop(clients[who], url, 1)
        return
    if args.profile:
        who, url = table[args.profile]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.n):
            clients[who].get(url)
        prof.disable()
        pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)
        return

    names = [n for n in (args.only.split(",") if args.only else table) if n]
    if "floor" not in names:
        names.insert(0, "floor")
    results: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for name in names:
            who, url = table[name]
            results[name].append(timed(clients[who], url, args.n))
    med = {n: statistics.median(v) for n, v in results.items()}
    ratio = {n: statistics.median(x / f for x, f in zip(v, results["floor"])) for n, v in results.items()}
    print(f"{'page':16} {'ms/request':>10} {'x floor':>8}   rounds (ms/request)")
    for name in names:
        print(f"{name:16} {med[name]:10.2f} {ratio[name]:8.2f}   "
              + " / ".join(f"{x:.2f}" for x in results[name]))
    if all(p in med for p, _w in MIX):
        weight = sum(w for _p, w in MIX)
        mixed = sum(med[p] * w for p, w in MIX) / weight
        mixed_ratio = sum(ratio[p] * w for p, w in MIX) / weight
        print(f"{'mixed':16} {mixed:10.2f} {mixed_ratio:8.2f}")


if __name__ == "__main__":
    main()
