"""The scheduler's own `/metrics`: the counters of the work it does (job runs and durations,
e-mails sent / retried / failed, billing calls and errors), served on `SCHEDULER_METRICS_BIND`
with the web's protection (`METRICS_TOKEN` or `METRICS_ALLOW`).

The web nodes' `/metrics` can't show them: they live in this process. In multiprocess mode
(`PROMETHEUS_MULTIPROC_DIR` set, as in the image) the scheduler counts in a directory of its
own, so a web node's directory on the same machine, emptied when gunicorn starts, is never
shared with it and nothing is counted twice.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from flask import Flask
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import ThreadingWSGIServer

from app.services.core.metrics import MULTIPROC_ENV
from app.services.ops.metrics import process_exposition, scrape_allowed

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the scrapes are not worth a log line each
        pass


def own_directory() -> str | None:
    """Count in a directory of this process when multiprocess mode is on; returns it (or None)."""
    if not os.environ.get(MULTIPROC_ENV):
        return None
    directory = tempfile.mkdtemp(prefix="sportello-scheduler-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    return directory


def remove_directory(directory: str | None) -> None:
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


def serve(app: Flask):
    """Serve `/metrics` on SCHEDULER_METRICS_BIND in a daemon thread; returns the server, or None
    when not configured or the address can't be bound (logged: the jobs run anyway)."""
    bind = (app.config.get("SCHEDULER_METRICS_BIND") or "").strip()
    if not bind:
        return None
    host, _, port = bind.rpartition(":")
    token, allow = app.config.get("METRICS_TOKEN"), app.config.get("METRICS_ALLOW")
    if not token and not allow:
        log.warning("Scheduler metrics: SCHEDULER_METRICS_BIND is set but neither METRICS_TOKEN nor "
                    "METRICS_ALLOW: every scrape will get 404")

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics" or not scrape_allowed(
                environ.get("HTTP_AUTHORIZATION", ""), environ.get("REMOTE_ADDR"), token, allow):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found\n"]
        body = process_exposition()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store")])
        return [body]

    try:
        server = make_server(host.strip("[]") or "127.0.0.1", int(port), wsgi, ThreadingWSGIServer,
                             handler_class=_QuietHandler)
    except (OSError, ValueError) as exc:
        log.error("Scheduler metrics: can't serve on %s (%s: %s); the jobs run without them",
                  bind, type(exc).__name__, exc)
        return None
    threading.Thread(target=server.serve_forever, name="scheduler-metrics", daemon=True).start()
    log.info("Scheduler metrics at http://%s/metrics", bind)
    return server
