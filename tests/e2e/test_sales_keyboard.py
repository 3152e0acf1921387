"""F-11 with the keyboard only (Tab, Shift+Tab, Enter, Space, arrow keys, typing): an agent
enters a whole contract. The first try of the customer step fails: the focus lands on the error
summary, whose links move it to each field; radio groups and selects answer the arrow keys; the
mailing address appears and hides with Space."""
from __future__ import annotations

import re

import pytest

from app.roles import AGENT
from tests.e2e.test_portal_keyboard import Keyboard
from tests.sales.helpers import agent_for

pytestmark = pytest.mark.browser


def _login(page, base, user, password):
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("input[type=submit], button[type=submit]")


def test_F11_keyboard_only_contract_entry(live_server, page, make_user, db):
    from app.services.catalog.offers import seed_demo

    seed_demo()
    user, password = make_user(AGENT)
    agent_for(user)
    page.set_viewport_size({"width": 1280, "height": 900})
    _login(page, live_server, user, password)
    page.goto(f"{live_server}/sales/")
    kb = Keyboard(page)
    kb.tab_to("#new-contract")
    kb.press("Enter", navigates=True)
    assert page.url.endswith("/sales/contracts/new")
    assert page.get_attribute("nav .steps a[aria-current=step]", "href").endswith("/sales/contracts/new")

    # Customer: the kind radio group answers the arrows; a first try with only the last name fails.
    kb.tab_to("#customer-form input[name=kind]:checked")
    kb.press("ArrowRight")
    assert page.is_checked("#kind-1")
    kb.press("ArrowLeft")
    assert page.is_checked("#kind-0")
    kb.tab_to("#last_name")
    kb.type("Conti")
    kb.tab_to("#customer-form button[value=next]")
    kb.press("Enter", navigates=True)
    assert page.title().startswith("Errore")
    kb.assert_summary_focused()
    assert page.get_attribute("#tax_code", "aria-invalid") == "true"
    kb.fix_through_summary({"first_name": "Rita", "tax_code": "BNCLRA85M41F205C", "address": "Via Po 5",
                            "post_code": "10123", "city": "Torino", "province": "TO"})
    kb.tab_to("#customer-form button[value=next]")
    kb.press("Enter", navigates=True)
    assert page.url.endswith("/supply")

    # Supply point: gas; the address comes from the customer; the withdrawal class by arrow key.
    assert page.input_value("#address") == "Via Po 5"
    kb.tab_to("#pdr")
    kb.type("0088 1234 5678 90")
    kb.tab_to("#withdrawal_class")
    kb.press("ArrowDown")
    assert page.input_value("#withdrawal_class") == "2"
    kb.tab_to("#annual_consumption")
    kb.type("1400")
    kb.tab_to("#supply-form button[value=next]")
    kb.press("Enter", navigates=True)
    assert page.url.endswith("/payment"), page.locator("[data-error-summary]").all_inner_texts()

    # Payment: SEPA direct debit from a German account.
    kb.tab_to("#iban")
    kb.type("DE89 3704 0044 0532 0130 00")
    kb.tab_to("#holder")
    kb.type("Rita Conti")
    kb.tab_to("#payment-form button[value=next]")
    kb.press("Enter", navigates=True)
    assert page.url.endswith("/mailing")

    # Mailing: Space shows the other address, Space again hides it (bills to the supply address).
    kb.tab_to("#same_as_supply")
    kb.press("Space")
    assert page.is_visible("#name")
    kb.press("Space")
    assert not page.is_visible("#name") and page.is_checked("#same_as_supply")
    kb.tab_to("#mailing-form button[value=next]")
    kb.press("Enter", navigates=True)
    assert page.url.endswith("/summary")

    # Summary: confirm.
    assert "00881234567890" in page.content() and "Via Po 5" in page.content()
    kb.tab_to("#finish")
    kb.press("Enter", navigates=True)
    assert re.search(r"/sales/contracts/\d+$", page.url)
    assert page.locator("#contract-status").inner_text() == "In lavorazione"
    kb.assert_focus_always_visible()
