"""Operations endpoints: `/healthz` (the process answers), `/readyz` (this node can serve) and
`/metrics` (Prometheus), plus the request hooks that count requests and write the web log
(logger `sportello.web`: method, endpoint name, status, duration, with the request id).

`/healthz` and `/readyz` are open (the proxy and the orchestrator ask them) and say nothing
secret: check names and up/down only. `/metrics` answers only a bearer token (`METRICS_TOKEN`)
or an address in `METRICS_ALLOW` (comma-separated networks); with neither set it is off (404).
"""
from __future__ import annotations

import logging
import time

from flask import Blueprint, abort, current_app, g, jsonify, request, session

from app.extensions import csrf, limiter
from app.services.core import metrics

bp = Blueprint("ops", __name__)
web_log = logging.getLogger("sportello.web")


@bp.get("/healthz")
def healthz():
    """The process answers (no database, no network)."""
    return _no_store(jsonify(status="ok"))


@bp.get("/readyz")
def readyz():
    """200 when this node can serve (billing or SMTP down: still 200, `degraded`); 503 otherwise."""
    from app.services.ops.health import readiness

    result = readiness()
    return _no_store(jsonify(result.body())), 200 if result.ready else 503


@bp.get("/metrics")
def metrics_page():
    if not _metrics_allowed():
        abort(404)
    from app.services.ops.metrics import exposition
    from prometheus_client import CONTENT_TYPE_LATEST

    return _no_store(current_app.response_class(exposition(), mimetype=CONTENT_TYPE_LATEST))


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _metrics_allowed() -> bool:
    from app.services.ops.metrics import scrape_allowed

    cfg = current_app.config
    return scrape_allowed(request.headers.get("Authorization", ""), request.remote_addr,
                          cfg.get("METRICS_TOKEN"), cfg.get("METRICS_ALLOW"))


# Requests to these endpoints are not counted as users' traffic (probes and scrapes).
_UNCOUNTED = {"ops.healthz", "ops.readyz", "ops.metrics_page", "static", "appbuilder.static"}


def register(app) -> None:
    """The blueprint, exempt from CSRF (GET only) and from rate limits; the request counters."""
    csrf.exempt(bp)
    limiter.exempt(bp)
    app.register_blueprint(bp)

    @app.before_request
    def _start_timer():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response):
        started = g.pop("metrics_started", None)
        endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
        if started is not None and endpoint not in _UNCOUNTED:
            elapsed = time.perf_counter() - started
            metrics.count_request(endpoint, request.method if request.method in _METHODS else "other",
                                  response.status_code, elapsed)
            # The web log: the endpoint's name, never the URL (its query may carry a token).
            web_log.info("%s %s %s %.0f ms", request.method, endpoint, response.status_code, elapsed * 1000,
                         extra={"endpoint": endpoint, "status": response.status_code,
                                "duration_ms": round(elapsed * 1000, 1)})
            user = session.get("_user_id") if session else None
            if user is not None:
                try:
                    metrics.user_seen(int(user), current_app.config.get("RATELIMIT_STORAGE_URI"))
                except (TypeError, ValueError):
                    pass
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
