"""Accessibility sweep of the customer portal: axe-core on every portal page the app's URL map
has, in Italian and English, empty, after a failed submission and filled in, with a seeded
customer; no page may scroll sideways at 320 px."""
from __future__ import annotations

import time

import pyotp
import pytest
from werkzeug.exceptions import HTTPException

from tests.e2e.browsing import fill, shot, sideways_overflow, sign_in, sign_out, submit, use_language
from tests.e2e.portal_seed import GOOD_IBAN, seed_portal

pytestmark = [pytest.mark.browser, pytest.mark.sweep]

# GET routes that are not pages of their own, with the reason.
NOT_PAGES = {
    "portal.index": "redirects to the login page or home, both swept",
    "portal.invoice_download": "a PDF download, not an HTML page",
    "portal.mandate_pdf": "a PDF download, not an HTML page",
    "portal.prepared_zip": "a ZIP download, not an HTML page",
    **{f"portal.export_{what}_{fmt}": "a CSV or JSON download, not an HTML page"
       for what in ("readings", "consumption") for fmt in ("csv", "json")},
}


def portal_get_endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("portal.") and "GET" in (rule.methods or ())}


class Sweep:
    """Checks each page state reached in the browser and remembers the routes it covered."""

    def __init__(self, app, page, axe, lang):
        self.adapter = app.url_map.bind("localhost")
        self.page, self.axe, self.lang = page, axe, lang
        self.covered: set[str] = set()
        self.violations: list = []
        self.overflows: list[str] = []
        self.states = 0

    def state(self, endpoint: str, name: str) -> None:
        page = self.page
        path = page.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        reached = None
        for method in ("GET", "POST"):  # a failed form may answer at its POST-only address
            try:
                reached = self.adapter.match("/" + path, method=method)[0]
                break
            except HTTPException:
                continue
        assert reached == endpoint, f"{name}: expected {endpoint}, the browser is on {page.url}"
        where = f"{endpoint} [{name}, {self.lang}]"
        self.violations += self.axe.check(page, f"{where} 1280 px")
        self._shot(where, 1280)
        page.set_viewport_size({"width": 320, "height": 640})
        extra = sideways_overflow(page)
        if extra > 0:
            self.overflows.append(f"{where}: scrolls sideways by {extra}px at 320 px")
        self.violations += self.axe.check(page, f"{where} 320 px")  # collapsed menu, cards
        self._shot(where, 320)
        page.set_viewport_size({"width": 1280, "height": 800})
        self.covered.add(endpoint)
        self.states += 2

    def _shot(self, where: str, width: int) -> None:
        shot(self.page, f"{where}-{width}")


