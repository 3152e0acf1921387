"""Accessibility sweep of the staff pages (back office and /sales/): axe-core on the union of
the pages reachable from every role's menu, each page and language once, opened by a role whose
menu has it; every list's add form sent empty and every record's edit form sent with a required
field blanked (their error states); every contract wizard step
empty, with errors and filled. No page may scroll sideways at 320 px."""
from __future__ import annotations

import pytest
from werkzeug.exceptions import HTTPException

from app.roles import ADMIN, AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER
from tests.axe import report
from tests.e2e.browsing import shot, sideways_overflow, staff_sign_out

pytestmark = [pytest.mark.browser, pytest.mark.sweep]

ROLES = (ADMIN, MANAGER, BACK_OFFICE, CREDIT_CHECK, CALL_CENTER, AGENT)
# Menu links that are not pages to check, with the reason.
NOT_PAGES = ("/logout", "/lang/", "/portal/")  # sign-out, language switch, the customer portal (swept on its own)

MENU_LINKS_JS = """() => Array.from(document.querySelectorAll('nav.navbar a[href]'))
  .map(a => a.getAttribute('href')).filter(h => h && h !== '#' && !h.startsWith('javascript'))"""


def _seed(db, make_user):
    """At least one row for the lists a role opens from its menu."""
    from app.models import ActivityKind, ContactKind
    from app.services.crm.activities import create_activity
    from app.services.crm.contacts import create_contact
    from tests import factories
    from tests.sales.helpers import agent_for, entered_contract

    graph = factories.billing_graph()
    operator, _ = make_user(BACK_OFFICE)
    create_activity(ActivityKind.COMPLAINT, customer_id=graph["customer"].id, subject="Bolletta troppo alta")
    create_contact(ContactKind.PHONE_CALL, operator, customer_id=graph["customer"].id, subject="Chiamata")
    seller, _ = make_user(AGENT)
    agent_for(seller)
    from app.services.catalog.offers import seed_demo

    seed_demo()
    entered_contract(seller)
    from tests.web.readable_seed import seed_prospect

    seed_prospect(seller)  # a row for the managers' prospect pipeline
    db.session.commit()
    return graph


class StaffSweep:
    def __init__(self, app, page, axe, base):
        self.adapter = app.url_map.bind("localhost")
        self.page, self.axe, self.base = page, axe, base
        self.covered: set[tuple[str, str]] = set()
        self.violations: list = []
        self.overflows: list[str] = []
        self.edit_errors = 0  # edit forms checked in their error state

    def endpoint(self) -> str:
        path = "/" + self.page.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        for method in ("GET", "POST"):
            try:
                return self.adapter.match(path, method=method)[0]
            except HTTPException:
                continue
        return path

    def check(self, lang: str, name: str, key: str | None = None) -> bool:
        """axe at 1280 px on the page shown now, once per key and language; at 320 px the
        sideways-scroll check in both languages and axe in Italian (the narrow layout is the
        same in both, and the longer Italian labels are the ones that wrap)."""
        key = key or self.endpoint()
        if (key, lang) in self.covered:
            return False
        self.covered.add((key, lang))
        page = self.page
        where = f"{key} [{name}, {lang}]"
        self.violations += self.axe.check(page, f"{where} 1280 px")
        shot(page, f"staff-{where}-1280")
        page.set_viewport_size({"width": 320, "height": 640})
        extra = sideways_overflow(page)
        if extra > 0:
            self.overflows.append(f"{where}: scrolls sideways by {extra}px at 320 px")
        if lang == "it":
            self.violations += self.axe.check(page, f"{where} 320 px")
        page.set_viewport_size({"width": 1280, "height": 800})
        return True

    def goto(self, path: str) -> int:
        response = self.page.goto(self.base + path)
        return response.status if response else 0


def _login(page, base, username, password):
    from app.extensions import limiter

    limiter.reset()  # twelve sign-ins from one address in a minute are the sweep, not an attack
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("input[type=submit], button[type=submit]")
    assert "/login" not in page.url, f"{username} could not sign in"


def _send_empty(page) -> None:
    """Empty the page's main form's text fields and send it."""
    form = page.locator("main form[method=post], main form[method=POST]").first
    fields = form.locator("input[type=text], input:not([type]), input[type=email], input[type=number], textarea")
    for i in range(fields.count()):
        if fields.nth(i).is_visible() and fields.nth(i).is_editable():
            fields.nth(i).fill("")
    form.evaluate("f => { f.noValidate = true; }")  # the server's messages, not the browser's
    with page.expect_navigation():
        form.locator("button[type=submit], input[type=submit]").first.click()


def _sweep_edit(sw: StaffSweep, role: str, lang: str) -> None:
    """The record's edit form with a required field blanked and sent: its error state, once
    per edit form and language."""
    page = sw.page
    edit = page.locator("main a[href*='/edit/']").first
    if not edit.count():
        return
    href = edit.get_attribute("href")
    key = href.split("?")[0].rsplit("/edit/", 1)[0] + "/edit:error"
    if (key, lang) in sw.covered or sw.goto(href) != 200:
        return
    form = page.locator("main form[method=post], main form[method=POST]").first
    required = form.locator("input[required]:not([type=hidden]):not([type=checkbox]):not([type=radio]), "
                            "textarea[required]")
    blanked = False
    for i in range(required.count()):
        if required.nth(i).is_visible() and required.nth(i).is_editable():
            required.nth(i).fill("")
            blanked = True
            break
    if not blanked:
        return
    form.evaluate("f => { f.noValidate = true; }")  # the server's messages, not the browser's
    with page.expect_navigation():
        form.locator("button[type=submit], input[type=submit]").first.click()
    sw.edit_errors += 1
    sw.check(lang, f"edit form sent with a required field empty, {role}", key=key)


