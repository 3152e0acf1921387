"""Documents (F-06, F-07, F-12, F-16): the SEPA Core mandate, the product's own bill, the
simulator's bill, and what every PDF carries (title, language, DisplayDocTitle, an embedded
Unicode font), read back with pypdf as a reader's software would."""
from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.models import (DirectDebitMandate, Invoice, InvoiceLine, InvoiceStatus, PaymentMethod,
                        ReadingType, Service)
from app.roles import AGENT
from app.services.core import settings
from app.services.portal.direct_debit import render_mandate_pdf
from app.services.sync.invoice_pdf import render_invoice_pdf
from tests import factories as f
from tests.portal.conftest import customer_graph  # noqa: F401  (fixture)

TODAY = dt.date.today()
IDENTITY = {"company_name": "Gas Nord S.p.A.", "company_vat_number": "00743110157",
            "company_address": "Via Roma 1, 20121 Milano (MI)",
            "company_sepa_creditor_id": "IT66ZZZA1B2C3D4E5F6G7H8",
            "company_customer_service_phone": "800 123 456"}
MONTHS_IT = ("gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre "
             "novembre dicembre").split()
MONTHS_EN = ("January February March April May June July August September October November "
             "December").split()
RAW_VALUES = ("partially_paid", "unpaid", "sdd", "postal_slip", "periodic", "domestic", "actual", "self")
ISO_DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")


def _text(data: bytes) -> str:
    """The PDF's text, whitespace collapsed (lines broken by the layout join again)."""
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages)


def _it_date(d: dt.date) -> str:
    return f"{d.day} {MONTHS_IT[d.month - 1]} {d.year}"


def _embedded_fonts(data: bytes) -> set[str]:
    """Base names of the fonts whose program is embedded in the PDF (any page)."""
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        fonts = page["/Resources"].get_object().get("/Font") or {}
        for ref in fonts.get_object().values():
            font = ref.get_object()
            for face in [font] + [d.get_object() for d in font.get("/DescendantFonts", [])]:
                desc = face.get("/FontDescriptor")
                if desc is not None and any(k in desc.get_object() for k in
                                            ("/FontFile", "/FontFile2", "/FontFile3")):
                    names.add(str(face["/BaseFont"]))
    return names


def _described(data: bytes) -> tuple[str, str, bool]:
    """(title, language, DisplayDocTitle) as a viewer reads them."""
    reader = PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]
    prefs = root.get("/ViewerPreferences")
    return (reader.metadata.title or "", str(root.get("/Lang", "")),
            bool(prefs.get_object().get("/DisplayDocTitle")) if prefs is not None else False)


def _mandate(db, supply_point, **over) -> DirectDebitMandate:
    values = dict(supply_point_id=supply_point.id, reference="SPT-DOC-0001",
                  iban="IT60X0542811101000000123456", holder_last_name="Rossi",
                  holder_first_name="Mario", holder_tax_code="RSSMRA80A01H501U",
                  bank="Banca Popolare", signed_on=TODAY)
    values.update(over)
    m = DirectDebitMandate(**values)
    db.session.add(m)
    db.session.flush()
    return m


def _bill(db, customer=None, **over) -> Invoice:
    """A gas bill shaped like billing's: consumption and fixed lines, taxes, a VAT line;
    partly paid (which the bill must not say); readings closing the period."""
    c = customer or f.customer()
    sp = f.supply_point(c, tariff_option="Gas Casa Fisso", payment_method=PaymentMethod.SDD)
    m = f.meter(sp)
    start, end = TODAY - dt.timedelta(days=75), TODAY - dt.timedelta(days=15)
    f.reading(sp, m, reading_date=start + dt.timedelta(days=30), value=1100, consumption=100,
              reading_type=ReadingType.SELF)
    f.reading(sp, m, reading_date=end + dt.timedelta(days=3), value=1240, consumption=140,
              reading_type=ReadingType.ACTUAL)
    values = dict(period_from=start, period_to=end, invoice_date=TODAY - dt.timedelta(days=5),
                  due_date=TODAY + dt.timedelta(days=15), consumption=240, unit="Smc",
                  amount=Decimal("234.30"), amount_paid=Decimal("100.00"),
                  status=InvoiceStatus.PARTIALLY_PAID)
    values.update(over)
    inv = f.invoice(c, sp, **values)
    first = inv.lines[0]
    first.quantity, first.unit_price, first.amount = Decimal("240"), Decimal("0.5"), Decimal("120.00")
    return _with_lines(db, inv, [
        ("Quota fissa vendita", "2", "7.5", "15.00", "10"),
        ("Trasporto e gestione del contatore", "240", "0.11", "26.40", "10"),
        ("Oneri di sistema", "240", "0.04", "9.60", "10"),
        ("Accise", "240", "0.15", "36.00", "10"),
        ("Addizionale regionale", "240", "0.025", "6.00", "10"),
        ("IVA 10%", "213.00", "0.1", "21.30", "0")])


