"""The app's billing gateway: built once per app from its configuration."""
from __future__ import annotations

from flask import current_app

from app.billing.gateway import BillingError, BillingGateway
from app.services.core.errors import ConnectionFailed


def gateway() -> BillingGateway:
    """The configured billing gateway (one per app; adapters are thread-safe)."""
    gw = current_app.extensions.get("billing_gateway")
    if gw is None:
        from app.billing import make_gateway

        gw = make_gateway(current_app.config)
        current_app.extensions["billing_gateway"] = gw
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
