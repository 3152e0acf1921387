"""F-30: jobs run under a database lease; each run is recorded for the admin."""
import threading
import time

import sqlalchemy as sa

from app.jobs import JOBS, run_job
from app.jobs.lease import acquire, release, run_with_lease
from app.models import JobRun


def test_F30_every_job_has_a_buildable_schedule_a_title_and_a_lease(app):
    """Each JOBS row builds an APScheduler trigger with a next run ahead, and is shown by title."""
    import datetime as dt

    from app.jobs import make_trigger, next_runs

    ids = [j.id for j in JOBS]
    assert len(ids) == len(set(ids)) and {"alignment", "outbox", "mail", "invoice_mail"} <= set(ids)
    now = dt.datetime.now(dt.timezone.utc)
    for job in JOBS:
        with app.app_context():
            upcoming = next_runs(make_trigger(app, job, jitter=False), n=2)
        assert len(upcoming) == 2 and now < upcoming[0] < upcoming[1], job.id
        assert job.lease_seconds > 0 and str(job.title) and str(job.title) != job.id


def test_F30_lease_is_exclusive_until_released_or_expired(db):
    assert acquire("demo", "host-a:1", 60)
    assert not acquire("demo", "host-b:2", 60)
    release("demo", "host-a:1")
    assert acquire("demo", "host-b:2", 60)
    # An expired lease (a crashed holder) can be taken over.
    assert acquire("crashy", "host-a:1", -1)
    assert acquire("crashy", "host-b:2", 60)


def test_F30_two_concurrent_runs_execute_once(app, db):
    calls = []
    started = threading.Event()

    def slow_job():
        calls.append(1)
        started.set()
        time.sleep(0.5)
        return {"done": 1}

    outcomes = []

    def worker(holder):
        with app.app_context():
            outcomes.append(run_with_lease("slow", slow_job, holder, 60))

    t1 = threading.Thread(target=worker, args=("a:1",))
    t1.start()
    started.wait(5)
    t2 = threading.Thread(target=worker, args=("b:2",))
    t2.start()
    t1.join()
    t2.join()
    assert sorted(outcomes) == ["busy", "ok"]
    assert len(calls) == 1
    runs = db.session.scalars(sa.select(JobRun).where(JobRun.job_id == "slow")).all()
    assert [(r.status, r.counts) for r in runs] == [("ok", {"done": 1})]


def test_F30_alignment_job_records_its_run(billing_sim, app, db):
    assert run_job(app, "alignment") == "ok"
    run = db.session.scalars(sa.select(JobRun).where(JobRun.job_id == "alignment")).one()
    assert run.status == "ok" and run.counts["customer"] > 0 and run.finished_at


def test_F30_failed_job_is_recorded_with_error(billing_sim, app, db):
    billing_sim.stop()
    assert run_job(app, "alignment") == "failed"
    run = db.session.scalars(sa.select(JobRun).where(JobRun.job_id == "alignment")).one()
    assert run.status == "failed" and "connection" in run.error
