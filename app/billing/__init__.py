"""Billing: the gateway contract (gateway.py) and its adapters (nav.py, sap.py).

`make_gateway(config)` builds the configured adapter. Only this package imports suds, and only
when an adapter is built (importing `app.billing` stays cheap).
"""
from __future__ import annotations

from collections.abc import Mapping

from .gateway import BillingError, BillingGateway, BillingWarning, Entity, FaultKind, Page

__all__ = ["BillingError", "BillingGateway", "BillingWarning", "Entity", "FaultKind", "Page",
           "make_gateway", "ADAPTERS"]

# BILLING_SYSTEM -> "module:class" of its adapter (a third adapter adds its line here)
ADAPTERS = {"nav": "nav:NavGateway", "sap": "sap:SapGateway"}


def make_gateway(config: Mapping) -> BillingGateway:
    """A BillingGateway for BILLING_SYSTEM (nav, default, or sap) from BILLING_URL (NAV:
    `http://host:7047/NAV/WS/<Company>`; SAP: the portal service's endpoint), BILLING_USERNAME,
    BILLING_PASSWORD, BILLING_AUTH (basic, default, or ntlm), BILLING_TIMEOUT (s), BILLING_PAGE_SIZE and optionally
    BILLING_WSDL_CACHE_DIR."""
    import importlib

    url = config.get("BILLING_URL")
    if not url:
        raise ValueError("BILLING_URL is not configured")
    system = str(config.get("BILLING_SYSTEM") or "nav").lower()
    if system not in ADAPTERS:
        raise ValueError(f"BILLING_SYSTEM must be one of {', '.join(ADAPTERS)}, not {system!r}")
    module, cls = ADAPTERS[system].split(":")
    adapter = getattr(importlib.import_module(f".{module}", __name__), cls)
    return adapter(
        str(url),
        username=config.get("BILLING_USERNAME") or "",
        password=config.get("BILLING_PASSWORD") or "",
        timeout=float(config.get("BILLING_TIMEOUT") or 10.0),
        page_size=int(config.get("BILLING_PAGE_SIZE") or 500),
        cache_dir=config.get("BILLING_WSDL_CACHE_DIR") or None,
        auth=str(config.get("BILLING_AUTH") or "basic"),
    )
