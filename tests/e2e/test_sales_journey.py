"""F-17 … F-16 in a real browser, as an agent works a new customer: a prospect entered and
called, converted to a gas contract, electricity for the same new customer found by the
wizard's search, the signed copy uploaded; back office and credit check work both contracts;
billing (the simulator) holds one customer for both; the agent sees both contracts, one
customer with two supply points and the commission earned."""
import re
import sqlite3
import uuid

import pytest

from app.roles import AGENT, BACK_OFFICE, CREDIT_CHECK
from app.services.sync.alignment import align
from app.services.sync.outbox import deliver_due
from tests.e2e.browsing import staff_sign_in
from tests.sales.helpers import IBAN, agent_for

pytestmark = pytest.mark.browser

TAX_CODE = "BNCLRA85M41F205C"


def _submit(page, selector):
    with page.expect_navigation():
        page.click(selector)


def _through_payment_and_mailing(page):
    page.wait_for_url("**/payment")
    page.fill("#iban", IBAN)
    page.fill("#holder", "Carla Riva")
    _submit(page, "#payment-form button[value=next]")
    page.wait_for_url("**/mailing")
    _submit(page, "#mailing-form button[value=next]")
    page.wait_for_url("**/summary")
    _submit(page, "#finish")
    return int(re.search(r"/sales/contracts/(\d+)$", page.url).group(1))


