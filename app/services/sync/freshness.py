"""Freshness of the customer's data (F-51): a refresh from billing at login, short timeout.

When billing answers, everything of the customer is upserted (`alignment.apply_bundle`); when
it does not, pages keep working from the local copy and say how old it is.
"""
from __future__ import annotations

import copy
import logging

from flask import current_app

from app.billing.gateway import BillingError
from app.extensions import db
from app.models import Customer

log = logging.getLogger(__name__)


def _quick_gateway():
    """The configured gateway with the short login timeout (shares its clients)."""
    from app.services.sync.gateway import gateway

    gw = gateway()
    if hasattr(gw, "timeout"):
        gw = copy.copy(gw)
        gw.timeout = float(current_app.config.get("BILLING_LOGIN_TIMEOUT", 2))
    return gw


def refresh_customer(customer: Customer) -> bool:
    """Refresh the customer's local copy from billing; False when billing did not answer."""
    from app.services.sync.alignment import apply_bundle

    try:
        bundle = _quick_gateway().read_customer_bundle(customer.code)
    except BillingError as exc:
        log.info("Login refresh of %s skipped: billing %s", customer.code, exc.kind.value)
        db.session.rollback()
        return False
    if bundle is None:
        return False
    try:
        apply_bundle(bundle)
    except Exception:  # noqa: BLE001 - a refresh must never break the login
        log.exception("Login refresh of %s failed while saving", customer.code)
        db.session.rollback()
        return False
    return True
