"""Prometheus metrics that code updates as it works (counters, histograms), in one place.

Every metric Sportello exports is named here (and listed in docs/operations.md with the alert it
supports). Labels are bounded: endpoint names, operations, job ids, outcomes — never a URL, an id
or an address. Under gunicorn, `PROMETHEUS_MULTIPROC_DIR` makes prometheus_client write each
worker's values to files that the `/metrics` page adds up (multiprocess mode); values read from
the database at scrape time (outbox depth, alignment lag) live in `app.services.ops.metrics`.

Distinct users seen in the last 15 minutes are kept in Redis when the rate limiter keeps its
counters there (one figure for every node), otherwise in this process.
"""
from __future__ import annotations

import threading
import time

from prometheus_client import Counter, Histogram

REQUESTS = Counter("sportello_http_requests_total", "Web requests answered, by endpoint and status",
                   ["endpoint", "method", "status"])
REQUEST_SECONDS = Histogram("sportello_http_request_duration_seconds", "Web request latency by endpoint",
                            ["endpoint"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
BILLING_CALLS = Counter("sportello_billing_calls_total", "Calls to the billing system, by operation and adapter",
                        ["operation", "adapter"])
BILLING_ERRORS = Counter("sportello_billing_errors_total",
                         "Failed calls to the billing system, by operation, adapter and fault kind",
                         ["operation", "adapter", "kind"])
BILLING_SECONDS = Histogram("sportello_billing_call_duration_seconds", "Billing call latency by operation",
                            ["operation", "adapter"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
JOB_RUNS = Counter("sportello_job_runs_total", "Scheduled job runs, by job and outcome (ok, failed, busy)",
                   ["job", "outcome"])
JOB_SECONDS = Histogram("sportello_job_duration_seconds", "Scheduled job run time, by job and outcome",
                        ["job", "outcome"], buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600))
EMAILS = Counter("sportello_emails_total", "E-mails by queue (mail, invoice) and outcome (sent, retry, failed)",
                 ["queue", "outcome"])

# The outcomes of e-mail queues as their counts name them.
_MAIL_OUTCOMES = {"sent": "sent", "retry": "retry", "failed": "failed", "refused": "failed"}


def count_emails(queue: str, counts: dict) -> None:
    """Add a mail run's counts (sent / retry / failed or refused) to the e-mail counter."""
    for key, outcome in _MAIL_OUTCOMES.items():
        if counts.get(key):
            EMAILS.labels(queue, outcome).inc(counts[key])


def observe_job(job: str, outcome: str, seconds: float) -> None:
    JOB_RUNS.labels(job, outcome).inc()
    if outcome != "busy":
        JOB_SECONDS.labels(job, outcome).observe(seconds)


# --- users seen ---------------------------------------------------------------------------------

SEEN_WINDOW = 15 * 60  # seconds
_SEEN_KEY = "sportello:users-seen"
_seen_local: dict[int, float] = {}
_seen_written: dict[int, float] = {}  # user -> when this process last wrote it (Redis)
_lock = threading.Lock()


def _redis(storage_uri: str | None):
    if not storage_uri or not storage_uri.startswith(("redis://", "rediss://")):
        return None
    import redis

    clients = _redis.__dict__.setdefault("clients", {})
    if storage_uri not in clients:
        clients[storage_uri] = redis.Redis.from_url(storage_uri, socket_timeout=0.5, socket_connect_timeout=0.5)
    return clients[storage_uri]


def user_seen(user_id: int, storage_uri: str | None) -> None:
    """Note that `user_id` made a request now (written to Redis at most once a minute per user)."""
    now = time.time()
    client = _redis(storage_uri)
    if client is None:
        with _lock:
            _seen_local[user_id] = now
        return
    if now - _seen_written.get(user_id, 0) < 60:
        return
    _seen_written[user_id] = now
    try:
        client.zadd(_SEEN_KEY, {str(user_id): now})
    except Exception:  # metrics never break a request
        pass


def users_seen(storage_uri: str | None) -> int:
    """Distinct users who made a request in the last 15 minutes."""
    cutoff = time.time() - SEEN_WINDOW
    client = _redis(storage_uri)
    if client is not None:
        try:
            client.zremrangebyscore(_SEEN_KEY, "-inf", cutoff)
            return int(client.zcard(_SEEN_KEY))
        except Exception:
            return 0
    with _lock:
        for user in [u for u, at in _seen_local.items() if at < cutoff]:
            del _seen_local[user]
        return len(_seen_local)
