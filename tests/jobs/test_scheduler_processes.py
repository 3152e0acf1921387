"""F-30: two scheduler processes against one PostgreSQL run each scheduled job once per slot."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
INTERVAL = 2  # seconds between slots of every job in this test


@pytest.fixture
def scheduler_database():
    """A database of this test's own on PostgreSQL, migrated; skipped when none answers."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    url = url if url.startswith("postgres") else PG_DEFAULT
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        pytest.skip(f"two-process scheduler test needs PostgreSQL; none answers at {url}: "
                    f"{exc.__class__.__name__}")
    name = f"sportello_sched_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    db_url = sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        yield db_url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _env(db_url: str, var_dir: Path) -> dict:
    from app.jobs import JOBS

    # A random delay of up to 0.8 s on every firing stands for clocks and loads that differ
    # between machines: without the held lease the later process would run the slot again.
    triggers = {job.id: {"trigger": "interval", "seconds": INTERVAL, "jitter": 0.8} for job in JOBS}
    return dict(os.environ, DATABASE_URL=db_url, SPORTELLO_VAR_DIR=str(var_dir),
                SECRET_KEY="scheduler-test-key-0123456789-abcdefghijkl", JOB_TRIGGERS=json.dumps(triggers),
                BILLING_URL="http://127.0.0.1:9/NAV/WS/DEMO", BILLING_TIMEOUT="1",
                MAIL_SERVER="127.0.0.1", MAIL_PORT="9")


def test_F30_two_scheduler_processes_run_each_job_once_per_slot(scheduler_database, tmp_path):
    from app.jobs import ANCHOR, JOBS

    env = _env(scheduler_database, tmp_path)
    flask = [sys.executable, "-m", "flask", "--app", "app.py"]
    migrated = subprocess.run(flask + ["db", "upgrade", "heads"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=180)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    logs = [tmp_path / f"scheduler-{n}.log" for n in (1, 2)]
    procs = []
    for log in logs:
        with open(log, "wb") as out:
            procs.append(subprocess.Popen(flask + ["sportello", "scheduler"], cwd=ROOT, env=env,
                                          stdout=out, stderr=subprocess.STDOUT))
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not all("Scheduler started" in p.read_text() for p in logs):
            assert all(p.poll() is None for p in procs), [p.read_text()[-2000:] for p in logs]
            time.sleep(0.2)
        time.sleep(6 * INTERVAL)  # both processes up for several slots
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    text = [p.read_text() for p in logs]
    assert all("Scheduler started" in t for t in text), [t[-2000:] for t in text]

    engine = sa.create_engine(scheduler_database)
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT job_id, started_at, holder, status FROM job_runs")).all()
    engine.dispose()
    anchor = ANCHOR.replace(tzinfo=None)
    per_slot = Counter((job, int((started - anchor).total_seconds() // INTERVAL)) for job, started, _, _ in runs)
    per_job = Counter(job for job, _, _, _ in runs)
    for job in JOBS:
        assert per_job[job.id] >= 3, (job.id, per_job)  # the job did run, slot after slot
    assert max(per_slot.values()) == 1, [k for k, n in per_slot.items() if n > 1]  # never twice a slot
    # Both processes fired the same slots: the one that came second found the run taken.
    assert sum(t.count(": busy") for t in text) >= 3
    assert {status for _, _, _, status in runs} <= {"ok", "failed"}


def test_F30_a_finished_slot_keeps_its_lease_until_the_next_slot(app, db):
    """The in-process view of the rule above: a scheduled run keeps the lease; another process
    firing the same slot is turned away; a run by hand may still go."""
    from app.jobs import run_job
    from app.models import JobLease, JobRun

    # A yearly slot: the lease is held until shortly before next New Year, whatever the time now.
    app.config["JOB_TRIGGERS"] = {"outbox": {"trigger": "cron", "month": 1, "day": 1, "hour": 12}}
    try:
        assert run_job(app, "outbox", scheduled=True, holder="host-a:1") == "ok"
        lease = db.session.get(JobLease, "outbox")
        assert lease.holder == "done:host-a:1" and lease.expires_at is not None
        assert run_job(app, "outbox", scheduled=True, holder="host-b:2") == "busy"
        assert run_job(app, "outbox", holder="admin-run:3") == "ok"  # "run now"
        db.session.expire_all()
        assert db.session.get(JobLease, "outbox").holder == "done:admin-run:3"  # the slot stays taken
        assert run_job(app, "outbox", scheduled=True, holder="host-b:2") == "busy"
        runs = db.session.scalars(sa.select(JobRun.holder).where(JobRun.job_id == "outbox")).all()
        assert sorted(runs) == ["admin-run:3", "host-a:1"]
    finally:
        app.config["JOB_TRIGGERS"] = {}
