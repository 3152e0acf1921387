"""Helpers for the invoice e-mail tests: supply points with delivery settings and invoices."""
from __future__ import annotations

import datetime as dt
import io

import pytest

from app.extensions import db as _db
from app.models import DeliveryMode, InvoiceDeliveryRecipient, InvoiceDeliverySetting
from tests import factories


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def with_delivery(sp, emails, mode=DeliveryMode.LINK, since=dt.date(2026, 1, 1), enabled=True):
    setting = InvoiceDeliverySetting(supply_point_id=sp.id, enabled=enabled, mode=mode, active_since=since)
    _db.session.add(setting)
    _db.session.flush()
    for n, email in enumerate(emails, start=1):
        _db.session.add(InvoiceDeliveryRecipient(setting_id=setting.id, position=n, email=email))
    _db.session.flush()
    return setting


@pytest.fixture
def mailing_data(db):
    """`make(n_customers, recipients=1, mode=LINK, language="it")` -> list of (customer, sp, invoice, emails)."""

    def make(n=1, recipients=1, mode=DeliveryMode.LINK, language="it", invoices=1):
        out = []
        for i in range(n):
            c = factories.customer(language=language)
            sp = factories.supply_point(c)
            emails = [f"c{c.id}-{k}@example.org" for k in range(1, recipients + 1)]
            with_delivery(sp, emails, mode)
            for _ in range(invoices):
                out.append((c, sp, factories.invoice(c, sp), emails))
        db.session.commit()
        return out

    return make