def _sweep_role(sw: StaffSweep, role: str, username: str, password: str, lang: str) -> None:
    page = sw.page
    _login(page, sw.base, username, password)
    sw.goto(f"/lang/{lang}")
    sw.goto("/")
    sw.check(lang, f"start page of {role}", key=f"start:{role}")
    links = [h for h in page.evaluate(MENU_LINKS_JS) if not any(h.startswith(p) for p in NOT_PAGES)]
    assert links, f"{role} has an empty menu"
    for href in dict.fromkeys(links):
        status = sw.goto(href)
        assert status == 200, f"{role}: menu link {href} answers {status}"
        if not sw.check(lang, f"menu of {role}"):
            continue
        # a list's first record and its add form, sent empty
        show = page.locator("main a[href*='/show/']").first
        if show.count():
            target = show.get_attribute("href")
            if sw.goto(target) == 200:
                sw.check(lang, f"a record, {role}")
                _sweep_edit(sw, role, lang)
            sw.goto(href)
        add = page.locator("main a[href$='/add'], main a[href*='/add?']").first
        if add.count():
            if sw.goto(add.get_attribute("href")) == 200:
                sw.check(lang, f"add form, {role}")
                _send_empty(page)
                sw.check(lang, f"add form sent empty, {role}", key=sw.endpoint() + ":error")
    if role == AGENT:
        _sweep_wizard(sw, lang)
        _sweep_prospects(sw, lang)
    if sw.goto("/logout/") == 200:
        sw.check(lang, f"sign-out confirmation, {role}")
    staff_sign_out(page, sw.base)


def _sweep_wizard(sw: StaffSweep, lang: str) -> None:
    """Every step of a new contract: empty, sent empty (errors), and of a filled-in contract.
    The customer step of a new contract has no draft yet (/sales/contracts/new)."""
    page = sw.page
    for step in ("customer", "supply", "payment", "mailing"):
        url = "/sales/contracts/new" if step == "customer" else f"/sales/contracts/{sw.empty_draft}/{step}"
        sw.goto(url)
        sw.check(lang, f"wizard {step} empty", key=f"wizard:{step}:empty")
        form = page.locator(f"#{step}-form")
        with page.expect_navigation():
            form.locator("button[type=submit]").first.click()
        sw.check(lang, f"wizard {step} with errors", key=f"wizard:{step}:errors")
    for step in ("customer", "supply", "payment", "mailing", "summary"):
        sw.goto(f"/sales/contracts/{sw.filled_contract}/{step}")
        sw.check(lang, f"wizard {step} filled", key=f"wizard:{step}:filled")


def _sweep_prospects(sw: StaffSweep, lang: str) -> None:
    """The agent's prospects (F-17): the list from the navigation, the entry form empty, with
    errors and saved, and the prospect's page."""
    page = sw.page
    sw.goto("/sales/")
    with page.expect_navigation():
        page.locator("main a[href='/sales/prospects/']").first.click()
    sw.check(lang, "prospects", key="prospects:list")
    sw.goto("/sales/prospects/new")
    sw.check(lang, "prospect form empty", key="prospects:new:empty")
    with page.expect_navigation():
        page.locator("#prospect-form button[type=submit]").click()
    sw.check(lang, "prospect form with errors", key="prospects:new:errors")
    page.fill("#last_name", "Neri")
    page.fill("#phone", "333 1112223")
    page.check("#interest_gas")
    with page.expect_navigation():
        page.locator("#prospect-form button[type=submit]").click()
    sw.check(lang, "prospect page", key="prospects:detail")


def test_F40_staff_pages_pass_axe_in_both_languages(app, live_server, page, make_user, db, axe):
    axe.suite = "staff"
    _seed(db, make_user)
    accounts = {role: make_user(role) for role in ROLES}
    from tests.sales.helpers import agent_for

    agent_for(accounts[AGENT][0])
    from tests.sales.helpers import entered_contract

    sw = StaffSweep(app, page, axe, live_server)
    sw.filled_contract = entered_contract(accounts[AGENT][0], submit=False).id
    from app.services.sales.wizard import new_draft

    sw.empty_draft = new_draft(accounts[AGENT][0]).id
    page.set_viewport_size({"width": 1280, "height": 800})
    for lang in ("it", "en"):
        for role in ROLES:
            user, password = accounts[role]
            _sweep_role(sw, role, user.username, password, lang)
    pages = len({key for key, _ in sw.covered})
    print(f"\nstaff axe sweep: {pages} pages, {len(sw.covered)} page states in 2 languages, "
          f"{sw.edit_errors} edit forms in their error state")
    assert pages >= 30, f"only {pages} staff pages reached from the menus"
    assert sw.edit_errors >= 2, "no record's edit form was checked in its error state"
    problems = [str(v) for v in sw.violations] + sw.overflows
    assert not problems, report(sw.violations) + "\n" + "\n".join(sw.overflows)
