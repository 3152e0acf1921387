"""The app's billing gateway: built once per app from its configuration."""
from __future__ import annotations

from flask import current_app

from app.billing.gateway import BillingGateway


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
