"""Masking: IBAN and tax code show masked (the last four characters) on every list; in clear only
on a detail page, to a role holding the bank-data or tax-code permission."""
from __future__ import annotations

import lxml.html
import pytest

from app.roles import BACK_OFFICE, MANAGER
from tests.conftest import staff_login
from tests.security.test_access_control import _lists
from tests.web.readable_seed import IBAN, TAX_CODE, seed_every_view

MASKED_TAX_CODE, MASKED_IBAN = "•••• •••• " + TAX_CODE[-4:], "•••• •••• " + IBAN[-4:]


def _text(html: str) -> str:
    doc = lxml.html.fromstring(html)
    for el in doc.xpath("//script|//style"):
        el.drop_tree()
    return doc.text_content()


@pytest.mark.parametrize("role,clear", [(BACK_OFFICE, True), (MANAGER, False)])
def test_masking_iban_and_tax_code(client, db, make_user, role, clear):
    user, password = make_user(role)
    seeds = seed_every_view(user, user)
    staff_login(client, user.username, password)
    shown = {}
    for url in _lists():
        resp = client.get(url)
        if resp.status_code == 200:
            text = _text(resp.get_data(as_text=True))
            shown[url] = (TAX_CODE in text or IBAN in text, MASKED_TAX_CODE in text or MASKED_IBAN in text)
    assert "/customerview/list/" in shown and shown["/customerview/list/"][1]  # the list shows it masked
    assert [url for url, (full, _masked) in shown.items() if full] == []  # no list shows it in clear
    customer = _text(client.get(f"/customerview/show/{seeds['customer'].id}").get_data(as_text=True))
    supply = _text(client.get(f"/supplypointview/show/{seeds['supply_point'].id}").get_data(as_text=True))
    assert (TAX_CODE in customer, IBAN in supply) == (clear, clear)
    assert MASKED_TAX_CODE in customer or TAX_CODE in customer
    assert MASKED_IBAN in supply or IBAN in supply
