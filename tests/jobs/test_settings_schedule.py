"""F-30 + F-42: the nightly job's hours are a setting; the scheduler notices a change at its next
check and reschedules, and the jobs page shows the next run as the scheduler process planned it.

The first test drives the watcher in this process; the second starts the real scheduler process
(`flask sportello scheduler`) and changes the hours on the settings page, as an admin does."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger
from babel.dates import format_datetime

from app.formatting import moment_pattern
from app.models import JobSchedule
from app.roles import ADMIN
from app.services.core import settings
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]
ROME = ZoneInfo("Europe/Rome")


def _hours_away(n: int) -> str:
    """A batch hour n hours from now (Italian time): the job does not fire during the test."""
    return str((dt.datetime.now(ROME).hour + n) % 24)


def _nightly_next_run(hours: str) -> dt.datetime:
    return CronTrigger(hour=hours, minute="*/15", timezone=ROME).get_next_fire_time(None, dt.datetime.now(ROME))


def test_F42_the_watcher_reschedules_after_a_settings_change(app, db):
    from apscheduler.schedulers.background import BackgroundScheduler

    from app.jobs import JOBS, get_job
    from app.jobs.schedule import ScheduleWatcher, plan

    first, second = _hours_away(6), _hours_away(3)
    settings.update({"invoice_mail_hours": first})
    scheduler = BackgroundScheduler(timezone=ROME)
    watcher = ScheduleWatcher(app, scheduler, "test-host:1", JOBS)
    for job in JOBS:
        scheduler.add_job(lambda: None, watcher.trigger_for(job), id=job.id)
    scheduler.start(paused=True)  # next run times planned, nothing runs
    try:
        nightly = get_job("invoice_mail")
        assert plan(app, nightly).source == "computed"  # no scheduler has reported yet
        watcher.check()
        row = db.session.get(JobSchedule, "invoice_mail")
        assert row.next_run_at == _nightly_next_run(first).astimezone(dt.UTC).replace(tzinfo=None)
        assert row.holder == "test-host:1" and row.trigger["hour"] == first
        shown = plan(app, nightly)
        assert (shown.source, shown.holder, shown.pending) == ("scheduler", "test-host:1", False)

        settings.update({"invoice_mail_hours": second})
        assert plan(app, nightly).pending  # the page says the scheduler has not taken it up yet
        watcher.check()
        db.session.expire_all()
        row = db.session.get(JobSchedule, "invoice_mail")
        assert row.next_run_at == _nightly_next_run(second).astimezone(dt.UTC).replace(tzinfo=None)
        assert f"hour='{second}'" in str(scheduler.get_job("invoice_mail").trigger)
        assert not plan(app, nightly).pending
        reported = db.session.scalars(sa.select(JobSchedule.job_id)).all()
        assert sorted(reported) == sorted(j.id for j in JOBS)
    finally:
        scheduler.shutdown(wait=False)


def _scheduler_env(database_url: str, var_dir: Path) -> dict:
    from app.jobs import JOBS

    # Every job but the nightly one far away, so nothing else runs during the test.
    never = {"trigger": "cron", "year": 2099, "month": 1, "day": 1}
    triggers = {job.id: never for job in JOBS if job.id != "invoice_mail"}
    return dict(os.environ, DATABASE_URL=database_url, SPORTELLO_VAR_DIR=str(var_dir),
                SECRET_KEY="scheduler-test-key-0123456789-abcdefghijkl", JOB_TRIGGERS=json.dumps(triggers),
                SCHEDULER_CHECK_SECONDS="1", BILLING_URL="http://127.0.0.1:9/NAV/WS/DEMO",
                BILLING_TIMEOUT="1", MAIL_SERVER="127.0.0.1", MAIL_PORT="9")


def _nightly_on_the_jobs_page(client) -> tuple[str, str, str]:
    """(next run as shown, where it comes from, the explanation) of the nightly job."""
    page = client.get("/jobs/").get_data(as_text=True)
    section = re.search(r'id="job-invoice_mail">(.*?)</section>', page, re.S).group(1)
    match = re.search(r'<span class="next-run" data-source="(\w+)">([^<]*)</span>\s*<small[^>]*>([^<]*)</small>',
                      section)
    return match.group(2), match.group(1), match.group(3)


def _wait_for(client, expected, proc, log: Path, deadline_s: float = 120):
    deadline = time.monotonic() + deadline_s
    seen = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        seen = _nightly_on_the_jobs_page(client)
        if seen[:2] == expected:
            return seen
        time.sleep(0.3)
    raise AssertionError(f"the jobs page shows {seen}, not {expected}; scheduler log:\n{log.read_text()[-3000:]}")


def test_F42_new_batch_hours_reach_the_running_scheduler_and_the_jobs_page(app, db, client, login_as,
                                                                           database_url, tmp_path):
    first, second = _hours_away(6), _hours_away(3)
    settings.update({"invoice_mail_hours": first})
    log = tmp_path / "scheduler.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app.py", "sportello", "scheduler"],
                                cwd=ROOT, env=_scheduler_env(database_url, tmp_path), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        login_as(ADMIN)

        def shown(hours):
            return format_datetime(_nightly_next_run(hours), moment_pattern("it"), tzinfo=ROME, locale="it")

        _, _, by = _wait_for(client, (shown(first), "scheduler"), proc, log)
        assert f":{proc.pid}" in by  # planned by that very process

        # The admin changes the batch hours on the settings page...
        page = client.get("/settings/").get_data(as_text=True)
        resp = client.post("/settings/save", data={"csrf_token": csrf_token(page),
                                                   "invoice_mail_hours": second})
        assert resp.status_code == 302 and settings.get("invoice_mail_hours") == second
        # ...and within a check of the running scheduler, its new plan is on the jobs page.
        _, _, by = _wait_for(client, (shown(second), "scheduler"), proc, log)
        assert f":{proc.pid}" in by
        assert "rescheduled after a settings change" in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