def sweep_language(sw: Sweep, base: str, s, db) -> None:
    page, lang = sw.page, sw.lang
    go = lambda path: page.goto(base + path)  # noqa: E731

    # --- visitors --------------------------------------------------------------------------
    go("/portal/login")
    use_language(page, lang)
    sw.state("portal.login", "empty")
    fill(page, {"#username": "giulia", "#password": "una password"})
    sw.state("portal.login", "filled")
    submit(page, empty=True)
    sw.state("portal.login", "error")

    go("/portal/register")
    sw.state("portal.register", "empty")
    submit(page, empty=True)
    sw.state("portal.register", "error")
    go("/portal/register")
    fill(page, {"#web_code": "WC12345678", "#identifier": "RSSMRA80A01H501U", "#username": "giulia.b",
                "#password": "una passphrase lunga", "#password_confirm": "una passphrase lunga",
                "#question": "Nome del primo cane?", "#answer": "Fido", "#email": "giulia@example.com"})
    sw.state("portal.register", "filled")

    for endpoint, path, values in [
            ("portal.reset_request", "/portal/reset", {"#login": "giulia"}),
            ("portal.reset_with_web_code", "/portal/reset/web-code",
             {"#username": "giulia", "#web_code": "WC1", "#answer": "Fido",
              "#password": "una passphrase lunga", "#password_confirm": "una passphrase lunga"}),
            ("portal.reset_with_link", f"/portal/reset/{s.reset_token(db)}",
             {"#answer": "Fido", "#password": "una passphrase lunga",
              "#password_confirm": "una passphrase lunga"})]:
        go(path)
        sw.state(endpoint, "empty")
        fill(page, values)
        sw.state(endpoint, "filled")
        submit(page, empty=True)
        sw.state(endpoint, "error")
    go("/portal/reset/not-a-valid-link")
    sw.state("portal.reset_with_link", "expired link")

    go("/portal/privacy")
    sw.state("portal.privacy", "the full notice")

    go("/portal/information")
    sw.state("portal.information_request", "empty")
    submit(page, empty=True)
    sw.state("portal.information_request", "error")
    fill(page, {"#name": "Giulia Bianchi", "#question": "Posso pagare in due rate?", "#phone": "061234567"})
    sw.state("portal.information_request", "filled")

    go(f"/portal/invoices/{s.unpaid_invoice}?t={s.invoice_token}")
    sw.state("portal.invoice", "e-mailed link")

    # --- the customer with data --------------------------------------------------------------
    sign_in(page, base, s.username, s.password, lang)
    sw.state("portal.home", "filled")

    go(f"/portal/supply/{s.gas}/reading")
    sw.state("portal.reading", "empty")
    fill(page, {"#value": "1200", "#corrector_value": "1175"})
    sw.state("portal.reading", "filled")
    submit(page, empty=True)
    sw.state("portal.reading", "error")
    go(f"/portal/supply/{s.water}/reading")
    sw.state("portal.reading", "no meter")

    go(f"/portal/supply/{s.gas}/consumption")
    sw.state("portal.consumption", "filled")
    go(f"/portal/supply/{s.water}/consumption")
    sw.state("portal.consumption", "empty")

    go("/portal/invoices")
    sw.state("portal.invoices", "filled")
    go("/portal/invoices?sort=amount&dir=asc&status=UNPAID")
    sw.state("portal.invoices", "filtered")
    go("/portal/invoices?year=2001")
    sw.state("portal.invoices", "empty")
    go(f"/portal/invoices/{s.paid_invoice}")
    sw.state("portal.invoice", "filled")
    go(f"/portal/invoices/{s.unpaid_invoice}")
    sw.state("portal.invoice", "no payments")

    go(f"/portal/invoices/{s.unpaid_invoice}/correction")
    sw.state("portal.invoice_correction", "empty")
    submit(page, empty=True)
    sw.state("portal.invoice_correction", "error")
    fill(page, {"#reason": "L'importo non corrisponde ai consumi letti."})
    sw.state("portal.invoice_correction", "filled")

    # every personal field is optional (an emptied one is kept in billing): the error state is
    # made with values that fail their checks
    go("/portal/personal-data")
    sw.state("portal.personal_data", "filled")
    fill(page, {"#tax_code": "ABC", "#vat_number": "123", "#email": "non-una-email"})
    submit(page)
    sw.state("portal.personal_data", "error")
    go("/portal/personal-data")
    fill(page, {"#last_name": "", "#first_name": "", "#phone": "", "#email": ""})
    sw.state("portal.personal_data", "empty")

    go(f"/portal/supply/{s.gas}/mailing-address")
    sw.state("portal.mailing_address", "filled")
    submit(page, empty=True)
    sw.state("portal.mailing_address", "error")
    go(f"/portal/supply/{s.power}/mailing-address")
    fill(page, {"#name": "", "#address": "", "#post_code": "", "#city": "", "#province": ""})
    sw.state("portal.mailing_address", "empty")

    go(f"/portal/supply/{s.gas}/direct-debit")
    sw.state("portal.direct_debit_page", "with a mandate")
    go(f"/portal/supply/{s.power}/direct-debit")
    sw.state("portal.direct_debit_page", "empty")
    submit(page, empty=True)
    sw.state("portal.direct_debit_page", "error")
    fill(page, {"#iban": GOOD_IBAN, "#holder_last_name": "Bianchi", "#bank": "Banca Popolare"})
    page.check("#accept")
    sw.state("portal.direct_debit_page", "filled")

    # A supply point paid by direct debit set up in billing: ending it asks for confirmation.
    from app.models import PaymentMethod, SupplyPoint

    water = db.session.get(SupplyPoint, s.water)
    water.payment_method, water.mandate_reference, water.iban = PaymentMethod.SDD, "MND-W-0001", GOOD_IBAN
    db.session.commit()
    go(f"/portal/supply/{s.water}/direct-debit/revoke")
    sw.state("portal.direct_debit_revoke", "confirmation")

    go(f"/portal/supply/{s.power}/invoice-email")
    sw.state("portal.invoice_email", "empty")
    page.check("#enabled")  # delivery on with no valid address: an empty form here is valid
    fill(page, {"#addresses": "non-una-email"})
    submit(page)
    sw.state("portal.invoice_email", "error")
    go(f"/portal/supply/{s.gas}/invoice-email")
    sw.state("portal.invoice_email", "filled")

    go("/portal/requests")
    sw.state("portal.requests", "filled")
    go(f"/portal/requests/{s.request}")
    sw.state("portal.request_detail", "filled")

    go("/portal/account")
    sw.state("portal.account", "empty")
    for what in ("password", "username", "question"):
        submit(page, f"main form[action$='/account/{what}']", empty=True)
        sw.state("portal.account_change", f"error ({what})")
    go("/portal/account")
    fill(page, {"#pw-current_password": "vecchia", "#pw-password": "una passphrase nuova",
                "#pw-password_confirm": "una passphrase nuova"}, form="main")
    sw.state("portal.account", "filled")

    go("/portal/account/tokens")
    sw.state("portal.api_token_list", "empty")
    create = "main form[action$='/account/tokens']"
    submit(page, create, empty=True)
    sw.state("portal.api_token_list", "error")
    go("/portal/account/tokens")
    fill(page, {"#name": "Foglio di calcolo"}, form=create)
    submit(page, create)
    sw.state("portal.api_token_list", "token created")
    go("/portal/export")
    sw.state("portal.export", "filled")

    go("/portal/information")
    sw.state("portal.information_request", "signed in")
    sweep_two_factor(sw, base, s)
    sign_out(page)

    # --- the customer with nothing yet ---------------------------------------------------------
    sign_in(page, base, s.empty_username, s.password, lang)
    sw.state("portal.home", "empty")
    go("/portal/requests")
    sw.state("portal.requests", "empty")
    sign_out(page)


