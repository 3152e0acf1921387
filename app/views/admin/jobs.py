"""The jobs page (F-30): each job's schedule, its next run as the scheduler process planned it,
lease, last runs with outcome, counts and errors, and a "run now" button (POST + CSRF) that
starts the job, under its lease, in a process of its own. Admin only."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name

from app.extensions import db
from app.i18n import gettext as _, lazy_gettext as _l
from app.jobs import JOBS, get_job, trigger_kwargs
from app.jobs.lease import DONE
from app.jobs.schedule import plan
from app.models import JobLease, JobRun
from app.models.base import utcnow

log = logging.getLogger(__name__)

ROLE_GRANTS: dict = {}  # Admin only (Admin holds every permission)


def describe_schedule(kwargs: dict) -> str:
    """A job's trigger in words (the admin's language)."""
    kwargs = dict(kwargs)
    kind = kwargs.pop("trigger", "")
    kwargs.pop("jitter", None)
    if kind == "interval":
        parts = []
        for unit, label in (("weeks", _("weeks")), ("days", _("days")), ("hours", _("hours")),
                            ("minutes", _("minutes")), ("seconds", _("seconds"))):
            if kwargs.get(unit):
                parts.append(f"{kwargs[unit]} {label}")
        return _("every %(interval)s", interval=" ".join(parts))
    if kind == "cron":
        fields = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k in
                           ("day_of_week", "day", "hour", "minute", "second"))
        return _("at %(fields)s (Italian time)", fields=fields)
    return kind


def _overview(job, runs: int):
    planned = plan(current_app, job)
    lease = db.session.get(JobLease, job.id)
    now = utcnow()
    running = bool(lease and lease.holder and not lease.holder.startswith(DONE)
                   and lease.expires_at and lease.expires_at > now)
    last = db.session.scalars(sa.select(JobRun).where(JobRun.job_id == job.id)
                              .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(runs)).all()
    return {"job": job, "schedule": describe_schedule(trigger_kwargs(current_app, job)),
            "plan": planned, "running": running, "lease": lease, "runs": last}


# Settings a job started by hand must share with this app (the rest comes from the environment).
_CHILD_ENV = {"DATABASE_URL": "SQLALCHEMY_DATABASE_URI", "SECRET_KEY": "SECRET_KEY",
              "PUBLIC_BASE_URL": "PUBLIC_BASE_URL", "BILLING_URL": "BILLING_URL",
              "MAIL_SERVER": "MAIL_SERVER", "MAIL_PORT": "MAIL_PORT"}


def _run_in_background(app, job_id: str) -> None:
    """Start `flask sportello run-job <id>` as a process of its own: jobs never run inside web
    workers (a worker restart would cut the run short); the lease still makes it exclusive."""
    from config import VAR_DIR

    root = Path(app.root_path).parent
    env = dict(os.environ)
    env.update({name: str(app.config[key]) for name, key in _CHILD_ENV.items() if app.config.get(key)})
    env["JOB_TRIGGERS"] = json.dumps(app.config.get("JOB_TRIGGERS") or {})
    logs = Path(VAR_DIR) / "log"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "jobs-run-now.log", "ab") as out:
        subprocess.Popen([sys.executable, "-m", "flask", "--app", str(root / "app.py"), "sportello",
                          "run-job", job_id], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    log.info("Job %s started by hand", job_id)


class JobsView(BaseView):
    route_base = "/jobs"
    default_view = "list"

    @expose("/")
    @has_access
    def list(self):
        jobs = [_overview(job, 5) for job in JOBS]
        return self.render_template("admin/jobs.html", jobs=jobs, title=_("Scheduled jobs"))

    @expose("/<job_id>")
    @has_access
    def show(self, job_id):
        try:
            job = get_job(job_id)
        except KeyError:
            abort(404)
        return self.render_template("admin/jobs_show.html", item=_overview(job, 50),
                                    title=str(job.title or job.id))

    @expose("/<job_id>/run", methods=["POST"])
    @has_access
    @permission_name("run")
    def run(self, job_id):
        try:
            job = get_job(job_id)
        except KeyError:
            abort(404)
        if _overview(job, 0)["running"]:
            flash(_("%(job)s is running already: wait for it to finish.", job=job.title or job.id), "warning")
        else:
            _run_in_background(current_app._get_current_object(), job.id)
            flash(_("%(job)s started: its run appears below when it finishes.", job=job.title or job.id), "info")
        return redirect(url_for("JobsView.show", job_id=job.id))


def register(appbuilder) -> None:
    appbuilder.add_view(JobsView, "Scheduled jobs", label=_l("Scheduled jobs"), icon="fa-clock-o",
                        category="System", category_label=_l("System"), category_icon="fa-cogs")
