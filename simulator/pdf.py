"""The simulated billing system's print of an invoice: a realistic Italian bill, rendered from
the simulator's own template (simulator/templates/bill.html) with Jinja2 and xhtml2pdf.

It follows the layout of ARERA's bill for final customers (first page with the total to pay,
due date, supply point, offer, payment method and period; the energy receipt; VAT summary;
readings; details), prints the simulated company as the seller, Italian dates and numbers,
and never a payment status (a bill is printed once; its payments come later).

Like any PDF the portal hands out, the bill embeds DejaVu Sans (shipped under
simulator/fonts/, so names in Greek, Cyrillic, Hebrew or Arabic print as written) and carries
its title, its language and ViewerPreferences/DisplayDocTitle (set with pikepdf).
"""
from __future__ import annotations

import datetime as dt
import io
import os
import re
from decimal import Decimal, InvalidOperation

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .company import COMPANY
from .generator import LINES

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
FONTS = os.path.join(HERE, "fonts")  # the template's @font-face URLs are relative to it
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)

SERVICE = {"gas": "Gas naturale", "electricity": "Energia elettrica", "water": "Servizio idrico",
           "lpg": "GPL", "telecom": "Telefonia e internet"}
DOCUMENT = {"periodic": "Bolletta periodica", "final": "Bolletta di chiusura",
            "adjustment": "Bolletta di conguaglio", "credit_note": "Nota di credito"}
USE = {"domestic": "Uso domestico", "business": "Altri usi",
       "condominium": "Condominio con uso domestico", "public": "Attività di servizio pubblico"}
PAYMENT = {"sdd": "Addebito diretto SEPA", "postal_slip": "Bollettino postale"}
READING = {"actual": "effettiva", "estimated": "stimata", "self": "autolettura"}
CONSUMPTION = {"actual": "consumo effettivo", "estimated": "consumo stimato",
               "self": "consumo da autolettura"}
UNIT = {"m3": "m³", "Smc": "Smc", "kWh": "kWh", "l": "litri"}
METER_UNIT = {"gas": "m³", "electricity": "kWh", "water": "m³", "lpg": "litri"}  # the counter's unit
TAXES = {"Accise", "Addizionale regionale"}
KIND = {desc: kind for lines in LINES.values() for desc, kind, _ in lines}

# Receipt rows: (key, label, per-unit of the price)
RECEIPT = (("consumption", "Quota consumi"), ("fixed", "Quota fissa"),
           ("power", "Quota potenza"), ("other", "Altre partite"),
           ("taxes", "Imposte (accise e addizionali)"))


def _dec(value) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError):
        return Decimal("0")


def number(value, decimals: int | None = None, max_decimals: int = 6) -> str:
    """Italian number: dot for thousands, comma for decimals (trailing zeros dropped past
    `decimals`)."""
    d = _dec(value)
    if decimals is not None:
        text = f"{d:,.{max(decimals, max_decimals)}f}"
        whole, _, frac = text.partition(".")
        frac = frac[:max_decimals].rstrip("0")
        frac = frac.ljust(decimals, "0")
    else:
        whole, frac = f"{d.normalize():,f}".partition(".")[::2]
    whole = whole.replace(",", ".")
    return f"{whole},{frac}" if frac else whole


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{number(Decimal(abs(cents)) / 100, 2, 2)} €"


def date(iso: str | None) -> str:
    return dt.date.fromisoformat(iso).strftime("%d/%m/%Y") if iso else ""


