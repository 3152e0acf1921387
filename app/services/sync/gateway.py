"""The app's billing gateway: built once per app from its configuration.

Every call to billing goes through `gateway()`, which hands out the adapter wrapped in
`InstrumentedGateway`: one place counts calls, errors (by fault kind) and latency per operation
and adapter (Prometheus), and writes the billing call log (logger `sportello.billing`, one line
per call with the request id of the web request or job run that caused it).
"""
from __future__ import annotations

import copy
import logging
import time

from flask import current_app

from app.billing.gateway import BillingError, BillingGateway
from app.services.core import metrics
from app.services.core.errors import ConnectionFailed

call_log = logging.getLogger("sportello.billing")


class InstrumentedGateway:
    """An adapter seen through metrics and the call log; attributes pass through to it."""

    def __init__(self, inner: BillingGateway):
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_adapter", type(inner).__name__.removesuffix("Gateway").lower() or "billing")

    def __getattr__(self, name):
        value = getattr(self._inner, name)
        if name.startswith("_") or not callable(value):
            return value
        return self._wrap(name, value)

    def __setattr__(self, name, value):
        setattr(self._inner, name, value)

    def __copy__(self):
        return InstrumentedGateway(copy.copy(self._inner))

    def _wrap(self, operation: str, func):
        adapter = self._adapter

        def call(*args, **kwargs):
            metrics.count_billing_call(operation, adapter)
            start = time.perf_counter()
            try:
                result = func(*args, **kwargs)
            except BillingError as exc:
                elapsed = time.perf_counter() - start
                metrics.count_billing_outcome(operation, adapter, elapsed, exc.kind.value)
                call_log.warning("billing %s %s failed after %.0f ms: %s", adapter, operation,
                                 elapsed * 1000, exc.kind.value,
                                 extra={"billing_operation": operation, "outcome": exc.kind.value})
                raise
            except Exception as exc:
                metrics.count_billing_outcome(operation, adapter, None, "unexpected")
                call_log.warning("billing %s %s failed: %s", adapter, operation, type(exc).__name__,
                                 extra={"billing_operation": operation, "outcome": "unexpected"})
                raise
            elapsed = time.perf_counter() - start
            metrics.count_billing_outcome(operation, adapter, elapsed, None)
            call_log.info("billing %s %s ok in %.0f ms", adapter, operation, elapsed * 1000,
                          extra={"billing_operation": operation, "outcome": "ok"})
            return result

        return call


def gateway() -> BillingGateway:
    """The configured billing gateway (one per app; adapters are thread-safe)."""
    gw = current_app.extensions.get("billing_gateway")
    if gw is None:
        from app.billing import make_gateway

        gw = make_gateway(current_app.config)
        current_app.extensions["billing_gateway"] = gw
    if not isinstance(gw, InstrumentedGateway):
        gw = InstrumentedGateway(gw)
    return gw


def set_gateway(app, gw: BillingGateway | None) -> None:
    """Use another gateway (a second billing system, a test simulator on another port)."""
    if gw is None:
        app.extensions.pop("billing_gateway", None)
    else:
        app.extensions["billing_gateway"] = gw


def check_connection() -> None:
    """Test billing with its cheapest call (Ping) through the configured gateway; raises
    ConnectionFailed with billing's or the network's error text."""
    try:
        gw = gateway()
    except ValueError as exc:  # no BILLING_URL
        raise ConnectionFailed(str(exc)) from None
    try:
        gw.ping()
    except BillingError as exc:
        raise ConnectionFailed(f"{exc.kind.value}: {exc.message}") from None
