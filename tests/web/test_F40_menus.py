"""F-40: every screen a role may use is reachable from its menu, and every menu entry opens.

The screens a role may use come from the role defaults in code (`app.security.role_matrix`,
the areas' ROLE_GRANTS): a view whose default page (the one a menu entry opens) is guarded by a
permission the role holds. The menu is read from the rendered page, as the user sees it.
"""
import re

import pytest
from flask import url_for

from app.roles import ADMIN, AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER
from app.security import role_matrix
from tests.sales.helpers import agent_for

ROLES = [ADMIN, MANAGER, BACK_OFFICE, CREDIT_CHECK, CALL_CENTER, AGENT]
# Pages of one record's parts, opened from that record's page rather than from a menu.
SUB_PAGES = {"InvoiceLineView", "ResetPasswordView"}  # a user's password: from the user's page
# Pages of one's own account, opened from the profile in the user's own menu.
OWN_PAGES = {"ResetMyPasswordView"}


def _default_permission(view) -> str:
    """The permission FAB checks on the view's default page (read off the method itself)."""
    method = getattr(view, view.default_view)
    name = (view.method_permission_name or {}).get(view.default_view) or method._permission_name
    return name if name.startswith("can_") else f"can_{name}"


def _takes_no_arguments(app, view) -> bool:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == f"{view.endpoint}.{view.default_view}")
    return not rule.arguments


def screens_of(app, role: str) -> dict[str, str]:
    """{url: view name} of our screens the role may open, from the role defaults in code."""
    grants = role_matrix().get(role)
    screens = {}
    for view in app.appbuilder.baseviews:
        name = view.class_permission_name
        if not view.__class__.__module__.startswith("app.") or name in SUB_PAGES or name in OWN_PAGES:
            continue
        if not getattr(view, "default_view", None) or not _takes_no_arguments(app, view):
            continue
        if not hasattr(getattr(view, view.default_view), "_permission_name"):
            continue  # open to everyone logged in (the start page): the brand link
        if role == ADMIN or _default_permission(view) in grants.get(name, ()):
            screens[url_for(f"{view.endpoint}.{view.default_view}")] = name
    # Links the areas give a role a menu entry for (the sales pages).
    for category in app.appbuilder.menu.get_list():
        for child in category.childs or []:
            if child.name != "-" and child.baseview is None and (role == ADMIN or "menu_access" in grants.get(child.name, ())):
                screens[child.href] = child.name
    return screens


def menu_links(html: str) -> set[str]:
    """The hrefs of the rendered main menu (the navigation bar, without the user's own menu)."""
    nav = html.split('<nav class="navbar', 1)[1].split("navbar-right", 1)[0]
    return {href.split("?")[0] for href in re.findall(r'href="(/[^"#]*)"', nav)}


@pytest.mark.parametrize("role", ROLES)
def test_F40_every_screen_of_the_role_is_in_its_menu(role, app, client, login_as, db):
    user = login_as(role)
    if role == AGENT:
        agent_for(user)  # an agent's login is linked to their sales-network record
    page = client.get("/")
    assert page.status_code == 200
    menu = menu_links(page.get_data(as_text=True))
    with app.test_request_context():
        screens = screens_of(app, role)
    assert screens, role
    missing = {url: name for url, name in screens.items() if url not in menu}
    assert not missing, f"{role}: screens without a menu entry: {missing}"
    # ... and every entry the menu offers opens for the role.
    for url in sorted(menu):
        resp = client.get(url)
        assert resp.status_code in (200, 302), (role, url, resp.status_code)
        if resp.status_code == 302:  # e.g. the call center's search lands on its page
            assert "/login/" not in resp.headers["Location"], (role, url)


@pytest.mark.parametrize("role,url", [(CALL_CENTER, "/callcenter/"), (BACK_OFFICE, "/callcenter/"),
                                      (MANAGER, "/callcenter/"), (MANAGER, "/statistics/"),
                                      (AGENT, "/sales/"), (BACK_OFFICE, "/failedoutboxview/list/"),
                                      (CREDIT_CHECK, "/creditcheckqueueview/list/")])
def test_F40_main_screens_have_a_menu_entry(role, url, client, login_as, db):
    login_as(role)
    assert url in menu_links(client.get("/").get_data(as_text=True))


def test_F40_screens_a_role_may_not_use_stay_out_of_its_menu(client, login_as, db):
    login_as(CALL_CENTER)
    menu = menu_links(client.get("/").get_data(as_text=True))
    assert "/statistics/" not in menu and "/contractview/list/" not in menu
    assert client.get("/statistics/").status_code == 403
