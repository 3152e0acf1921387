"""The customers a typed text names, as staff search them in list filters: any part of the
name, the customer code, the tax code or the VAT number."""
from __future__ import annotations

import sqlalchemy as sa

from app.models import Customer


def customers_matching(text: str) -> sa.Select | None:
    """A subquery of the matching customers' ids; None for an empty text."""
    text = " ".join(str(text or "").split())
    if not text:
        return None
    compact = text.replace(" ", "").upper()
    return sa.select(Customer.id).where(sa.or_(
        Customer.search_name.like(f"%{text.lower()}%"), Customer.code == compact,
        Customer.tax_code == compact, Customer.vat_number == compact))
