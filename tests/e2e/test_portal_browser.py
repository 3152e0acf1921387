"""The self-service portal in real headless Chromium: first access with a web code from
billing's data, login, a reading (F-02) seen in the history (F-10) and in "my requests",
the switch to English, and an invoice PDF (F-07)."""
import datetime as dt

import pytest
import sqlalchemy as sa

from app.models import Customer, Invoice, Meter, SupplyPoint
from app.services.sync.alignment import align
from app.services.portal.readings import previous_reading

pytestmark = pytest.mark.browser

PASSWORD = "una passphrase lunga e sicura"


def test_portal_register_login_reading_language_pdf(live_server, page, billing_sim, db):
    assert align(full=True).status == "ok"
    meter = db.session.scalar(sa.select(Meter).join(SupplyPoint).where(
        Meter.has_corrector.is_(False), Meter.removed_on.is_(None),
        SupplyPoint.customer_id.in_(sa.select(Invoice.customer_id).where(Invoice.web_code != "")))
        .order_by(Meter.id))
    sp = meter.supply_point
    customer = db.session.get(Customer, sp.customer_id)
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.customer_id == customer.id)
                                .order_by(Invoice.invoice_date.desc()))
    prev = previous_reading(meter)
    value = (prev.value + 7) % 10 ** meter.digits
    db.session.commit()

    hosts = set()
    page.on("request", lambda req: hosts.add(req.url.split("/")[2]))
    page.goto(f"{live_server}/portal/login")
    page.click("text=Primo accesso")
    page.fill("#web_code", invoice.web_code)
    page.fill("#identifier", customer.tax_code or customer.code)
    page.fill("#username", "browser-user")
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.fill("#question", "Nome del primo gatto?")
    page.fill("#answer", "Micio")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/portal/login")
    assert "Il tuo accesso è pronto" in page.content()

    # Keyboard only: type and press Enter.
    page.fill("#username", "browser-user")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/portal/home")
    assert customer.addressed_name in page.content()  # greeted by first name, then last name

    page.goto(f"{live_server}/portal/supply/{sp.id}/reading")
    page.select_option("#meter", str(meter.id))
    page.fill("#reading_date", dt.date.today().isoformat())
    page.fill("#value", str(value))
    page.click("button[type=submit].primary")
    page.wait_for_url(f"**/portal/supply/{sp.id}/consumption")
    assert "Lettura ricevuta" in page.content()
    first_row = page.locator("table.data tbody tr").first
    shown = f"{value:,}".replace(",", ".")  # the reading in the Italian number format
    assert shown in first_row.inner_text() and "Autolettura" in first_row.inner_text()

    page.click("nav >> text=Le mie richieste")
    page.wait_for_url("**/portal/requests")
    assert page.locator("table.data tbody tr", has_text="Autolettura").count() == 1

    page.click("button:has-text('English')")
    page.wait_for_url("**/portal/requests")
    assert page.locator("h1").inner_text() == "My requests"
    assert page.locator("table.data tbody tr", has_text="Self-reading").count() == 1

    page.click("nav >> text=Invoices and payments")
    page.wait_for_url("**/portal/invoices")
    with page.expect_download() as info:
        page.locator("table.invoices tbody tr").first.locator("a", has_text="PDF").click()
    path = info.value.path()
    with open(path, "rb") as fh:
        assert fh.read(5) == b"%PDF-"
    assert hosts == {live_server.split("/")[2]}  # nothing loaded from outside
