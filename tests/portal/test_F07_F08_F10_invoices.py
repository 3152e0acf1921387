"""F-07 invoices and payments, F-08 invoice-by-e-mail settings and log, F-10 consumption."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import force_locale

from app.models import (Activity, ActivityKind, DeliveryMode, InvoiceDeliverySetting,
                        InvoiceEmailLog, InvoiceLine, InvoiceStatus, OutboxMessage, PaymentChannel, SendOutcome,
                        Service)
from tests import factories as f
from tests.portal.conftest import post_form, received_mail


def test_F07_list_balance_filters_sort_pagination(client, db, logged_in):
    c, sp = logged_in["customer"], logged_in["supply_point"]
    for i in range(14):
        f.invoice(c, sp, invoice_date=dt.date(2025, 1 + i % 12, 10), amount=Decimal("10.00"),
                  status=InvoiceStatus.UNPAID)
    db.session.commit()
    page1 = client.get("/portal/invoices").get_data(as_text=True)
    # balance: 14 unpaid x 10 + the fixture's paid invoice (0 due) — the amount itself varies by locale
    assert "140,00" in page1 and "Pagina 1 di 2" in page1
    paid_only = client.get("/portal/invoices?status=PAID").get_data(as_text=True)
    assert logged_in["invoice"].number in paid_only and "Bollette trovate: 1" in paid_only
    year = client.get("/portal/invoices?year=2026").get_data(as_text=True)
    assert "Bollette trovate: 1" in year
    by_amount = client.get("/portal/invoices?sort=amount&dir=desc").get_data(as_text=True)
    assert by_amount.index(logged_in["invoice"].number) < by_amount.index("10,00")
    page2 = client.get("/portal/invoices?page=2").get_data(as_text=True)
    assert "Pagina 2 di 2" in page2


def test_F07_sort_and_page_links_keep_the_filters(client, db, logged_in):
    c, sp = logged_in["customer"], logged_in["supply_point"]
    for i in range(15):
        f.invoice(c, sp, invoice_date=dt.date(2025, 1 + i % 12, 1 + i), amount=Decimal(10 + i),
                  status=InvoiceStatus.UNPAID)
    db.session.commit()
    filtered = f"/portal/invoices?supply={sp.id}&amp;year=2025&amp;status=UNPAID&amp;"
    body = client.get(f"/portal/invoices?supply={sp.id}&year=2025&status=UNPAID&sort=amount&dir=desc"
                      ).get_data(as_text=True)
    # the sorted column offers the other direction, the others start descending; filters stay
    # aria-sort belongs to the header cell, not to its link
    assert f'<th scope="col" aria-sort="descending"><a href="{filtered}sort=amount&amp;dir=asc">' in body
    assert f'href="{filtered}sort=number&amp;dir=desc"' in body
    assert f'href="{filtered}sort=amount&amp;dir=desc&amp;page=2" rel="next"' in body
    page2 = client.get(f"/portal/invoices?supply={sp.id}&year=2025&status=UNPAID&sort=amount&dir=desc&page=2"
                       ).get_data(as_text=True)
    assert "Pagina 2 di 2" in page2 and "Bollette trovate: 15" in page2
    assert f'href="{filtered}sort=amount&amp;dir=desc&amp;page=1" rel="prev"' in page2
    # an unknown sort key sorts by date and never reaches the links
    odd = client.get("/portal/invoices?sort=x%26page%3D9").get_data(as_text=True)
    assert '<th scope="col" aria-sort="descending"><a href="/portal/invoices?sort=date&amp;dir=asc">' in odd
    assert "page=9" not in odd and "sort=x&amp;" not in odd


def test_F07_layout_links_follow_the_mount_point(client, logged_in):
    """The menu's links are built once per mount point: behind a prefix they carry it."""
    mounted = client.get("/portal/invoices", environ_overrides={"SCRIPT_NAME": "/sportello"}
                         ).get_data(as_text=True)
    assert 'href="/sportello/portal/requests"' in mounted
    assert 'href="/sportello/static/portal/portal.css"' in mounted
    plain = client.get("/portal/invoices").get_data(as_text=True)
    assert 'href="/portal/requests"' in plain and "/sportello/" not in plain


