"""F-30 under faults: a job's end is recorded and its lease freed even when the database
refuses the first writes (locked for a moment)."""
import sqlalchemy as sa
from sqlalchemy import event

from app.jobs import lease
from app.models import JobLease, JobRun


def test_a_run_whose_end_cannot_be_written_at_once_still_frees_its_lease(app, db, monkeypatch):
    monkeypatch.setattr(lease, "RETRY_DELAYS", (0.01, 0.01, 0.01), raising=False)
    refusals = {"left": 2}

    def refuse(session, flush_context, instances):
        if refusals["left"] and any(isinstance(o, JobRun) and o.status != "running" for o in session.dirty):
            refusals["left"] -= 1
            raise sa.exc.OperationalError("UPDATE job_runs", {}, Exception("database is locked"))

    event.listen(db.session, "before_flush", refuse)
    try:
        status = lease.run_with_lease("faulty", lambda: {"done": 1}, "holder-a", 600)
    finally:
        event.remove(db.session, "before_flush", refuse)
    assert status == "ok" and refusals["left"] == 0
    db.session.rollback()
    run = db.session.scalar(sa.select(JobRun).where(JobRun.job_id == "faulty"))
    assert run.status == "ok" and run.finished_at is not None and run.counts == {"done": 1}
    held = db.session.get(JobLease, "faulty")
    assert held.holder is None  # free for the next run at once, not after 600 s


def test_a_run_left_running_by_a_dead_holder_is_marked_interrupted(app, db):
    import datetime as dt

    from app.models.base import utcnow

    db.session.add(JobLease(name="crashed", holder="gone", expires_at=utcnow() - dt.timedelta(seconds=1)))
    db.session.add(JobRun(job_id="crashed", holder="gone", status="running"))
    db.session.commit()
    assert lease.run_with_lease("crashed", lambda: {}, "holder-b", 60) == "ok"
    db.session.rollback()
    statuses = [r.status for r in db.session.scalars(sa.select(JobRun).where(JobRun.job_id == "crashed")
                                                     .order_by(JobRun.id))]
    assert statuses == ["interrupted", "ok"]


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lease_held_by_a_killed_process_on_this_machine_is_taken_over_at_once(app, db):
    """A scheduler killed mid-run leaves a lease valid for its whole length: a process on the
    same machine sees the holder is gone and takes over now, marking the run interrupted; a
    live holder's lease, or one on another machine, is left alone until it expires."""
    import datetime as dt
    import os
    import socket

    from app.models.base import utcnow

    here = socket.gethostname()
    later = utcnow() + dt.timedelta(minutes=10)
    db.session.add_all([
        JobLease(name="killed", holder=f"{here}:{_dead_pid()}", expires_at=later),
        JobLease(name="alive", holder=f"{here}:{os.getpid()}", expires_at=later),
        JobLease(name="elsewhere", holder=f"other-host:{_dead_pid()}", expires_at=later),
        JobRun(job_id="killed", holder=f"{here}:0", status="running"),
    ])
    db.session.commit()
    assert lease.run_with_lease("killed", lambda: {}, "holder-b", 60) == "ok"
    assert lease.run_with_lease("alive", lambda: {}, "holder-b", 60) == "busy"
    assert lease.run_with_lease("elsewhere", lambda: {}, "holder-b", 60) == "busy"
    db.session.rollback()
    statuses = [r.status for r in db.session.scalars(sa.select(JobRun).where(JobRun.job_id == "killed")
                                                     .order_by(JobRun.id))]
    assert statuses == ["interrupted", "ok"]
