"""F-07 / F-31: an invoice PDF from billing, or rendered once and stored."""
import io

import sqlalchemy as sa
from pypdf import PdfReader

from app.models import Invoice
from app.services.sync.alignment import align
from app.services.sync.invoice_pdf import invoice_pdf, render_invoice_pdf
from tests import factories


def _text(data: bytes) -> str:
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_F07_invoice_pdf_comes_from_billing_and_is_stored(billing_sim, db):
    assert align(full=True).status == "ok"
    invoice = db.session.scalars(sa.select(Invoice).order_by(Invoice.id)).first()
    data = invoice_pdf(invoice)
    assert data.startswith(b"%PDF") and invoice.number in _text(data)
    db.session.commit()
    billing_sim.stop()  # stored: no second trip to billing
    assert invoice_pdf(db.session.get(Invoice, invoice.id)) == data


def test_F07_invoice_pdf_rendered_when_billing_has_none(db):
    graph = factories.billing_graph()
    data = invoice_pdf(graph["invoice"], ask_billing=False)
    text = _text(data)
    assert graph["invoice"].number in text and "Bolletta" in text and "Materia gas" in text
    english = _text(render_invoice_pdf(graph["invoice"], "en"))
    assert "Bill" in english and "Due date" in english


def test_F40_bill_masks_the_iban_with_the_one_helper(db):
    """The direct-debit IBAN on a bill reads as on every staff and portal page."""
    from app.services.core.masking import mask
    from app.services.sync.bill import build_bill

    graph = factories.billing_graph()
    iban = graph["supply_point"].iban
    bill = build_bill(graph["invoice"])
    assert bill.iban == mask(iban) == "•••• •••• 3456"
    text = _text(render_invoice_pdf(graph["invoice"]))
    assert iban not in text and iban[:4] + " " not in text and "3456" in text