def test_F07_list_rows_where_paid_years_and_supply_filter(app, client, db, logged_in):
    c, sp, paid = logged_in["customer"], logged_in["supply_point"], logged_in["invoice"]
    light = f.supply_point(c, service=Service.ELECTRICITY, pdr="", pod="IT001E12345678")
    other = f.invoice(c, light, invoice_date=dt.date(2024, 3, 1), amount=Decimal("50.00"),
                      amount_paid=Decimal("20.00"), status=InvoiceStatus.PARTIALLY_PAID)
    f.payment(other, amount=Decimal("20.00"), method=PaymentChannel.BANK_TRANSFER, paid_at="")
    f.invoice(c, sp, invoice_date=dt.date(2025, 6, 1), amount=Decimal("7.50"))
    db.session.commit()
    body = client.get("/portal/invoices").get_data(as_text=True)
    # where paid: the place when billing knows it, else the channel's label
    with app.test_request_context(), force_locale("it"):
        transfer = str(PaymentChannel.BANK_TRANSFER.label)
    assert "Ufficio postale Roma 12" in body and transfer != "Bank transfer" and transfer in body
    for year in (2026, 2025, 2024):
        assert f"<option>{year}</option>" in body  # no year chosen: none selected
    assert body.index("<option>2026") < body.index("<option>2024")
    # both supply points offered by service and address, not by a bare PDR/POD
    assert f'value="{sp.id}">Gas metano — Via Roma 1, Roma<' in body
    assert f'value="{light.id}">Energia elettrica — Via Roma 1, Roma<' in body
    assert f">{sp.pdr}<" not in body and ">IT001E12345678<" not in body
    # balance of everything (7.50 + 30.00 left), the same on the home page, and of the
    # electricity supply only (30.00)
    assert "37,50" in body and "37,50" in client.get("/portal/home").get_data(as_text=True)
    only_light = client.get(f"/portal/invoices?supply={light.id}").get_data(as_text=True)
    assert "Bollette trovate: 1" in only_light and "30,00" in only_light and paid.number not in only_light
    assert '<p class="muted">Energia elettrica · IT001E12345678 · Via Roma 1, Roma</p>' in only_light
    assert f'<option value="{light.id}" selected>' in only_light
    # each row opens its detail and its PDF
    assert f'href="/portal/invoices/{paid.id}"' in body and f'href="/portal/invoices/{paid.id}/pdf"' in body
    assert client.get(f"/portal/invoices/{other.id}").status_code == 200


def test_F07_detail_shows_payment_and_where_paid(client, db, logged_in):
    inv = logged_in["invoice"]
    body = client.get(f"/portal/invoices/{inv.id}").get_data(as_text=True)
    assert inv.number in body and "Ufficio postale Roma 12" in body and "Materia gas" in body


def test_F07_detail_lists_each_line_once_in_order_beside_the_payments(client, db, logged_in):
    inv = logged_in["invoice"]  # line 1 "Materia gas", one payment
    for no, desc in ((3, "Oneri di sistema"), (2, "Trasporto")):
        db.session.add(InvoiceLine(invoice_id=inv.id, line_no=no, description=desc, quantity=Decimal("1"),
                                   unit_price=Decimal("5"), amount=Decimal("5.00"), vat_percent=Decimal("10")))
    f.payment(inv, amount=Decimal("1.00"))
    db.session.commit()
    body = client.get(f"/portal/invoices/{inv.id}").get_data(as_text=True)
    lines = body.split("<caption>Righe della bolletta</caption>")[1].split("</table>")[0]
    payments = body.split("<caption>Pagamenti</caption>")[1].split("</table>")[0]
    assert [lines.index(d) for d in ("Materia gas", "Trasporto", "Oneri di sistema")] == sorted(
        lines.index(d) for d in ("Materia gas", "Trasporto", "Oneri di sistema"))
    assert lines.count("<tr>") == 4 and payments.count("<tr>") == 3  # header + 3 lines; header + 2 payments

    bare = f.invoice(logged_in["customer"], logged_in["supply_point"], number="FT-NOLINES-1")
    db.session.execute(sa.delete(InvoiceLine).where(InvoiceLine.invoice_id == bare.id))
    db.session.commit()
    body = client.get(f"/portal/invoices/{bare.id}").get_data(as_text=True)
    assert "FT-NOLINES-1" in body and "None" not in body
    lines = body.split("<caption>Righe della bolletta</caption>")[1].split("</table>")[0]
    assert "Questa bolletta non ha righe." in lines and lines.count("<tr>") == 2  # header + the notice


