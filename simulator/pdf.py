"""A tiny hand-built one-page PDF (Helvetica text lines): cheap, valid, searchable."""
from __future__ import annotations


def _pdf_text(s: str) -> str:
    s = s.encode("latin-1", "replace").decode("latin-1")
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(lines: list[str], title: str = "") -> bytes:
    """A one-page A4 PDF with the given lines of text (first line in bold, larger)."""
    ops = ["BT", "/F2 16 Tf", "50 790 Td", f"({_pdf_text(lines[0] if lines else '')}) Tj",
           "/F1 10 Tf", "0 -28 Td", "14 TL"]
    for line in lines[1:60]:
        ops.append(f"({_pdf_text(line)}) '")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
        b"/Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        ("<< /Title (%s) /Producer (Sportello billing simulator) >>"
         % _pdf_text(title)).encode("latin-1"),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, len(objects), xref))
    return bytes(out)


def invoice_pdf(inv: dict, lines: list, customer: dict | None) -> bytes:
    """inv: sales_invoice row as dict; lines: the JSON lines; customer: customer row as dict."""
    def money(c):
        return f"{c / 100:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")

    text = [f"Fattura n. {inv['No']}",
            f"Data {inv['Posting_Date']}  -  Scadenza {inv['Due_Date']}",
            f"Codice web {inv['Web_Code']}"]
    if customer:
        text += ["", f"Cliente {customer['No']} - {customer['Name']}",
                 f"{customer['Address']}, {customer['Post_Code']} {customer['City']} "
                 f"({customer['County']})", f"Codice fiscale {customer['Tax_Code']}"]
    text += ["", f"Punto di fornitura {inv['Supply_Point_No']}",
             f"Periodo {inv['Period_From'] or '-'} - {inv['Period_To'] or '-'}   "
             f"Consumo {inv['Consumption'] or 0} {inv['Unit_of_Measure']}", ""]
    for ln in lines:
        text.append(f"{ln[1]:<48}  {ln[2]:>10} x {ln[3]:>8}   EUR {money(ln[4]):>10}")
    text += ["", f"Totale da pagare EUR {money(inv['Amount_Including_VAT'])}",
             f"Pagato EUR {money(inv['Amount_Paid'])}  -  Stato: {inv['Status']}"]
    return text_pdf(text, title=f"Fattura {inv['No']}")
