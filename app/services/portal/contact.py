"""Where a customer's mail goes: the e-mail on file, never the placeholder address an account
without e-mail carries (accounts, requests and notices all ask here)."""
from __future__ import annotations

from app.extensions import db
from app.models import Customer

PLACEHOLDER_DOMAIN = "@invalid"  # RFC 2606: can never receive mail


def is_real_email(address: str | None) -> bool:
    return bool(address) and "@" in address and not address.lower().endswith(PLACEHOLDER_DOMAIN)


def contact_email(user) -> str:
    """Where mail for this customer goes: the e-mail on file, else nothing."""
    customer = db.session.get(Customer, user.customer_id) if user.customer_id else None
    for address in ((customer.email if customer else ""), user.email):
        if is_real_email(address):
            return address
    return ""