def test_F07_pdf_copy(client, db, logged_in, billing_sim):
    inv = logged_in["invoice"]  # billing does not know it: rendered here and stored
    resp = client.get(f"/portal/invoices/{inv.id}/pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    assert resp.headers["Cache-Control"] == "no-store"
    again = client.get(f"/portal/invoices/{inv.id}/pdf")  # the stored copy, read as it is
    assert again.status_code == 200 and again.data == resp.data
    assert again.headers["Content-Disposition"] == resp.headers["Content-Disposition"] \
        == f'attachment; filename="{inv.number.replace("/", "-")}.pdf"'
    assert again.headers["Cache-Control"] == "no-store"


def test_F08_settings_up_to_four_addresses(client, db, logged_in):
    sp = logged_in["supply_point"]
    url = f"/portal/supply/{sp.id}/invoice-email"
    five = "\n".join(f"a{i}@example.com" for i in range(5))
    resp = post_form(client, url, {"enabled": "y", "mode": "pdf", "addresses": five})
    assert resp.status_code == 400 and "Al massimo 4 indirizzi" in resp.get_data(as_text=True)
    bad = post_form(client, url, {"enabled": "y", "mode": "pdf", "addresses": "not-an-address"})
    assert bad.status_code == 400 and "non è un indirizzo e-mail valido" in bad.get_data(as_text=True)
    none = post_form(client, url, {"enabled": "y", "mode": "pdf", "addresses": ""})
    assert none.status_code == 400
    ok = post_form(client, url, {"enabled": "y", "mode": "pdf",
                                 "addresses": "a@example.com, b@example.com\nA@example.com"})
    assert ok.status_code == 302
    s = db.session.scalar(sa.select(InvoiceDeliverySetting))
    assert s.enabled and s.mode == DeliveryMode.PDF and s.active_since == dt.date.today()
    assert [r.email for r in s.recipients] == ["a@example.com", "b@example.com"]
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.INVOICE_EMAIL))
    assert db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.activity_id == a.id))
    assert "b@example.com" in client.get(url).get_data(as_text=True)


def test_F08_saved_settings_show_and_mail_the_reference_in_english(client, db, logged_in, smtp_server):
    sp = logged_in["supply_point"]
    url = f"/portal/supply/{sp.id}/invoice-email"
    post_form(client, "/portal/language", {"language": "en", "next": ""}, page_url=url)
    resp = post_form(client, url, {"enabled": "y", "mode": "pdf", "addresses": "a@example.com"})
    assert resp.status_code == 302
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.INVOICE_EMAIL))
    page = client.get(resp.location).get_data(as_text=True)
    assert f"Your invoice delivery settings have been saved. Reference number: {a.reference}." in page
    msg = received_mail(smtp_server, a.reference)
    assert msg["To"] == logged_in["customer"].email
    assert msg["Subject"] == f"We have received your request {a.reference}"


def test_F08_send_log_per_invoice(client, db, logged_in):
    inv = logged_in["invoice"]
    db.session.add(InvoiceEmailLog(invoice_id=inv.id, email="a@example.com", mode=DeliveryMode.LINK,
                                   outcome=SendOutcome.SENT, sent_at=dt.datetime(2026, 11, 2, 3, 0)))
    db.session.commit()
    body = client.get(f"/portal/invoices/{inv.id}").get_data(as_text=True)
    assert "a@example.com" in body and "Inviata</td>" in body
    page = client.get(f"/portal/supply/{logged_in['supply_point'].id}/invoice-email").get_data(as_text=True)
    assert "a@example.com" in page


def test_F10_consumption_table_and_chart(client, db, logged_in):
    body = client.get(f"/portal/supply/{logged_in['supply_point'].id}/consumption").get_data(as_text=True)
    assert "<svg" in body and logged_in["meter"].serial in body
    assert body.count("<tr>") >= 4  # header + 3 readings
    assert "http://" not in body.split("<svg", 1)[1].split("</svg>")[0].replace("http://www.w3.org/2000/svg", "")


def test_F10_readings_are_written_the_italian_way_with_their_unit(client, db, logged_in):
    sp, m = logged_in["supply_point"], logged_in["meter"]
    assert post_form(client, f"/portal/supply/{sp.id}/reading",
                     {"meter": str(m.id), "reading_date": dt.date.today().isoformat(), "value": "1337"}).status_code == 302
    body = client.get(f"/portal/supply/{sp.id}/consumption").get_data(as_text=True)
    assert ">1.337&nbsp;m³</td>" in body and ">1.200&nbsp;m³</td>" in body
    assert "1337" not in body
    reading_page = client.get(f"/portal/supply/{sp.id}/reading").get_data(as_text=True)
    assert "1.337&nbsp;m³" in reading_page  # the last reading, beside the form


