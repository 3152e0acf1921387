"""PDF documents (invoices, mandates, contracts, commission statements): HTML to PDF with
xhtml2pdf, in one place."""
from __future__ import annotations

import io


class PdfError(RuntimeError):
    """xhtml2pdf could not render a document."""


def render_pdf(html: str, what: str) -> bytes:
    """The PDF of `html` (about 0.2 s of CPU per page); `what` names the document in errors."""
    from xhtml2pdf import pisa

    out = io.BytesIO()
    if pisa.CreatePDF(html, dest=out, encoding="utf-8").err:
        raise PdfError(f"{what}: PDF rendering failed")
    return out.getvalue()