def _code(secret: str, offset: int) -> str:
    """The authenticator app's code `offset` steps from now (each code is accepted once)."""
    return pyotp.TOTP(secret).at(time.time(), counter_offset=offset)


def sweep_two_factor(sw: Sweep, base: str, s) -> None:
    """Two-factor sign-in (F-65) as a customer meets it: off, set up (wrong, then right code),
    on, the code step of the next sign-in, and turning it off again."""
    page = sw.page
    page.goto(base + "/portal/account/two-factor")
    sw.state("portal.two_factor_page", "off")
    page.goto(base + "/portal/account/two-factor/enrol")
    sw.state("portal.two_factor_enrol", "empty")
    submit(page, "main form.card", empty=True)
    sw.state("portal.two_factor_enrol", "error")
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    for _ in range(2):  # a time step may end between reading the clock and the check: once more
        fill(page, {"#current_password": s.password, "#code": _code(secret, -1)})
        submit(page, "main form.card")
        if page.locator("ul.recovery-codes li").count():
            break
    assert page.locator("ul.recovery-codes li").count() == 10
    sw.state("portal.two_factor_enrol", "recovery codes")
    page.goto(base + "/portal/account/two-factor")
    sw.state("portal.two_factor_page", "on")
    sign_out(page)

    page.goto(base + "/portal/login")
    page.fill("#username", s.username)
    page.fill("#password", s.password)
    with page.expect_navigation():
        page.press("#password", "Enter")
    sw.state("portal.login_code", "empty")
    submit(page, "main form.card", empty=True)
    sw.state("portal.login_code", "error")
    fill(page, {"#code": _code(secret, 0)})
    submit(page, "main form.card")
    assert "/portal/home" in page.url, page.url

    page.goto(base + "/portal/account/two-factor")
    off = "main form[action$='/account/two-factor/off']"
    fill(page, {"#off-current_password": s.password, "#off-code": _code(secret, 1)}, form="main")
    submit(page, off)
    assert page.locator("a[href$='/account/two-factor/enrol']").count() == 1, "still on"


def test_portal_pages_pass_axe_in_both_languages(app, db, live_server, chromium, axe):
    seeded = seed_portal(db, app)
    axe.suite = "portal"
    sweeps = []
    for lang in ("it", "en"):
        context = chromium.new_context(locale="it-IT", viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(15000)
        try:
            sw = Sweep(app, page, axe, lang)
            sweep_language(sw, live_server, seeded, db)
            sweeps.append(sw)
        finally:
            context.close()

    endpoints = portal_get_endpoints(app)
    for sw in sweeps:
        missing = endpoints - sw.covered - set(NOT_PAGES)
        assert not missing, (f"portal GET routes neither swept nor excluded with a reason "
                             f"({sw.lang}): {sorted(missing)}")
    stale = set(NOT_PAGES) - endpoints
    assert not stale, f"excluded routes that no longer exist: {sorted(stale)}"

    total = sum(sw.states for sw in sweeps)
    violations = [v for sw in sweeps for v in sw.violations]
    overflows = [o for sw in sweeps for o in sw.overflows]
    print(f"axe: {total} portal page states checked, {len(violations)} violations")
    from tests.axe import report

    assert not violations, report(violations)
    assert not overflows, "\n".join(overflows)
