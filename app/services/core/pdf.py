"""PDF documents (invoices, mandates, contracts, commission statements): HTML to PDF with
xhtml2pdf, in one place.

Every document embeds DejaVu Sans (vendored under app/static/fonts/, declared with @font-face
in pdf/_page.html), so names in Greek, Cyrillic, Hebrew or Arabic print as written; xhtml2pdf
reads files under app/static/ only and fetches nothing from the network. Each PDF then
carries its title (/Title, XMP dc:title), its language (/Lang) and asks viewers to show the
title rather than the file name (ViewerPreferences /DisplayDocTitle), set with pikepdf.
The PDFs are not tagged: the portal pages carry the same data accessibly.
"""
from __future__ import annotations

import html as html_lib
import io
import re
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_LANG = re.compile(r"<html[^>]*\blang=[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)", re.IGNORECASE)


class PdfError(RuntimeError):
    """xhtml2pdf could not render a document."""


def html_title(html: str) -> str:
    """The text of the document's <title>, tags dropped and spaces collapsed."""
    m = _TITLE.search(html)
    if not m:
        return ""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", m.group(1))).split())


def html_language(html: str) -> str:
    """The language tag of the document's <html lang="…">."""
    m = _LANG.search(html)
    return m.group(1) if m else ""


def render_pdf(html: str, what: str, *, title: str | None = None,
               language: str | None = None) -> bytes:
    """The PDF of `html` (about 0.2 s of CPU per page); `what` names the document in errors
    and is its title when neither `title` nor the HTML's <title> gives one. The language is
    `language`, else the HTML's `lang`, else Italian."""
    from xhtml2pdf import pisa
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    out = io.BytesIO()
    # Relative URLs (the fonts) resolve against app/static/, the only place read.
    policy = ResourceAccessPolicy(allow_remote=False, base_dir=STATIC_DIR)
    if pisa.CreatePDF(html, dest=out, encoding="utf-8", path=str(STATIC_DIR / "document.html"),
                      resource_policy=policy).err:
        raise PdfError(f"{what}: PDF rendering failed")
    return describe_pdf(out.getvalue(), title=title or html_title(html) or what,
                        language=language or html_language(html) or "it")


def describe_pdf(data: bytes, *, title: str, language: str) -> bytes:
    """`data` with its title and language set and the title shown by viewers."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.docinfo[pikepdf.Name.Title] = title
        pdf.Root.Lang = pikepdf.String(language)
        prefs = pdf.Root.get("/ViewerPreferences")
        if not isinstance(prefs, pikepdf.Dictionary):
            prefs = pdf.Root.ViewerPreferences = pikepdf.Dictionary()
        prefs.DisplayDocTitle = True
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:title"] = title
            meta["dc:language"] = [language]
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()
