"""Prometheus metrics that code updates as it works (counters, histograms), in one place.

Every metric Sportello exports is named here (and listed in docs/operations.md with the alert it
supports). Labels are bounded: endpoint names, operations, job ids, outcomes — never a URL, an id
or an address. Under gunicorn, `PROMETHEUS_MULTIPROC_DIR` makes prometheus_client write each
worker's values to files that the `/metrics` page adds up (multiprocess mode); values read from
the database at scrape time (outbox depth, alignment lag) live in `app.services.ops.metrics`.

Updating a metric never fails the work it counts: a multiprocess directory that can't be
written is logged once and the update dropped (`prepare_directory` makes it exist first, or
falls back to a private one with a warning).

Distinct users seen in the last 15 minutes are kept in Redis when the rate limiter keeps its
counters there (one figure for every node), otherwise in this process.
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
import time

from prometheus_client import Counter, Histogram

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter("sportello_http_requests_total", "Web requests answered, by endpoint and status",
                   ["endpoint", "method", "status"])
REQUEST_SECONDS = Histogram("sportello_http_request_duration_seconds", "Web request latency by endpoint and status",
                            ["endpoint", "status"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
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


# --- the multiprocess directory -----------------------------------------------------------------

def prepare_directory() -> str | None:
    """Make sure the multiprocess directory (PROMETHEUS_MULTIPROC_DIR) exists before anything is
    counted: create it when it is missing; when it can't be created or written, count in a
    private directory of this process instead, and say so. Returns the directory in use."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return None
    try:
        os.makedirs(directory, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(f"{directory} is not writable")
        return directory
    except OSError as exc:
        fallback = tempfile.mkdtemp(prefix="sportello-metrics-")
        os.environ[MULTIPROC_ENV] = fallback
        log.warning("Metrics: %s=%s can't be used (%s: %s); counting in %s instead, which only this "
                    "process adds up. Point it at a directory the service may write (see "
                    "docs/operations.md, Metrics).", MULTIPROC_ENV, directory, type(exc).__name__, exc,
                    fallback)
        return fallback


_failed_once = threading.Event()


def _safely(update) -> None:
    """Run one metric update; a failure (the multiprocess directory gone) is logged once."""
    try:
        update()
    except OSError as exc:
        if not _failed_once.is_set():
            _failed_once.set()
            log.error("Metrics: an update failed and is dropped (%s: %s); the work goes on",
                      type(exc).__name__, exc)


# --- updates --------------------------------------------------------------------------------------

def count_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """One web request answered."""
    def update():
        REQUESTS.labels(endpoint, method, str(status)).inc()
        REQUEST_SECONDS.labels(endpoint, str(status)).observe(seconds)

    _safely(update)


def count_billing_call(operation: str, adapter: str) -> None:
    _safely(lambda: BILLING_CALLS.labels(operation, adapter).inc())


def count_billing_outcome(operation: str, adapter: str, seconds: float | None, error_kind: str | None) -> None:
    """A billing call's end: its latency (when known) and, when it failed, its fault kind."""
    def update():
        if error_kind is not None:
            BILLING_ERRORS.labels(operation, adapter, error_kind).inc()
        if seconds is not None:
            BILLING_SECONDS.labels(operation, adapter).observe(seconds)

    _safely(update)


def count_emails(queue: str, counts: dict) -> None:
    """Add a mail run's counts (sent / retry / failed or refused) to the e-mail counter."""
    def update():
        for key, outcome in _MAIL_OUTCOMES.items():
            if counts.get(key):
                EMAILS.labels(queue, outcome).inc(counts[key])

    _safely(update)


def observe_job(job: str, outcome: str, seconds: float) -> None:
    def update():
        JOB_RUNS.labels(job, outcome).inc()
        if outcome != "busy":
            JOB_SECONDS.labels(job, outcome).observe(seconds)

    _safely(update)


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
