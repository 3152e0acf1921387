"""The `/metrics` page's content: the counters of `app.services.core.metrics` (added up over
every gunicorn worker in multiprocess mode) and gauges read from the database at scrape time."""
from __future__ import annotations

import math
import os

from flask import current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

from app.services.core import metrics as counters
from app.services.ops import health, status
from app.services.ops.version import app_version


class DatabaseCollector:
    """Gauges read when scraped: one short query each, in the scraping worker."""

    def collect(self):
        waiting = GaugeMetricFamily("sportello_outbox_waiting", "Outbox rows waiting for billing, by operation",
                                    labels=["operation"])
        oldest = GaugeMetricFamily("sportello_outbox_oldest_age_seconds",
                                   "Age of the oldest outbox row waiting for billing, by operation",
                                   labels=["operation"])
        for row in status.outbox_depth():
            waiting.add_metric([row.operation], row.waiting)
            oldest.add_metric([row.operation], row.oldest_age)
        yield waiting
        yield oldest
        yield GaugeMetricFamily("sportello_outbox_failed", "Outbox rows billing refused (need staff)",
                                value=status.outbox_failed())
        age = status.alignment_age()
        yield GaugeMetricFamily("sportello_alignment_age_seconds",
                                "Seconds since the least recently aligned billing entity was aligned "
                                "(+Inf: never aligned)", value=math.inf if age is None else age)
        mail = status.mail_state()
        yield GaugeMetricFamily("sportello_mail_waiting", "Notification e-mails queued or being sent", value=mail.waiting)
        yield GaugeMetricFamily("sportello_mail_retrying", "Notification e-mails waiting after a temporary failure",
                                value=mail.retrying)
        yield GaugeMetricFamily("sportello_mail_failed", "Notification e-mails refused for good", value=mail.failed)
        yield GaugeMetricFamily("sportello_invoice_mail_retrying", "Invoice e-mail addresses waiting after a "
                                "temporary failure", value=mail.invoice_retrying)
        yield GaugeMetricFamily("sportello_invoice_mail_refused", "Invoice e-mail addresses refused",
                                value=mail.invoice_refused)
        beats = status.heartbeats(current_app.config.get("SCHEDULER_CHECK_SECONDS", 30))
        yield GaugeMetricFamily("sportello_schedulers_alive", "Scheduler processes with a recent heartbeat",
                                value=sum(1 for b in beats if b.alive))
        yield GaugeMetricFamily("sportello_scheduler_heartbeat_age_seconds",
                                "Seconds since the most recent scheduler heartbeat (+Inf: none in a day)",
                                value=min((b.age for b in beats), default=math.inf))
        yield GaugeMetricFamily("sportello_users_seen", "Distinct users who made a request in the last 15 minutes",
                                value=counters.users_seen(current_app.config.get("RATELIMIT_STORAGE_URI")))
        ready = health.readiness()
        up = GaugeMetricFamily("sportello_check_up", "Readiness checks of this node (1 up, 0 down)", labels=["check"])
        for name, ok in ready.checks.items():
            up.add_metric([name], 1 if ok else 0)
        yield up
        info = InfoMetricFamily("sportello_build", "The running version and the database's migration revision")
        info.add_metric([], {"version": app_version(), "migration": ",".join(ready.database_revision) or "none",
                             "code_head": ",".join(ready.code_heads)})
        yield info


def exposition() -> bytes:
    """The text format answer: process counters, then the database gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        live = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        live = generate_latest(REGISTRY)
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    return live + generate_latest(database)
