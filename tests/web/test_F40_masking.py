"""F-40: IBAN and tax code masked by role.

On every list and search result (back office and /sales/) both are masked for every role, the
last four characters shown; the full value appears only on a detail page, for the roles holding
the bank-data / tax-code permission. Searching by a full tax code still finds the customer.
"""
from __future__ import annotations

import importlib
import inspect

import lxml.html
import pytest
from flask_appbuilder import ModelView

from app.roles import ADMIN, AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER
from app.views import AREAS
from tests.web.readable_seed import IBAN, TAX_CODE, seed_every_view

ROLES = (ADMIN, MANAGER, BACK_OFFICE, CREDIT_CHECK, CALL_CENTER, AGENT)
# Who sees what in clear on a detail page (written out from the role table, not from the code).
TAX_CODE_CLEAR = {ADMIN, BACK_OFFICE, CREDIT_CHECK, CALL_CENTER, AGENT}
IBAN_CLEAR = {ADMIN, BACK_OFFICE, CREDIT_CHECK, AGENT}
MASKED_TAX_CODE = "•••• •••• " + TAX_CODE[-4:]
MASKED_IBAN = "•••• •••• " + IBAN[-4:]


def _list_views() -> list[str]:
    """Every back-office list, from the registered areas (views added later are covered)."""
    names = set()
    for module in AREAS:
        for name, obj in inspect.getmembers(importlib.import_module(module), inspect.isclass):
            if (issubclass(obj, ModelView) and obj.__module__ == module and not name.startswith("_")
                    and getattr(obj, "datamodel", None)):
                names.add(name.lower())
    return sorted(names)


LISTS = [f"/{name}/list/" for name in _list_views()] + [
    f"/callcenter/?q={TAX_CODE}&go=0", "/callcenter/?q=Rossi&go=0", "/sales/", "/sales/portfolio",
    f"/sales/portfolio?q={TAX_CODE}", f"/sales/?q={TAX_CODE}"]


@pytest.fixture
def seeded(app, db, make_user, client):
    def _seed(role):
        from tests.conftest import staff_login

        user, password = make_user(role)
        seeds = seed_every_view(user, user)
        staff_login(client, user.username, password)
        return seeds
    return _seed


def visible_text(html: str) -> str:
    """What the page shows (not the search box's own value, not scripts)."""
    doc = lxml.html.fromstring(html)
    for el in doc.xpath("//script|//style"):
        el.drop_tree()
    return doc.text_content()


@pytest.mark.parametrize("role", ROLES)
def test_F40_every_list_masks_iban_and_tax_code(role, seeded, client):
    """Each list and search result the role may open (role x list view)."""
    seeded(role)
    opened, clear = [], []
    for url in LISTS:
        resp = client.get(url)
        if resp.status_code in (302, 403, 404):
            continue  # the role matrix tests who opens what
        assert resp.status_code == 200, (role, url, resp.status_code)
        opened.append(url)
        text = visible_text(resp.get_data(as_text=True))
        if TAX_CODE in text or IBAN in text:
            clear.append(url)
    assert not clear, f"{role} sees a full IBAN or tax code on {clear}"
    assert opened, role


@pytest.mark.parametrize("role", ROLES)
def test_F40_customer_list_shows_the_masked_tax_code_and_finds_the_full_one(role, seeded, client):
    seeds = seeded(role)
    resp = client.get(f"/customerview/list/?_flt_0_tax_code={TAX_CODE}")
    if resp.status_code == 403:
        assert role == AGENT
        return
    page = visible_text(resp.get_data(as_text=True))
    assert seeds["customer"].code in page and MASKED_TAX_CODE in page and TAX_CODE not in page


@pytest.mark.parametrize("role", ROLES)
def test_F25_F40_call_center_finds_a_full_tax_code_and_shows_it_masked(role, seeded, client):
    seeds = seeded(role)
    resp = client.get(f"/callcenter/?q={TAX_CODE}&go=0")
    if resp.status_code == 403:
        assert role in (CREDIT_CHECK, AGENT)
        return
    page = visible_text(resp.get_data(as_text=True))
    assert seeds["customer"].code in page and MASKED_TAX_CODE in page and TAX_CODE not in page
    # one match: straight to the customer's page
    assert client.get(f"/callcenter/?q={TAX_CODE}").headers["Location"].endswith(
        f"/callcenter/customer/{seeds['customer'].id}")


@pytest.mark.parametrize("role", ROLES)
def test_F40_detail_pages_show_full_values_only_to_holders_of_the_permission(role, seeded, client):
    seeds = seeded(role)
    pages = {"tax": f"/customerview/show/{seeds['customer'].id}",
             "iban": f"/supplypointview/show/{seeds['supply_point'].id}",
             "request": f"/activityview/show/{seeds['activity'].id}"}
    for what, url in pages.items():
        resp = client.get(url)
        if resp.status_code == 403:
            continue
        page = resp.get_data(as_text=True)
        if what in ("tax", "request"):
            assert (TAX_CODE in page) is (role in TAX_CODE_CLEAR), (role, url)
            assert TAX_CODE in page or MASKED_TAX_CODE in page, (role, url)
        if what in ("iban", "request"):
            assert (IBAN in page) is (role in IBAN_CLEAR), (role, url)
            assert IBAN in page or MASKED_IBAN in page, (role, url)
    # The contract's page on /sales/ (an agent's own contract, or any for the back office).
    contract = next(iter(seeds["contracts"].values()))
    resp = client.get(f"/sales/contracts/{contract.id}")
    if resp.status_code == 200:
        page = resp.get_data(as_text=True)
        assert (TAX_CODE in page) is (role in TAX_CODE_CLEAR), role
        assert (IBAN in page) is (role in IBAN_CLEAR), role
        assert MASKED_IBAN in page or IBAN in page