def _months(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    days = (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days + 1
    return max(1, round(days / 30.44))


def _component(desc: str) -> str:
    if desc in TAXES:
        return "taxes"
    if desc == "Quota potenza":
        return "power"
    kind = KIND.get(desc)
    return {"q": "consumption", "m": "fixed"}.get(kind, "other")


def bill_content(inv: dict, lines: list, customer: dict | None, supply: dict | None,
                 readings: list[dict]) -> dict:
    """What the bill prints, from the simulator's rows (money in cents)."""
    unit = UNIT.get(inv["Unit_of_Measure"], inv["Unit_of_Measure"])
    months = _months(inv["Period_From"], inv["Period_To"])
    groups: dict[str, list] = {}
    vat_rows: dict[Decimal, list[int]] = {}
    details = []
    for _no, desc, qty, price, cents, vat in lines:
        if desc.startswith("IVA"):  # quantity: the taxable amount; price: the rate
            details.append({"description": desc, "quantity": f"{number(qty, 2, 2)} €", "price": "",
                            "vat": "", "amount": money(cents)})
        else:
            details.append({"description": desc, "quantity": number(qty), "price": number(price, 2),
                            "vat": f"{number(vat)}%" if _dec(vat) else "", "amount": money(cents)})
        if desc.startswith("IVA"):
            found = re.search(r"(\d+(?:[.,]\d+)?)\s*%", desc)
            rate = _dec(found.group(1).replace(",", ".") if found else 0).normalize()
            vat_rows.setdefault(rate, [0, 0])[1] += cents
            continue
        rate = _dec(vat).normalize()
        vat_rows.setdefault(rate, [0, 0])[0] += cents
        groups.setdefault(_component(desc), []).append((_dec(qty), cents))
    receipt = []
    for key, label in RECEIPT:
        members = groups.get(key)
        if not members:
            continue
        cents = sum(c for _, c in members)
        quantities = {q for q, _ in members}
        qty = quantities.pop() if len(quantities) == 1 else None
        q_unit = per = ""
        if key in ("consumption", "taxes") and unit:
            q_unit = per = unit
        elif key in ("fixed", "power") and months and qty == months:
            q_unit, per = "mesi", "mese"
        price = (Decimal(cents) / 100 / qty) if qty else None
        receipt.append({"label": label, "quantity": f"{number(qty)} {q_unit}".strip() if qty else "",
                        "price": f"{number(price, 2)} €/{per}" if price is not None and per else "",
                        "amount": money(cents)})
    vat = [{"rate": f"{number(rate)}%", "base": money(base), "vat": money(tax)}
           for rate, (base, tax) in sorted(vat_rows.items(), reverse=True) if base or tax]
    vat_total = sum(tax for _, tax in vat_rows.values())
    taxable = sum(base for base, _ in vat_rows.values())
    closing = readings[-1] if readings else None
    sp = supply or {}
    iban = sp.get("IBAN") or ""
    recipient = None
    if sp.get("Mail_Name") or sp.get("Mail_Address"):
        recipient = {"name": sp.get("Mail_Name") or "", "address": sp.get("Mail_Address") or "",
                     "town": f"{sp.get('Mail_Post_Code', '')} {sp.get('Mail_City', '')} "
                             f"({sp.get('Mail_County', '')})"}
    return {
        "company": COMPANY, "inv": inv, "customer": customer or {}, "supply": sp,
        "recipient": recipient,
        "service": SERVICE.get(sp.get("Service"), ""),
        "document": DOCUMENT.get(inv["Document_Type"], "Bolletta"),
        "use": USE.get(sp.get("Use_Type"), ""),
        "payment": PAYMENT.get(sp.get("Payment_Method"), ""),
        "iban": f"{iban[:4]} •••• •••• {iban[-4:]}" if len(iban) > 8 else "",
        "date": date, "money": money, "number": number,
        "total": money(inv["Amount_Including_VAT"]),
        "consumption": f"{number(inv['Consumption'])} {unit}" if unit and inv["Consumption"] is not None else "",
        "consumption_kind": CONSUMPTION.get(closing["Reading_Type"], "") if closing else "",
        "receipt": receipt, "vat": vat, "vat_total": money(vat_total), "taxable": money(taxable),
        "details": details,
        "readings": [{"date": date(r["Reading_Date"]),
                      "value": f"{number(r['Reading_Value'])} {METER_UNIT.get(sp.get('Service'), '')}".strip(),
                      "corrector": f"{number(r['Corrector_Value'])} Smc" if r["Corrector_Value"] is not None else "",
                      "kind": READING.get(r["Reading_Type"], ""),
                      "consumption": f"{number(r['Consumption'])} {unit}" if r["Consumption"] is not None else ""}
                     for r in readings],
        "unit": unit,
    }


def warm_up() -> None:
    """Load xhtml2pdf and the template ahead of the first print (over a second of imports),
    so the first GetInvoicePdf answers as fast as the others."""
    from xhtml2pdf import pisa

    _env.get_template("bill.html")
    pisa.CreatePDF("<html><body><p>Bolletta</p></body></html>", dest=io.BytesIO())


def invoice_pdf(inv: dict, lines: list, customer: dict | None, supply: dict | None = None,
                readings: list[dict] | None = None) -> bytes:
    """inv: sales_invoice row as dict; lines: the JSON lines; customer, supply: their rows as
    dicts; readings: the meter readings of the period (oldest first)."""
    from xhtml2pdf import pisa

    from xhtml2pdf.config.resources import ResourceAccessPolicy

    content = bill_content(inv, lines, customer, supply, readings or [])
    html = _env.get_template("bill.html").render(**content)
    out = io.BytesIO()
    policy = ResourceAccessPolicy(allow_remote=False, base_dir=FONTS)
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8", path=os.path.join(FONTS, "bill.html"),
                            resource_policy=policy)
    if result.err:
        raise RuntimeError(f"invoice {inv['No']}: PDF rendering failed")
    return _describe(out.getvalue(), title=f"Bolletta {inv['No']} – {COMPANY['name']}", language="it")


def _describe(data: bytes, *, title: str, language: str) -> bytes:
    """`data` with its title and language set and the title shown by viewers."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.docinfo[pikepdf.Name.Title] = title
        pdf.Root.Lang = pikepdf.String(language)
        prefs = pdf.Root.get("/ViewerPreferences")
        if not isinstance(prefs, pikepdf.Dictionary):
            prefs = pdf.Root.ViewerPreferences = pikepdf.Dictionary()
        prefs.DisplayDocTitle = True
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()
