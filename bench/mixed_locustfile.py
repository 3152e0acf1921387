"""Load for bench/mixed.py (locust, headless, FastHttpUser, closed loop, no wait; or paced:
each user sends `MIXED_RATE` requests/s on average, at exponentially distributed intervals, so
that the users together are a Poisson stream of arrivals, not bursts of every user at once).

Reads the plan bench/mixed.py wrote (`MIXED_PLAN`, JSON): signed-in sessions, each with its
addresses per page kind, the mix of kinds (weights), and for self-readings the meters a
session may report on. Every request picks a session and a kind at random (seeded), sends
that session's cookie and the `X-Bench-Round` / `X-Bench-Kind` headers the server's hooks
count by, and is timed here (`perf_counter`, every latency kept). At the end the latencies, the
errors per kind and this process's own CPU during the load go to `MIXED_OUT` (JSON).

Self-readings are real POSTs of the portal's reading form with the session's CSRF token: each
meter is reported on by one request at a time, day after day from its last reading up to today
(a reading must be later than the previous one and not in the future); when no meter is free
the request reads the form instead and is counted under its own kind.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
from urllib.parse import urlencode

import gevent
from locust import FastHttpUser, events, task

from bench.mixed import session_cookie

PLAN = json.loads(open(os.environ["MIXED_PLAN"]).read())
OUT = os.environ["MIXED_OUT"]
ROUND = os.environ.get("MIXED_ROUND", "0")
MAX_REQUESTS = int(os.environ.get("MIXED_MAX_REQUESTS", "0"))
RATE = float(os.environ.get("MIXED_RATE", "0"))  # per user; 0: no wait
SESSIONS = PLAN["sessions"]
KINDS = list(PLAN["mix"])
WEIGHTS = [PLAN["mix"][k] for k in KINDS]
# the sessions that have addresses of each kind (a staff page is asked for by the role it is for)
BY_KIND = {k: [i for i, s in enumerate(SESSIONS) if s["urls"].get(k)] for k in KINDS + ["reading form"]}
TODAY = dt.date.today()

LATENCIES: dict[str, list[float]] = {}
ERRORS: dict[str, int] = {}
SAMPLES: dict[str, str] = {}
STATE = {"fired": 0, "cpu0": None, "t0": None, "cpu": 0.0, "seconds": 0.0}
# meters free for a reading: [session index, reading url, meter id, next date, value, corrector, step]
METERS = [m for m in PLAN.get("meters", [])]
BUSY: set[int] = set()
REWRITES: dict[str, int] = {}


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


@events.test_start.add_listener
def _start(environment, **_kw):
    STATE["cpu0"], STATE["t0"] = _cpu(), time.perf_counter()


@events.test_stop.add_listener
def _stop(environment, **_kw):
    if STATE["t0"] is not None and not STATE["seconds"]:
        STATE["cpu"] = _cpu() - STATE["cpu0"]
        STATE["seconds"] = time.perf_counter() - STATE["t0"]


@events.quitting.add_listener
def _write(environment, **_kw):
    _stop(environment)
    with open(OUT, "w") as fh:
        json.dump({"latencies": LATENCIES, "errors": ERRORS, "samples": SAMPLES, "cpu": STATE["cpu"],
                   "seconds": STATE["seconds"], "fired": STATE["fired"],
                   "meters": METERS, "rewrites": REWRITES,
                   "cookies": [s.get("cookie") for s in SESSIONS]}, fh)


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, response=None, **_kw):
    LATENCIES.setdefault(name, []).append(response_time)
    if exception is not None:
        ERRORS[name] = ERRORS.get(name, 0) + 1
        if name not in SAMPLES:
            SAMPLES[name] = f"{exception!r}"[:300]


def keep_cookie(session: dict, resp, kind: str) -> None:
    """As a browser does: a session cookie the server sends replaces the one held (the session
    notes its last activity once a minute, a flash message rides in it until shown)."""
    new = session_cookie((resp.headers or {}).get("set-cookie"))
    if new and session.get("cookie"):
        session["cookie"] = new
        REWRITES[kind] = REWRITES.get(kind, 0) + 1


class Customer(FastHttpUser):
    def on_start(self):
        self.rnd = random.Random(hash((ROUND, id(self))) & 0xFFFFFFFF)
        if RATE:  # the first arrival too: not every user at the start
            gevent.sleep(self.rnd.expovariate(RATE))
        self.due = time.monotonic() + (self.rnd.expovariate(RATE) if RATE else 0.0)  # the next

    def wait_time(self) -> float:
        """Until this user's next arrival (none when not paced). A user the server kept waiting
        sends its late requests at once, as far as a second back, so the rate holds while it can."""
        if not RATE:
            return 0.0
        now = time.monotonic()
        wait = max(0.0, self.due - now)
        self.due = max(self.due, now - 1.0) + self.rnd.expovariate(RATE)
        return wait

    def _headers(self, session: dict, kind: str) -> dict:
        headers = {"X-Bench-Round": ROUND, "X-Bench-Kind": kind, "User-Agent": PLAN["user_agent"]}
        if session.get("cookie"):
            headers["Cookie"] = session["cookie"]
        return headers

    def _count(self) -> None:
        STATE["fired"] += 1
        if MAX_REQUESTS and STATE["fired"] >= MAX_REQUESTS:
            gevent.spawn(self.environment.runner.quit)

    @task
    def one(self):
        if MAX_REQUESTS and STATE["fired"] >= MAX_REQUESTS:
            gevent.sleep(0.1)
            return
        kind = self.rnd.choices(KINDS, WEIGHTS)[0]
        self._count()
        # Each response's cookies are dropped: every request sends the signed-in cookie itself.
        self.client.cookiejar.clear()
        if kind == "reading":
            return self._reading()
        session = SESSIONS[self.rnd.choice(BY_KIND[kind])]
        url = self.rnd.choice(session["urls"][kind])
        self._get(url, kind, session)

    def _get(self, url: str, kind: str, session: dict) -> None:
        """A page must answer 200 itself (a redirect to the login page is an error)."""
        with self.client.get(url, name=kind, headers=self._headers(session, kind),
                             allow_redirects=False, catch_response=True) as resp:
            keep_cookie(session, resp, kind)
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")

    def _reading(self):
        free = [i for i, m in enumerate(METERS) if i not in BUSY and m[3] <= TODAY.isoformat()]
        if not free:
            kind = "reading form"
            session = SESSIONS[self.rnd.choice(BY_KIND[kind])]
            self._get(self.rnd.choice(session["urls"][kind]), kind, session)
            return
        i = self.rnd.choice(free)
        BUSY.add(i)
        try:
            owner, url, meter_id, day, value, corrector, step = METERS[i]
            # Used or refused (or cut off when the round ends), that day is gone for this meter.
            nxt = dt.date.fromisoformat(day) + dt.timedelta(days=1)
            METERS[i] = [owner, url, meter_id, nxt.isoformat(), value + step,
                         None if corrector is None else corrector + step, step]
            session = SESSIONS[owner]
            form = {"csrf_token": session["csrf"], "meter": str(meter_id), "reading_date": day,
                    "value": str(value)}
            if corrector is not None:
                form["corrector_value"] = str(corrector)
            headers = self._headers(session, "reading")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            with self.client.post(url, data=urlencode(form), name="reading", headers=headers,
                                  allow_redirects=False, catch_response=True) as resp:
                keep_cookie(session, resp, "reading")
                if resp.status_code == 302 and "/consumption" in (resp.headers.get("Location") or ""):
                    resp.success()
                else:
                    resp.failure(f"reading refused: {resp.status_code}")
        finally:
            BUSY.discard(i)