def _with_lines(db, inv: Invoice, lines: list[tuple[str, str, str, str, str]]) -> Invoice:
    """Add (description, quantity, unit price, amount, VAT %) lines after the invoice's first."""
    for n, (desc, qty, price, amount, vat) in enumerate(lines, start=2):
        db.session.add(InvoiceLine(invoice_id=inv.id, line_no=n, description=desc,
                                   quantity=Decimal(qty), unit_price=Decimal(price),
                                   amount=Decimal(amount), vat_percent=Decimal(vat)))
    db.session.commit()
    db.session.refresh(inv)
    return inv


# --- the SEPA mandate ---------------------------------------------------------------------------

MANDATE_TEXT = {
    "it": ("Mandato per addebito diretto SEPA",
           "il debitore autorizza (A) Gas Nord S.p.A. a richiedere alla banca del debitore "
           "l'addebito del suo conto",
           "rimborso deve essere richiesto entro 8 settimane dalla data di addebito",
           "I diritti del debitore sono indicati nella documentazione ottenibile dalla propria banca",
           "Tipo di pagamento: Ricorrente", "Nome del debitore Rossi Mario", "Firma del debitore"),
    "en": ("SEPA Direct Debit Mandate",
           "you authorise (A) Gas Nord S.p.A. to send instructions to your bank to debit your account",
           "A refund must be claimed within 8 weeks starting from the date on which your account "
           "was debited",
           "Your rights are explained in a statement that you can obtain from your bank",
           "Type of payment: Recurrent", "Debtor's name Rossi Mario", "Debtor's signature"),
}


@pytest.mark.parametrize("language", ["it", "en"])
def test_F06_mandate_pdf_holds_the_sepa_core_mandate(db, customer_graph, language):
    settings.update(IDENTITY)
    m = _mandate(db, customer_graph["supply_point"], reference=f"SPT-DOC-{language.upper()}")
    text = _text(render_mandate_pdf(m, language))
    for phrase in MANDATE_TEXT[language]:
        assert phrase in text, phrase
    other = "en" if language == "it" else "it"
    assert MANDATE_TEXT[other][0] not in text  # one language only
    # Creditor (identifier, address), reference, debtor's address, IBAN grouped by four.
    assert "Gas Nord S.p.A." in text and "IT66ZZZA1B2C3D4E5F6G7H8" in text
    assert "Via Roma 1, 20121 Milano (MI)" in text and f"SPT-DOC-{language.upper()}" in text
    assert "Via Roma 1, 00100 Roma (RM)" in text and "IT60 X054 2811 1010 0000 0123 456" in text
    # Place (the debtor's city) and date.
    day = _it_date(TODAY) if language == "it" else f"{MONTHS_EN[TODAY.month - 1]} {TODAY.day}, {TODAY.year}"
    assert f"Roma, {day}" in text


