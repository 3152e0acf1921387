"""Billing: the gateway contract (gateway.py) and its adapters (nav.py).

`make_gateway(config)` builds the configured adapter. Only this package imports suds, and only
when an adapter is built (importing `app.billing` stays cheap).
"""
from __future__ import annotations

from collections.abc import Mapping

from .gateway import BillingError, BillingGateway, Entity, FaultKind, Page

__all__ = ["BillingError", "BillingGateway", "Entity", "FaultKind", "Page", "make_gateway"]


def make_gateway(config: Mapping) -> BillingGateway:
    """A BillingGateway from BILLING_URL (`http://host:7047/NAV/WS/<Company>`),
    BILLING_USERNAME, BILLING_PASSWORD, BILLING_TIMEOUT (s), BILLING_PAGE_SIZE and optionally
    BILLING_WSDL_CACHE_DIR."""
    url = config.get("BILLING_URL")
    if not url:
        raise ValueError("BILLING_URL is not configured")
    from .nav import NavGateway

    return NavGateway(
        str(url),
        username=config.get("BILLING_USERNAME") or "",
        password=config.get("BILLING_PASSWORD") or "",
        timeout=float(config.get("BILLING_TIMEOUT") or 10.0),
        page_size=int(config.get("BILLING_PAGE_SIZE") or 500),
        cache_dir=config.get("BILLING_WSDL_CACHE_DIR") or None,
    )
