"""Invoice PDFs: billing's own print when it has one, else rendered here once and stored.

Convention 5 (build, then render): the PDF shows the invoice as aligned from billing, in the
customer's language; the bytes are stored on the invoice so each invoice is rendered once.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale
from sqlalchemy.orm import joinedload, undefer

from app.billing.gateway import BillingError
from app.extensions import db
from app.models import Invoice
from app.services.core import settings
from app.services.core.pdf import render_pdf
from app.services.core.reads import run
from app.services.core.unit_of_work import transactional
from app.services.sync.bill import build_bill

log = logging.getLogger(__name__)


def render_invoice_pdf(invoice: Invoice, language: str = "it") -> bytes:
    """Render the product's own bill (pdf/invoice.html, the content from `bill.build_bill`)
    with xhtml2pdf (about 0.3 s of CPU per two-page bill)."""
    language = language if language in ("it", "en") else "it"
    with force_locale(language):
        bill = build_bill(invoice)
        html = render_template("pdf/invoice.html", bill=bill, invoice=invoice, customer=invoice.customer,
                               supply_point=invoice.supply_point, company=settings.company())
    return render_pdf(html, f"invoice {invoice.number}", language=language)


# Loaded with the invoice in one query: the stored copy and what a rendering needs besides
# its lines and payments (those load only when it renders).
PDF_LOAD = (undefer(Invoice.pdf), joinedload(Invoice.customer), joinedload(Invoice.supply_point))


def invoice_pdf(invoice: Invoice, *, ask_billing: bool = True, store: bool = True) -> bytes:
    """The invoice's PDF: stored copy, else billing's print, else our rendering — stored on the
    invoice (no commit) unless `store` is false (the caller stores it)."""
    if invoice.pdf:
        return invoice.pdf
    data = None
    if ask_billing:
        from app.services.sync.gateway import gateway

        try:
            data = gateway().invoice_pdf(invoice.number)
        except BillingError as exc:
            log.info("Invoice %s: billing has no PDF now (%s); rendering it", invoice.number, exc.kind.value)
    if not data:
        language = invoice.customer.language if invoice.customer else "it"
        data = render_invoice_pdf(invoice, language)
    if store:
        invoice.pdf = data
        db.session.flush()
    return data


# The stored copy with the invoice's number, for its owner: two columns, no records.
_OWNERS_STORED = sa.select(Invoice.number, Invoice.pdf).where(
    Invoice.id == sa.bindparam("id"), Invoice.customer_id == sa.bindparam("customer_id"),
    Invoice.pdf.is_not(None))


def owners_stored_pdf(customer_id: int, invoice_id: int) -> tuple[str, bytes] | None:
    """(number, PDF) of the customer's invoice if a copy is stored, else None (not theirs,
    or not rendered yet: `stored_invoice_pdf` takes over)."""
    row = run(_OWNERS_STORED, {"id": invoice_id, "customer_id": customer_id}).first()
    return (row.number, row.pdf) if row is not None and row.pdf else None


@transactional
def stored_invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice's PDF for a download, keeping a copy fetched or rendered now."""
    return invoice_pdf(invoice)