def test_F06_mandate_the_customer_downloads_is_in_their_language(client, db, logged_in):
    """Requested from the English portal: the stored PDF is the English mandate."""
    from tests.portal.conftest import PASSWORD, post_form

    settings.update(IDENTITY)
    sp = logged_in["supply_point"]
    post_form(client, "/portal/language", {"language": "en"}, page_url=f"/portal/supply/{sp.id}/direct-debit")
    resp = post_form(client, f"/portal/supply/{sp.id}/direct-debit",
                     {"iban": "IT60 X054 2811 1010 0000 0123 456", "holder_last_name": "Rossi",
                      "holder_first_name": "Mario", "holder_tax_code": "", "bank": "Banca Popolare",
                      "branch": "", "branch_address": "", "accept": "y",
                      "current_password": PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    m = db.session.scalar(sa.select(DirectDebitMandate).where(DirectDebitMandate.signed_on.is_not(None))
                          .order_by(DirectDebitMandate.id.desc()).limit(1))
    pdf = client.get(f"/portal/mandates/{m.id}/pdf")
    text = _text(pdf.data)
    assert "SEPA Direct Debit Mandate" in text and m.reference in text
    assert "IT60 X054 2811 1010 0000 0123 456" in text and "IT66ZZZA1B2C3D4E5F6G7H8" in text
    assert _described(pdf.data)[1] == "en"


# --- the product's own bill -------------------------------------------------------------------

def test_F07_own_bill_first_page_receipt_and_vat_summary_in_italian(db):
    settings.update(IDENTITY)
    inv = _bill(db)
    data = render_invoice_pdf(inv, "it")
    text = _text(data)
    first = " ".join(PdfReader(io.BytesIO(data)).pages[0].extract_text().split())
    # First page: seller, supply point code, offer, total, due date, payment method, period.
    assert "Gas Nord S.p.A." in first and "Partita IVA 00743110157" in first
    assert f"Bolletta n. {inv.number}" in first and "Copia di cortesia della fattura elettronica" in first
    assert f"Codice PDR (punto di riconsegna) {inv.supply_point.pdr}" in first
    assert "La tua offerta Gas Casa Fisso" in first
    assert "Totale da pagare 234,30 €" in first and f"entro il {_it_date(inv.due_date)}" in first
    assert "Modalità di pagamento Addebito diretto SEPA – IBAN •••• •••• 3456" in first
    assert f"Periodo di fatturazione {_it_date(inv.period_from)} – {_it_date(inv.period_to)}" in first
    assert "Consumo fatturato 240 Smc – Consumo effettivo" in first  # the closing reading's type
    # The energy receipt: quantity × price; VAT by rate; readings marked by type.
    assert "Quota consumi 240 Smc 0,65 €/Smc 156,00 €" in text
    assert "Quota fissa 2 mesi 7,50 €/mese 15,00 €" in text
    assert "Imposte (accise e addizionali) 240 Smc 0,175 €/Smc 42,00 €" in text
    assert "Riepilogo IVA" in text and "10% 213,00 € 21,30 €" in text
    assert "autolettura" in text and "lettura effettiva" in text
    assert "1.100 m³" in text and "1.240 m³" in text  # the readings, with the meter's unit
    # Never a payment status, a raw value or an ISO date.
    assert "Parzialmente pagata" not in text and "Pagato" not in text
    for raw in RAW_VALUES:
        assert raw not in text, raw
    assert not ISO_DATE.search(text)


def test_F07_own_bill_in_english(db):
    settings.update(IDENTITY)
    inv = _bill(db)
    text = _text(render_invoice_pdf(inv, "en"))
    assert f"Bill {inv.number}" in text and "Courtesy copy of the electronic invoice" in text
    assert "Total to pay €234.30" in text and "VAT number 00743110157" in text
    assert "Consumption charge 240 Smc" in text and "Energy receipt" in text
    assert "Partially paid" not in text and "partially_paid" not in text


def test_F07_bill_says_estimated_when_the_period_closes_on_an_estimate(db):
    from app.models import MeterReading

    inv = _bill(db)
    closing = db.session.scalar(sa.select(MeterReading).where(
        MeterReading.supply_point_id == inv.supply_point_id).order_by(MeterReading.reading_date.desc()).limit(1))
    closing.reading_type = ReadingType.ESTIMATED
    db.session.commit()
    assert "240 Smc – Consumo stimato" in _text(render_invoice_pdf(inv, "it"))


def _electricity_bill(db) -> Invoice:
    """An electricity bill: energy in kWh, a fixed and a power charge per month, excise, VAT."""
    c = f.customer()
    sp = f.supply_point(c, service=Service.ELECTRICITY, pdr="", pod="IT001E12345678",
                        tariff_option="Luce Casa Fissa", payment_method=PaymentMethod.SDD)
    m = f.meter(sp)
    start, end = TODAY - dt.timedelta(days=75), TODAY - dt.timedelta(days=15)
    f.reading(sp, m, reading_date=end + dt.timedelta(days=3), value=5420, consumption=420,
              reading_type=ReadingType.ACTUAL)
    inv = f.invoice(c, sp, period_from=start, period_to=end, invoice_date=TODAY - dt.timedelta(days=5),
                    due_date=TODAY + dt.timedelta(days=15), consumption=420, unit="kWh",
                    amount=Decimal("127.96"), amount_paid=Decimal("0"), status=InvoiceStatus.UNPAID)
    first = inv.lines[0]
    first.description = "Materia energia"
    first.quantity, first.unit_price, first.amount = Decimal("420"), Decimal("0.2"), Decimal("84.00")
    return _with_lines(db, inv, [
        ("Quota fissa vendita", "2", "6", "12.00", "10"),
        ("Quota potenza", "2", "5.4", "10.80", "10"),
        ("Accise", "420", "0.0227", "9.53", "10"),
        ("IVA 10%", "116.33", "0.1", "11.63", "0")])


def test_F07_electricity_bill_has_its_pod_kwh_and_power_charge(db):
    settings.update(IDENTITY)
    inv = _electricity_bill(db)
    data = render_invoice_pdf(inv, "it")
    text = _text(data)
    first = " ".join(PdfReader(io.BytesIO(data)).pages[0].extract_text().split())
    assert "Periodica – Energia elettrica" in first
    assert "Codice POD (punto di prelievo) IT001E12345678" in first and "PDR" not in text
    assert "Consumo fatturato 420 kWh – Consumo effettivo" in first
    assert "Quota potenza 10,80 €" in first and "Totale bolletta 127,96 €" in first
    assert "Quota consumi 420 kWh 0,20 €/kWh 84,00 €" in text
    assert "Quota potenza 2 mesi 5,40 €/mese 10,80 €" in text
    assert "Imposte (accise e addizionali) 420 kWh 0,02269 €/kWh 9,53 €" in text
    assert "5.420 kWh lettura effettiva 420 kWh" in text  # the reading in the meter's unit
    assert "Smc" not in text and "m³" not in text
    assert "arrotondamenti" not in text  # the receipt and VAT add up to the total
    english = _text(render_invoice_pdf(inv, "en"))
    assert "Supply point code (POD) IT001E12345678" in english
    assert "Power charge 2 months 5.40 €/month €10.80" in english and "Total of the bill €127.96" in english


# --- the simulator's bill ----------------------------------------------------------------------

def test_F07_simulator_bill_reads_like_a_real_bill(billing_sim, db):
    from app.services.sync.alignment import align
    from app.services.sync.gateway import gateway

    assert align(full=True).status == "ok"
    inv = db.session.scalar(sa.select(Invoice).where(Invoice.status == InvoiceStatus.PARTIALLY_PAID)
                            .order_by(Invoice.id).limit(1))
    assert inv is not None
    text = _text(gateway().invoice_pdf(inv.number))
    assert "Energia Demo S.p.A." in text and "P. IVA 04711800153" in text
    assert f"Bolletta n. {inv.number} del {inv.invoice_date:%d/%m/%Y}" in text
    assert f"entro il {inv.due_date:%d/%m/%Y}" in text and "Copia di cortesia della fattura elettronica" in text
    total = f"{inv.amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    assert f"Totale da pagare {total} €" in text
    assert "Scontrino dell'energia" in text and "Riepilogo IVA" in text
    assert "Stato" not in text and "partially_paid" not in text and "Pagato" not in text
    assert not ISO_DATE.search(text)
    assert not re.search(r"\d\.\d\d €", text)  # no English decimal point in an amount
    assert "Letture e consumi" in text and re.search(r"\d (m³|kWh) (effettiva|stimata|autolettura)", text)


# --- what every PDF carries ----------------------------------------------------------------------

def _every_pdf(db, make_user, customer_graph) -> dict[str, bytes]:
    from app.services.sales import commissions
    from app.services.sales.documents import latest
    from tests.sales.helpers import agent_for, entered_contract

    user, _ = make_user(AGENT)
    agent = agent_for(user)
    contract = entered_contract(user)
    return {
        "invoice": render_invoice_pdf(_bill(db), "it"),
        "mandate": render_mandate_pdf(_mandate(db, customer_graph["supply_point"]), "en"),
        "contract": latest(contract, "contract").pdf,
        "switching": latest(contract, "switching").pdf,
        "commissions": commissions.statement_pdf(commissions.statement(agent, f"{TODAY:%Y-%m}"), "it"),
    }


def _assert_described(kind: str, data: bytes, title: str, language: str) -> None:
    got_title, got_lang, shows_title = _described(data)
    assert got_title.startswith(title), (kind, got_title)
    assert got_lang == language, (kind, got_lang)
    assert shows_title, kind
    assert any("DejaVuSans" in name for name in _embedded_fonts(data)), kind


def test_F07_every_pdf_has_title_language_and_shows_its_title(db, make_user, customer_graph):
    pdfs = _every_pdf(db, make_user, customer_graph)
    expected = {"invoice": ("Bolletta", "it"), "mandate": ("SEPA Direct Debit Mandate", "en"),
                "contract": ("Contratto di fornitura", "it"), "switching": ("Richiesta di cambio fornitore", "it"),
                "commissions": ("Estratto conto provvigioni", "it")}
    for kind, data in pdfs.items():
        _assert_described(kind, data, *expected[kind])


def test_F07_billing_print_has_title_language_shows_its_title_and_prints_a_greek_name(billing_sim, db):
    """The demo's first PDF is billing's print (the simulator's bill): it carries what every
    PDF carries, and a customer's name in Greek prints as written."""
    import sqlite3

    from app.services.sync.gateway import gateway

    conn = sqlite3.connect(billing_sim.db_path, timeout=10)
    number, customer_no, supply_no = conn.execute(
        "SELECT No, Customer_No, Supply_Point_No FROM sales_invoice ORDER BY No LIMIT 1").fetchone()
    conn.execute("UPDATE customer SET Name = ?, Last_Name = ?, First_Name = ? WHERE No = ?",
                 ("Παπαδόπουλος Γιώργος", "Παπαδόπουλος", "Γιώργος", customer_no))
    conn.execute("UPDATE supply_point SET Mail_Name = '', Mail_Address = '' WHERE No = ?", (supply_no,))
    conn.commit()
    conn.close()
    data = gateway().invoice_pdf(number)
    _assert_described("billing's print", data, f"Bolletta {number}", "it")
    assert "Παπαδόπουλος Γιώργος" in unicodedata.normalize("NFKC", _text(data))


@pytest.mark.parametrize("last_name, first_name", [("Παπαδόπουλος", "Γιώργος"), ("Иванова", "Мария"),
                                                  ("כהן", "דוד"), ("الحسن", "محمد")])
def test_F07_names_in_other_scripts_print_with_an_embedded_font(db, last_name, first_name):
    c = f.customer(last_name=last_name, first_name=first_name)
    inv = _bill(db, customer=c)
    m = _mandate(db, inv.supply_point, reference=f"SPT-DOC-{ord(last_name[0])}",
                 holder_last_name=last_name, holder_first_name=first_name)
    for data in (render_invoice_pdf(inv, "it"), render_mandate_pdf(m, "it")):
        text = unicodedata.normalize("NFKC", _text(data))
        if unicodedata.bidirectional(last_name[0]) == "L":
            assert f"{last_name} {first_name}" in text
        else:  # right-to-left: drawn in visual order, Arabic in its joined forms
            assert set(last_name + first_name) <= set(text)
        assert any("DejaVuSans" in name for name in _embedded_fonts(data))
