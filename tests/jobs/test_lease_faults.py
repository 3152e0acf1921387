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