def test_F10_another_customers_supply_point_shows_no_consumption(client, db, logged_in):
    other = f.customer(last_name="Altro")
    sp = f.supply_point(other, address="Via Altrui 9")
    f.reading(sp, f.meter(sp, serial="M-OTHER-1"), value=4321)
    db.session.commit()
    # ids past a primary key's range (PostgreSQL's INTEGER) are not found either, not an error
    for sp_id in (sp.id, 2**31, 2**63 - 1, 2**63):
        for url in (f"/portal/supply/{sp_id}/consumption", f"/portal/supply/{sp_id}/reading",
                    f"/portal/invoices/{sp_id}", f"/portal/invoices/{sp_id}/pdf", f"/portal/requests/{sp_id}"):
            resp = client.get(url)
            body = resp.get_data(as_text=True)
            assert resp.status_code == 404 and "M-OTHER-1" not in body and "Altrui" not in body, url


def test_F07_another_customers_invoice_is_404(client, db, logged_in):
    other = f.customer(last_name="Altro")
    inv = f.invoice(other, f.supply_point(other), number="FT-OTHER-1")
    inv.pdf = b"%PDF-1.4 FT-OTHER-1"  # a stored copy is no way in either
    db.session.commit()
    for url in (f"/portal/invoices/{inv.id}", f"/portal/invoices/{inv.id}/pdf",
                f"/portal/invoices/{inv.id}/correction"):
        resp = client.get(url)
        assert resp.status_code == 404 and "FT-OTHER-1" not in resp.get_data(as_text=True)
    # nor may the list be filtered by another customer's supply point, or by something else
    for supply in (inv.supply_point_id, "x1", "99999999999999999999"):
        resp = client.get(f"/portal/invoices?supply={supply}")
        assert resp.status_code == 404 and "FT-OTHER-1" not in resp.get_data(as_text=True)


def test_F08_addresses_are_checked_by_email_validator(client, db, logged_in, smtp_server):
    url = f"/portal/supply/{logged_in['supply_point'].id}/invoice-email"
    emoji = post_form(client, url, {"enabled": "y", "mode": "link", "addresses": "x@😀.it"})
    assert emoji.status_code == 400 and "x@😀.it non è un indirizzo e-mail valido" in emoji.get_data(as_text=True)
    idn = post_form(client, url, {"enabled": "y", "mode": "link", "addresses": "user@bücher.de"})
    assert idn.status_code == 302
    assert [r.email for r in db.session.scalar(sa.select(InvoiceDeliverySetting)).recipients] == ["user@bücher.de"]


# --- what is owed: the "to pay" filter, the amount due, the detail's way back, clear filters ----

def _invoice_table(body: str) -> list[dict[str, str]]:
    """The invoice list's rows as {column header: cell text}."""
    import lxml.html

    table = lxml.html.fromstring(body).xpath('//table[contains(@class, "invoices")]')[0]
    headers = [" ".join(th.text_content().replace("▼", "").replace("▲", "").split())
               for th in table.xpath(".//thead//th")]
    return [dict(zip(headers, (" ".join(td.text_content().split()) for td in tr.xpath("./td"))))
            for tr in table.xpath(".//tbody/tr")]


def _it(app, fn, *args):
    with app.test_request_context(), force_locale("it"):
        return fn(*args)


def test_F07_partly_paid_invoice_is_in_the_unpaid_filter_with_its_amount_due(app, client, db, logged_in):
    c, sp, paid = logged_in["customer"], logged_in["supply_point"], logged_in["invoice"]
    today = dt.date.today()
    partly = f.invoice(c, sp, invoice_date=today - dt.timedelta(days=20), due_date=today + dt.timedelta(days=10),
                       amount=Decimal("300.00"), amount_paid=Decimal("30.29"), status=InvoiceStatus.PARTIALLY_PAID)
    f.payment(partly, amount=Decimal("30.29"))
    db.session.commit()
    body = client.get("/portal/invoices?status=UNPAID").get_data(as_text=True).replace("\xa0", " ")
    assert '<option value="UNPAID" selected>Da pagare</option>' in body
    rows = _invoice_table(body)
    assert [r["Numero"] for r in rows] == [partly.number]  # the paid one is left out
    assert rows[0]["Ancora da pagare"] == "269,71 €" and rows[0]["Stato"] == "Pagata in parte"
    # the count and the balance agree with the list
    assert "Bollette trovate: 1" in body and "Saldo da pagare: <strong>269,71 €" in body
    assert "Bollette trovate: 0" not in body
    # "partially paid" alone is offered too, and "paid" keeps only the paid one
    assert [r["Numero"] for r in _invoice_table(client.get("/portal/invoices?status=PARTIALLY_PAID")
                                                 .get_data(as_text=True))] == [partly.number]
    assert [r["Numero"] for r in _invoice_table(client.get("/portal/invoices?status=PAID")
                                                 .get_data(as_text=True))] == [paid.number]


