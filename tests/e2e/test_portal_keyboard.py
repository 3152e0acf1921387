"""Keyboard only (Tab, Shift+Tab, Enter, Space, typing): registration (F-01), a self-reading
(F-02) and a direct debit request (F-06). A failed form puts the focus on its error summary,
whose links move the focus to each field; every control the focus reaches shows a ring of at
least 2 px with 3:1 contrast against its background."""
from __future__ import annotations

import datetime as dt

import pytest

from tests import factories as f
from tests.e2e.browsing import focus_problem
from tests.portal.conftest import PASSWORD, make_account

pytestmark = pytest.mark.browser

NEW_PASSWORD = "una passphrase lunga e sicura"


class Keyboard:
    """Moves the focus with the keyboard only and checks each control it lands on."""

    def __init__(self, page):
        self.page = page
        self.problems: list[str] = []

    def active(self, selector: str) -> bool:
        return self.page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector)

    def tab_to(self, selector: str, back: bool = False, limit: int = 60) -> None:
        for _ in range(limit):
            self.page.keyboard.press("Shift+Tab" if back else "Tab")
            problem = focus_problem(self.page)
            if problem:
                self.problems.append(f"{self.page.url}: {problem}")
            if self.active(selector):
                return
        raise AssertionError(f"{selector} never got the focus with {'Shift+' if back else ''}Tab")

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def press(self, key: str, navigates: bool = False) -> None:
        if navigates:
            with self.page.expect_navigation():
                self.page.keyboard.press(key)
        else:
            self.page.keyboard.press(key)

    def summary_links(self) -> list[str]:
        return self.page.eval_on_selector_all("[data-error-summary] a", "as => as.map(a => a.getAttribute('href'))")

    def assert_summary_focused(self) -> None:
        assert self.active("[data-error-summary]"), "the error summary does not have the focus"
        problem = focus_problem(self.page)
        assert problem is None, problem

    def fix_through_summary(self, values: dict[str, str]) -> None:
        """Follow each summary link with Enter, check the focus moved to its field, type the
        field's value, then go back up to the next link with Shift+Tab."""
        links = self.summary_links()
        assert links, "no links in the error summary"
        self.tab_to(f"[data-error-summary] a[href='{links[0]}']")
        for i, href in enumerate(links):
            self.press("Enter")
            fid = href[1:]
            assert self.page.evaluate("() => document.activeElement.id") == fid, \
                f"the summary link {href} did not move the focus to its field"
            if fid in values:
                self.type(values[fid])
            if i + 1 < len(links):
                self.tab_to(f"[data-error-summary] a[href='{links[i + 1]}']", back=True)

    def assert_focus_always_visible(self) -> None:
        assert not self.problems, "focus not visible enough:\n" + "\n".join(self.problems)


def _sign_in(kb: Keyboard, base: str, username: str) -> None:
    kb.page.goto(f"{base}/portal/login")
    kb.tab_to("#username")
    kb.type(username)
    kb.tab_to("#password")
    kb.type(PASSWORD)
    kb.press("Enter", navigates=True)
    assert kb.page.url.endswith("/portal/home")


def test_F01_registration_with_the_keyboard_only(live_server, page, db):
    c = f.customer()
    inv = f.invoice(c, web_code="WKEYB0ARD1")
    db.session.commit()
    kb = Keyboard(page)
    page.goto(f"{live_server}/portal/register")
    kb.tab_to("button[type=submit].primary")  # through the header and every field, typing nothing
    kb.press("Enter", navigates=True)

    kb.assert_summary_focused()
    assert page.title().startswith("Errore:")
    assert kb.summary_links() == ["#web_code", "#identifier", "#username", "#password",
                                  "#password_confirm", "#question", "#answer"]
    kb.fix_through_summary({"web_code": inv.web_code, "identifier": c.tax_code, "username": "tastiera",
                            "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD,
                            "question": "Nome del primo gatto?", "answer": "Micio"})
    kb.tab_to("button[type=submit].primary")
    kb.press("Enter", navigates=True)
    assert page.url.endswith("/portal/login")
    assert "Il tuo accesso è pronto" in page.inner_text("main")
    kb.assert_focus_always_visible()


@pytest.fixture
def reading_customer(db, app):
    c = f.customer()
    sp = f.supply_point(c, annual_consumption=1200)
    m = f.meter(sp, digits=5)
    f.reading(sp, m, reading_date=dt.date.today() - dt.timedelta(days=60), value=1100, consumption=None)
    f.reading(sp, m, reading_date=dt.date.today() - dt.timedelta(days=30), value=1200, consumption=100)
    db.session.commit()
    user = make_account(db, app, c)
    return dict(customer=c, supply_point=sp, meter=m, user=user)


def test_F02_self_reading_with_the_keyboard_only(live_server, page, reading_customer):
    sp = reading_customer["supply_point"]
    kb = Keyboard(page)
    _sign_in(kb, live_server, reading_customer["user"].username)
    kb.tab_to(f"a[href$='/supply/{sp.id}/reading']")
    kb.press("Enter", navigates=True)
    assert page.url.endswith(f"/supply/{sp.id}/reading")

    kb.tab_to("button[type=submit].primary")  # the date is today's, the reading is missing
    kb.press("Enter", navigates=True)
    kb.assert_summary_focused()
    assert kb.summary_links() == ["#value"]
    kb.fix_through_summary({"value": "1234"})
    kb.tab_to("button[type=submit].primary")
    kb.press("Enter", navigates=True)
    assert page.url.endswith(f"/supply/{sp.id}/consumption")
    assert "Lettura ricevuta" in page.inner_text("main")
    assert "1.234\xa0m³" in page.locator("table.data tbody tr").first.inner_text()
    kb.assert_focus_always_visible()


def test_F06_direct_debit_request_with_the_keyboard_only(live_server, page, reading_customer):
    sp = reading_customer["supply_point"]
    kb = Keyboard(page)
    _sign_in(kb, live_server, reading_customer["user"].username)
    kb.tab_to(f"a[href$='/supply/{sp.id}/direct-debit']")
    kb.press("Enter", navigates=True)

    kb.tab_to("#iban")
    kb.type("DE89 3704 0044 0532 0130 00")
    kb.tab_to("main form.card button[type=submit]")  # the authorisation is not ticked
    kb.press("Enter", navigates=True)
    kb.assert_summary_focused()
    assert kb.summary_links() == ["#accept"]
    kb.fix_through_summary({})
    kb.press("Space")
    assert page.is_checked("#accept")
    kb.tab_to("#current_password")
    kb.type(PASSWORD)
    kb.tab_to("main form.card button[type=submit]")
    kb.press("Enter", navigates=True)
    assert "Riferimento del mandato" in page.inner_text("main")
    kb.assert_focus_always_visible()
