"""F-11 … F-13 in a real browser: an agent enters a contract through every step and downloads
the PDF; back office validates, credit check approves, back office activates; billing creates
the supply; the agent sees the final state."""
import io
import re
import uuid

import pytest
from pypdf import PdfReader

from app.roles import AGENT, BACK_OFFICE, CREDIT_CHECK
from app.services.sync.alignment import align
from app.services.sync.gateway import gateway
from app.services.sales.contracts import check_invoiceable
from app.services.sync.outbox import deliver_due
from tests.e2e.browsing import staff_sign_in
from tests.sales.helpers import IBAN, agent_for

pytestmark = pytest.mark.browser


def _continue(page, form):
    with page.expect_navigation():
        page.click(f"{form} button[value=next]")


def test_F13_contract_from_tablet_to_invoiceable(live_server, page, billing_sim, make_user, db):
    assert align(full=True).status == "ok"
    from app.services.catalog.offers import seed_demo

    seed_demo()
    agent_user, agent_pw = make_user(AGENT)
    agent_for(agent_user)
    bo_user, bo_pw = make_user(BACK_OFFICE)
    cc_user, cc_pw = make_user(CREDIT_CHECK)
    pdr = "77" + str(uuid.uuid4().int)[:12]
    page.set_viewport_size({"width": 1024, "height": 768})  # a tablet

    staff_sign_in(page, live_server, agent_user, agent_pw)
    page.goto(f"{live_server}/sales/")
    with page.expect_navigation():
        page.click("#new-contract")
    # Step 1: a new customer; a wrong tax code is explained next to the field, in Italian.
    page.fill("#last_name", "Marino")
    page.fill("#first_name", "Elena")
    page.fill("#tax_code", "MRNLNE80A41H501X")
    page.fill("#birth_date", "1980-01-01")
    page.fill("#address", "Via dei Mille 10")
    page.fill("#post_code", "00185")
    page.fill("#city", "Roma")
    page.fill("#province", "RM")
    page.fill("#phone", "06 5551234")
    page.fill("#email", "elena.marino@example.com")
    _continue(page, "#customer-form")
    assert "Il codice fiscale non è valido" in page.locator("#tax_code-error").inner_text()
    assert page.input_value("#last_name") == "Marino"
    page.fill("#tax_code", "BNCLRA85M41F205C")
    _continue(page, "#customer-form")
    # Step 2: supply point.
    page.wait_for_url("**/supply")
    page.select_option("#service", "gas")
    page.select_option("#tariff_option", "Gas Casa Variabile")
    page.fill("#pdr", pdr)
    page.fill("#address", "Via dei Mille 10")
    page.fill("#post_code", "00185")
    page.fill("#city", "Roma")
    page.fill("#province", "RM")
    assert page.input_value("#address") == "Via dei Mille 10"  # from the customer
    page.select_option("#gas_use_category", "C3")
    page.select_option("#withdrawal_class", "1")
    page.fill("#annual_consumption", "1400")
    page.fill("#previous_supplier", "Altro Gas SpA")
    _continue(page, "#supply-form")
    # Step 3: SEPA direct debit.
    page.wait_for_url("**/payment")
    page.fill("#iban", IBAN)
    page.fill("#holder", "Elena Marino")
    _continue(page, "#payment-form")
    # Step 4: bills to the supply address.
    page.wait_for_url("**/mailing")
    assert page.is_checked("#same_as_supply")
    _continue(page, "#mailing-form")
    # Step 5: summary and confirmation.
    page.wait_for_url("**/summary")
    assert pdr in page.content() and "Gas Casa Variabile" in page.content()
    with page.expect_navigation():
        page.click("#finish")
    contract_id = int(re.search(r"/sales/contracts/(\d+)$", page.url).group(1))
    assert page.locator("#contract-status").inner_text() == "In lavorazione"
    with page.expect_download() as info:
        page.click("a.doc-contract")
    pdf = open(info.value.path(), "rb").read()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Marino Elena" in text and pdr in text and "Gas Casa Variabile" in text

    # Back office validates, credit check approves, back office activates.
    for user, password, button in ((bo_user, bo_pw, "validate"), (cc_user, cc_pw, "approve"),
                                   (bo_user, bo_pw, "activate")):
        staff_sign_in(page, live_server, user, password)
        page.goto(f"{live_server}/contractview/show/{contract_id}")
        with page.expect_navigation():
            page.click(f"#work-{button}")
        assert page.locator(".alert-success").count() >= 1, button

    # The outbox hands the contract to billing; later the distributor's data arrive.
    assert deliver_due()["delivered"] == 1
    staff_sign_in(page, live_server, agent_user, agent_pw)
    page.goto(f"{live_server}/sales/contracts/{contract_id}")
    assert page.locator("#contract-status").inner_text() == "In fatturazione, non fatturabile"
    db.session.expire_all()
    from app.models import Contract

    sp_code = db.session.get(Contract, contract_id).data["billing"]["supply_point_code"]
    gateway().mark_invoiceable(f"distributor-{uuid.uuid4().hex}", sp_code)
    assert align().status == "ok"  # the alignment itself makes the contract invoiceable
    assert check_invoiceable()["invoiceable"] == 0  # nothing left for the contracts job

    page.goto(f"{live_server}/sales/")
    row = page.locator("tr", has_text=pdr)
    assert row.locator(".contract-status").inner_text() == "Fatturabile"
    page.goto(f"{live_server}/sales/contracts/{contract_id}")
    assert page.locator("#contract-status").inner_text() == "Fatturabile"
    history = page.locator("#history").inner_text()
    for step in ("Convalida", "Approva credito", "Attiva", "Creato in fatturazione"):
        assert step in history
