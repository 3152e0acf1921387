"""Two-factor sign-in in a browser (F-65): a Manager who must enrol lands on the enrolment page
right after the password, on a 390 px phone, reads the key as text, confirms with a code and
signs in; the pages pass axe-core and nothing scrolls sideways."""
from __future__ import annotations

import pyotp
import pytest

from app.roles import MANAGER
from tests.e2e.browsing import sideways_overflow, staff_sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def test_F65_phone_enrolment_then_code_sign_in(app, db, live_server, chromium, make_user, axe):
    from app.services.core import settings

    settings.update({"totp_required_roles": "Admin, Manager"}, None)
    user, password = make_user(MANAGER)
    context = chromium.new_context(locale="it-IT", viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        staff_sign_in(page, live_server, user, password)
        assert page.url.endswith("/two-factor/enrol/")
        assert page.locator(".qr svg").count() == 1
        assert sideways_overflow(page) == 0, "the enrolment page scrolls sideways at 390 px"
        axe.assert_clean(page, "enrolment 390 px")
        code_input = page.locator("input[name=code]")
        assert code_input.get_attribute("autocomplete") == "one-time-code"
        assert code_input.get_attribute("inputmode") == "numeric"
        assert page.get_by_label("Il codice di 6 cifre mostrato dall'app").count() == 1
        secret = page.locator("code.secret").inner_text().replace(" ", "")
        for _ in range(2):  # a time step may end between reading the clock and the check: once more
            page.locator("input[name=code]").fill(pyotp.TOTP(secret).at(__import__("time").time(), counter_offset=-1))
            page.click("form button[type=submit]")
            page.wait_for_load_state()
            if page.locator("ul.recovery-codes li").count():
                break
        assert page.locator("ul.recovery-codes li").count() == 10
        assert sideways_overflow(page) == 0
        page.click("text=Li ho conservati: continua")
        page.wait_for_load_state()
        assert "/login/" not in page.url
        # Next time: the password, then the code step.
        staff_sign_in(page, live_server, user, password)
        assert page.url.endswith("/login/code/")
        axe.assert_clean(page, "code step 390 px")
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("form button[type=submit]")
        page.wait_for_load_state()
        assert "/login/" not in page.url and page.locator("text=Accesso in due passaggi").count() >= 1
    finally:
        context.close()
