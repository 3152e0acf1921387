"""F-06 in real headless Chromium, the whole life of a mandate: the customer requests direct
debit in the portal; the back office rejects it with a reason in the staff mandate view; the
customer reads the reason and requests again with a German IBAN; the billing simulator reports
the mandate active at the next alignment; the portal shows it active."""
import pytest
import sqlalchemy as sa

from app.models import DirectDebitMandate, Invoice, MandateStatus, PaymentMethod, SupplyPoint
from app.services.sync.alignment import align
from app.services.sync.outbox import deliver_due
from tests.portal.conftest import PASSWORD, make_account

pytestmark = pytest.mark.browser

REASON = "Il conto indicato non accetta addebiti diretti"


def _fill_mandate(page, iban):
    page.fill("#iban", iban)
    page.fill("#holder_tax_code", "")
    page.fill("#bank", "Banca di prova")
    page.check("#accept")
    page.fill("#current_password", PASSWORD)
    page.click("button[type=submit].primary")


def test_F06_mandate_rejected_by_back_office_then_active_from_billing(
        live_server, page, chromium, billing_sim, make_user, db, app):
    assert align(full=True).status == "ok"
    sp = db.session.scalar(sa.select(SupplyPoint).where(
        SupplyPoint.payment_method == PaymentMethod.POSTAL_SLIP,
        SupplyPoint.customer_id.in_(sa.select(Invoice.customer_id).where(Invoice.web_code != "")))
        .order_by(SupplyPoint.id))
    user = make_account(db, app, sp.customer)
    sp_id, sp_code = sp.id, sp.code
    db.session.commit()

    # The customer asks for direct debit.
    page.goto(f"{live_server}/portal/login")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/portal/home")
    page.goto(f"{live_server}/portal/supply/{sp_id}/direct-debit")
    _fill_mandate(page, "IT60 X054 2811 1010 0000 0123 456")
    page.wait_for_url(f"**/portal/supply/{sp_id}/direct-debit")
    assert page.locator(".mandate-pending").is_visible()
    assert "Richiesta in lavorazione" in page.locator(".mandate-pending").inner_text()
    assert page.locator("#iban").count() == 0  # no form while it is pending
    assert deliver_due()["delivered"] >= 1  # the request reaches billing

    # The back office rejects it, with a reason, from its queue.
    clerk, password = make_user("Back office")
    staff_context = chromium.new_context(locale="it-IT")
    staff = staff_context.new_page()
    staff.set_default_timeout(15000)
    try:
        staff.goto(f"{live_server}/login/")
        staff.fill("input[name=username]", clerk.username)
        staff.fill("input[name=password]", password)
        staff.click("input[type=submit], button[type=submit]")
        staff.wait_for_load_state()
        staff.click("a.dropdown-toggle:has-text('CRM')")
        staff.click("a:has-text('Mandati di addebito diretto da esaminare')")
        staff.wait_for_url("**/mandatequeueview/list/**")
        row = staff.locator("table tbody tr", has_text=sp_code).first
        row.locator("a[href*='/mandatequeueview/show/']").first.click()
        staff.wait_for_url("**/mandatequeueview/show/**")
        staff.fill("#reason", REASON)
        staff.click("#decide-reject")
        staff.wait_for_url("**/mandateview/show/**")
        assert "respinto" in staff.locator(".alert").first.inner_text()
        assert REASON in staff.content()
    finally:
        staff_context.close()

    # The customer sees why, and asks again with a German account.
    page.reload()
    rejected = page.locator(".mandate-rejected")
    assert rejected.is_visible() and REASON in rejected.inner_text()
    assert "Respinta" in page.locator("table.mandates").inner_text()
    _fill_mandate(page, "DE89 3704 0044 0532 0130 00")
    page.wait_for_url(f"**/portal/supply/{sp_id}/direct-debit")
    assert page.locator(".mandate-pending").is_visible()
    assert deliver_due()["delivered"] >= 2  # the rejection and the new request

    # The bank accepts it: billing reports it active at the next alignment.
    billing_sim.decide_mandate(sp_code, "active")
    assert align().status == "ok"
    page.reload()
    first_row = page.locator("table.mandates tbody tr").first
    assert "Attiva" in first_row.inner_text() and "3000" in first_row.inner_text()
    assert page.locator(".mandate-pending").count() == 0
    payment = page.locator("main p", has_text="Modalità di pagamento").inner_text()
    assert "Addebito diretto SEPA" in payment and payment.endswith("3000")  # billing's copy, IBAN masked
    mandate = db.session.scalar(sa.select(DirectDebitMandate).where(
        DirectDebitMandate.supply_point_id == sp_id).order_by(DirectDebitMandate.id.desc()))
    assert mandate.status == MandateStatus.ACTIVE and mandate.iban == "DE89370400440532013000"


def _tab_to(page, text, limit=40):
    """Press Tab until the focused element's text contains `text` (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if text in (page.evaluate("document.activeElement.innerText") or ""):
            return
    raise AssertionError(f"{text!r} never got the focus")


def test_F06_revocation_by_keyboard_with_its_confirmation_page(live_server, page, db, app):
    from tests import factories as f

    customer = f.customer()
    sp = f.supply_point(customer)  # paid by direct debit in billing
    db.session.commit()
    user = make_account(db, app, customer)
    sp_id, reference = sp.id, sp.mandate_reference
    db.session.commit()

    page.goto(f"{live_server}/portal/login")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/portal/home")
    page.goto(f"{live_server}/portal/supply/{sp_id}/direct-debit")
    _tab_to(page, "Revoca la domiciliazione")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/portal/supply/{sp_id}/direct-debit/revoke")
    assert reference in page.locator("main").inner_text()
    _tab_to(page, "Sì, revoca la domiciliazione")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/portal/supply/{sp_id}/direct-debit")
    assert "Revoca richiesta" in page.locator(".mandate-pending").inner_text()
    assert "Revoca richiesta" in page.locator("table.mandates tbody tr").first.inner_text()
    db.session.expire_all()
    mandate = db.session.scalar(sa.select(DirectDebitMandate).where(DirectDebitMandate.reference == reference))
    assert mandate.status == MandateStatus.REVOKE_REQUESTED
