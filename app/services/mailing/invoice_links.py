"""Signed, expiring links to one invoice (F-31 link mode), read by the portal's invoice page."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.extensions import db
from app.models import Invoice, InvoiceDeliverySetting
from app.services.core import settings

TOKEN_SALT = "sportello.invoice-link"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def invoice_token(invoice_id: int, customer_id: int) -> str:
    return _serializer().dumps({"i": invoice_id, "c": customer_id})


def invoice_link(invoice_id: int, customer_id: int) -> str:
    """The signed, expiring link to the invoice page sent in link mode."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/portal/invoices/{invoice_id}?t={invoice_token(invoice_id, customer_id)}"


def read_invoice_token(token: str, invoice_id: int | None = None) -> dict | None:
    """{"invoice_id", "customer_id"} of a valid, unexpired token (for that invoice), else None."""
    if not token or not isinstance(token, str):
        return None
    try:
        data, issued = _serializer().loads(token, max_age=settings.get("invoice_link_expiry_days") * 86400,
                                           return_timestamp=True)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or (invoice_id is not None and data.get("i") != invoice_id):
        return None
    if _revoked(data.get("i"), issued):
        return None
    return {"invoice_id": data.get("i"), "customer_id": data.get("c")}


def _revoked(invoice_id, issued: dt.datetime) -> bool:
    """True when the invoice's supply point revoked the links sent before `issued`."""
    if not isinstance(invoice_id, int):
        return True
    valid_after = db.session.scalar(
        sa.select(InvoiceDeliverySetting.links_valid_after)
        .join(Invoice, Invoice.supply_point_id == InvoiceDeliverySetting.supply_point_id)
        .where(Invoice.id == invoice_id))
    return valid_after is not None and issued.astimezone(dt.timezone.utc).replace(tzinfo=None) < valid_after
