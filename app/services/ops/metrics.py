"""The `/metrics` page's content: the counters of `app.services.core.metrics` (added up over
every gunicorn worker in multiprocess mode) and gauges read from the database at scrape time;
the scheduler's own `/metrics` (its process's counters only); who may scrape either."""
from __future__ import annotations

import hmac
import ipaddress
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


def process_exposition() -> bytes:
    """The counters of this process (in multiprocess mode: of every process writing to its
    directory, e.g. gunicorn's workers), in the text format."""
    if os.environ.get(counters.MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY)


def exposition() -> bytes:
    """The text format answer of a web node: process counters, then the database gauges."""
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    return process_exposition() + generate_latest(database)


def scrape_allowed(authorization: str, remote_addr: str | None, token: str | None, allow: str | None) -> bool:
    """A scraper may read metrics: it sends `Bearer <token>`, or comes from a network of `allow`
    (comma-separated). Neither configured: nobody may."""
    if token and authorization.startswith("Bearer ") and \
            hmac.compare_digest(authorization[7:].strip().encode(), token.encode()):
        return True
    if allow and remote_addr:
        try:
            address = ipaddress.ip_address(remote_addr)
        except ValueError:
            return False
        for net in allow.split(","):
            net = net.strip()
            if net and address in ipaddress.ip_network(net, strict=False):
                return True
    return False
