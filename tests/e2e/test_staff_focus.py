"""F-40 with the keyboard: on the back office's own pages (a list, a record's page, an add form
fresh and after a failed send, the navigation bar and one of its menus) every control the Tab
key reaches shows a focus ring of at least 2 px with 3:1 contrast against its background."""
from __future__ import annotations

import pytest

from app.roles import ADMIN
from tests import factories
from tests.e2e.browsing import focus_problem

pytestmark = pytest.mark.browser

# More stops than any of these pages has: the walk ends when the focus comes back round.
MAX_STOPS = 150

_FOCUSED = """() => { const el = document.activeElement;
  if (!el || el === document.body) return null;
  return el.tagName + '#' + el.id + '|' + (el.getAttribute('href') || el.name || '') + '|' +
         (el.innerText || el.value || '').trim().slice(0, 30); }"""


def _login(page, base, user, password):
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("input[type=submit], button[type=submit]")


def _walk(page, where: str) -> tuple[int, list[str]]:
    """Tab from the top of the page through every control once; (stops, problems)."""
    seen: set[str] = set()
    problems: list[str] = []
    stops = 0
    for _ in range(MAX_STOPS):
        page.keyboard.press("Tab")
        key = page.evaluate(_FOCUSED)
        if key is None:  # past the last control: the browser's own UI
            break
        if key in seen:
            break
        seen.add(key)
        stops += 1
        problem = focus_problem(page)
        if problem:
            problems.append(f"{where}: {problem}")
    return stops, problems


def test_F40_focus_is_visible_on_back_office_pages(live_server, page, make_user, db):
    customer = factories.customer(last_name="Bianchi", first_name="Anna")
    factories.supply_point(customer)
    db.session.commit()
    user, password = make_user(ADMIN)
    page.set_viewport_size({"width": 1280, "height": 900})
    _login(page, live_server, user, password)

    problems: list[str] = []
    walked = {}
    for where in ("/customerview/list/", f"/customerview/show/{customer.id}", "/agentview/add"):
        page.goto(f"{live_server}{where}")
        walked[where], found = _walk(page, where)
        problems += found

    # The add form after a failed send: the fields in their error state.
    page.goto(f"{live_server}/agentview/add")
    form = page.locator("main form[method=post]").first
    form.evaluate("f => { f.noValidate = true; }")  # the server's messages, not the browser's
    with page.expect_navigation():
        form.locator("button[type=submit], input[type=submit]").first.click()
    assert page.locator("main form .alert-danger").count() > 0, "the empty form was accepted"
    walked["add, with errors"], found = _walk(page, "/agentview/add (errors)")
    problems += found

    # The navigation bar: a menu opened with the keyboard, its entries one by one.
    page.goto(f"{live_server}/")
    toggle = page.locator("nav .navbar-nav .dropdown-toggle").first
    toggle.focus()
    page.keyboard.press("Enter")
    entries = toggle.locator("xpath=..").locator(".dropdown-menu a")
    assert entries.count() > 0, "the menu did not open"
    for i in range(entries.count()):
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('.dropdown-menu')"), \
            "Tab left the open menu before its last entry"
        problem = focus_problem(page)
        if problem:
            problems.append(f"navbar menu: {problem}")
    walked["navbar menu"] = entries.count()

    assert all(n >= 5 for n in walked.values()), walked  # the walk reached the page's controls
    assert not problems, "focus not visible enough:\n" + "\n".join(problems)