def test_F07_invoice_list_shows_every_column(app, client, db, logged_in):
    """Every column the product promises: number, date, amount, type, consumption, due date,
    amount paid, where paid, status (and what is still due), by header and by value."""
    from flask_babel import format_date

    c, sp = logged_in["customer"], logged_in["supply_point"]
    today = dt.date.today()
    issued, due = today - dt.timedelta(days=40), today - dt.timedelta(days=5)
    inv = f.invoice(c, sp, number="FT-COLS-1", invoice_date=issued, due_date=due, amount=Decimal("1234.50"),
                    amount_paid=Decimal("1000.00"), status=InvoiceStatus.PARTIALLY_PAID,
                    consumption=1520, unit="Smc")
    f.payment(inv, amount=Decimal("1000.00"), paid_at="Tabaccheria Verdi, Milano")
    db.session.commit()
    rows = {r["Numero"]: r for r in _invoice_table(client.get("/portal/invoices").get_data(as_text=True))}
    row = rows["FT-COLS-1"]
    assert row == {
        "Numero": "FT-COLS-1",
        "Data": _it(app, format_date, issued),
        "Importo": "1.234,50 €",
        "Tipo": "Periodica",
        "Consumo": "1.520 Smc",
        "Scadenza": _it(app, format_date, due),
        "Importo pagato": "1.000,00 €",
        "Ancora da pagare": "234,50 €",
        "Luogo di pagamento": "Tabaccheria Verdi, Milano",
        "Stato": "Pagata in parte",
        "PDF": "PDF",
    }
    assert issued.isoformat() not in row["Data"]
    paid_row = rows[logged_in["invoice"].number]
    assert paid_row["Stato"] == "Pagata" and paid_row["Ancora da pagare"] == "0,00 €"


def test_F07_detail_shows_amount_due_and_leads_back_to_the_filtered_list(client, db, logged_in):
    c, sp = logged_in["customer"], logged_in["supply_point"]
    today = dt.date.today()
    inv = f.invoice(c, sp, invoice_date=today - dt.timedelta(days=30), due_date=today + dt.timedelta(days=5),
                    amount=Decimal("80.00"), amount_paid=Decimal("25.50"), status=InvoiceStatus.PARTIALLY_PAID)
    db.session.commit()
    listed = client.get(f"/portal/invoices?supply={sp.id}&status=UNPAID&sort=amount&dir=asc").get_data(as_text=True)
    import lxml.html

    link = next(a.get("href") for a in lxml.html.fromstring(listed).xpath('//table[contains(@class, "invoices")]//a')
                if a.text_content() == inv.number)
    detail = client.get(link).get_data(as_text=True).replace("\xa0", " ")
    assert "Ancora da pagare</dt><dd><strong>54,50 €" in detail
    assert "Gas metano — Via Roma 1, Roma" in detail
    back = lxml.html.fromstring(detail).xpath('//a[@class="back"]')[0]
    assert back.text_content().strip() == "← Torna alle bollette"
    assert back.get("href") == f"/portal/invoices?supply={sp.id}&status=UNPAID&sort=amount&dir=asc"
    # without a list behind it, back goes to the whole list; nothing else travels in the link
    plain = lxml.html.fromstring(client.get(f"/portal/invoices/{inv.id}?back=next%3Dhttp%3A%2F%2Fevil")
                                 .get_data(as_text=True))
    assert plain.xpath('//a[@class="back"]')[0].get("href") == "/portal/invoices"


def test_F07_empty_result_offers_to_clear_the_filters(client, db, logged_in):
    body = client.get("/portal/invoices?status=UNPAID").get_data(as_text=True)  # only a paid one
    assert "Nessuna bolletta corrisponde." in body
    assert '<a href="/portal/invoices">Azzera i filtri</a>' in body
    assert "<table" not in body and body.count("Azzera i filtri") == 1  # no empty table, one way out
    whole = client.get("/portal/invoices").get_data(as_text=True)
    assert "Azzera i filtri" not in whole and "Bollette trovate: 1" in whole