def test_F17_prospect_to_dual_fuel_customer_with_signed_copy_and_commission(
        live_server, page, billing_sim, make_user, db, tmp_path):
    from app.extensions import db as _db
    from app.services.catalog.offers import seed_demo
    from app.services.sales.commissions import seed_demo_rules

    assert align(full=True).status == "ok"
    seed_demo()
    seed_demo_rules()
    _db.session.commit()
    agent_user, agent_pw = make_user(AGENT)
    agent_for(agent_user)
    bo_user, bo_pw = make_user(BACK_OFFICE)
    cc_user, cc_pw = make_user(CREDIT_CHECK)
    pdr = "97" + str(uuid.uuid4().int)[:12]
    pod = "IT012E" + str(uuid.uuid4().int)[:8]
    page.set_viewport_size({"width": 1024, "height": 768})

    # The agent enters a prospect interested in gas and electricity, with e-mail consent.
    staff_sign_in(page, live_server, agent_user, agent_pw)
    page.goto(f"{live_server}/sales/")
    _submit(page, "a[href$='/sales/prospects/'] >> nth=0")
    _submit(page, "a[href$='/sales/prospects/new'] >> nth=0")
    page.fill("#last_name", "Riva")
    page.fill("#first_name", "Carla")
    page.fill("#tax_code", TAX_CODE)
    page.fill("#phone", "333 7654321")
    page.fill("#email", "carla.riva@example.com")
    page.fill("#town", "Torino")
    page.check("#interest_gas")
    page.fill("#consumption_gas", "1300")
    page.check("#interest_electricity")
    page.fill("#consumption_electricity", "2700")
    page.check("#consent_email")
    _submit(page, "#prospect-form button[type=submit]")
    assert "Riva Carla" in page.locator("h1").inner_text()
    assert "1.300 Smc" in page.locator("#prospect-services").inner_text()
    prospect_url = page.url

    # A phone call is logged: the prospect is now contacted.
    page.select_option("#contact-form select", "phone_call")
    page.fill("#contact-form textarea", "Interessata a gas e luce, richiamare con l'offerta.")
    _submit(page, "#contact-form button[type=submit]")
    assert page.url == prospect_url
    assert "Interessata a gas e luce" in page.locator("#prospect-contacts").inner_text()
    assert page.locator("#prospect-status").inner_text() == "Contattato"

    # Converted: the wizard opens with the customer step filled in from the prospect.
    _submit(page, "#convert")
    page.wait_for_url("**/customer")
    assert page.input_value("#last_name") == "Riva" and page.input_value("#tax_code") == TAX_CODE
    assert page.input_value("#email") == "carla.riva@example.com"
    page.fill("#birth_date", "1985-08-01")
    page.fill("#address", "Via Po 12")
    page.fill("#post_code", "10123")
    page.fill("#city", "Torino")
    page.fill("#province", "TO")
    _submit(page, "#customer-form button[value=next]")
    page.wait_for_url("**/supply")
    assert page.input_value("#service") == "gas"
    assert page.input_value("#address") == "Via Po 12"  # the supply address from the customer
    page.select_option("#tariff_option", "Gas Casa Variabile")
    page.fill("#pdr", pdr)
    page.select_option("#gas_use_category", "C1")
    page.select_option("#withdrawal_class", "1")
    _submit(page, "#supply-form button[value=next]")
    gas_id = _through_payment_and_mailing(page)
    assert page.locator("#contract-status").inner_text() == "In lavorazione"

    # The signed copy: the contract PDF, signed, goes back on the contract's page.
    with page.expect_download() as info:
        page.click("a.doc-contract")
    signed = tmp_path / "contratto-firmato.pdf"
    signed.write_bytes(open(info.value.path(), "rb").read())
    assert "Non ancora firmato" in page.locator("#signed-on").inner_text()
    page.set_input_files("input[type=file]", str(signed))
    _submit(page, "#upload-signed")
    assert "Firmato il" in page.locator("#signed-on").inner_text()
    assert page.locator("#signed-copies li").count() == 1

    # Electricity for the same customer: the wizard's search finds the customer just entered.
    page.goto(f"{live_server}/sales/")
    _submit(page, "#new-contract")
    page.fill("#q", TAX_CODE)
    _submit(page, "#customer-search button[type=submit]")
    results = page.locator("#search-results")
    assert "Riva Carla" in results.inner_text()
    _submit(page, "#search-results button[value=next]")
    page.wait_for_url("**/supply")
    page.select_option("#service", "electricity")
    page.select_option("#tariff_option", "Luce Casa Monoraria")
    page.fill("#pod", pod)
    page.select_option("#electricity_use", "domestic_resident")
    page.fill("#committed_power", "3,0")
    page.fill("#annual_consumption", "2700")
    _submit(page, "#supply-form button[value=next]")
    power_id = _through_payment_and_mailing(page)
    assert power_id != gas_id

    # Back office validates, credit check approves, back office activates: both contracts.
    for user, password, button in ((bo_user, bo_pw, "validate"), (cc_user, cc_pw, "approve"),
                                   (bo_user, bo_pw, "activate")):
        staff_sign_in(page, live_server, user, password)
        for contract_id in (gas_id, power_id):
            page.goto(f"{live_server}/contractview/show/{contract_id}")
            _submit(page, f"#work-{button}")
            assert page.locator(".alert-success").count() >= 1, (button, contract_id)

    delivered = sum(deliver_due()["delivered"] for _ in range(3))
    assert delivered == 2
    with sqlite3.connect(billing_sim.db_path) as conn:
        in_billing = [r[0] for r in conn.execute("SELECT No FROM customer WHERE Tax_Code = ?", (TAX_CODE,))]
    assert len(in_billing) == 1  # one customer in billing for both contracts
    assert align().status == "ok"

    # The agent sees both contracts, one customer with two supply points, the commission earned.
    staff_sign_in(page, live_server, agent_user, agent_pw)
    page.goto(f"{live_server}/sales/")
    contracts = page.locator("main table").first.inner_text()
    assert pdr in contracts and pod in contracts
    page.goto(f"{live_server}/sales/portfolio")
    customers = page.locator("#portfolio-customers tbody tr")
    assert customers.count() == 1 and "Riva" in customers.inner_text()
    assert in_billing[0] in customers.inner_text()
    points = page.locator("#portfolio-supply-points").inner_text()
    assert pdr in points and pod in points
    page.goto(f"{live_server}/sales/commissions")
    assert page.locator("#commission-total").inner_text().replace("\xa0", " ") == "90,00 €"
    page.goto(prospect_url)
    assert page.locator("#prospect-status").inner_text() == "Vinto"
    assert page.locator("#prospect-contract a").count() == 1
