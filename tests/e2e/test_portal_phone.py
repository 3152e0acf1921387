"""The portal on a 390 px phone: the menu folds behind a button, invoices (F-07) and readings
(F-10) are cards that keep every column with its label, and nothing scrolls sideways."""
from __future__ import annotations

import pytest

from tests.e2e.browsing import shot, sideways_overflow, sign_in
from tests.e2e.portal_seed import seed_portal

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

CARD_CELLS_JS = """() => {
  const table = document.querySelector('main table.cards');
  const labels = [...table.querySelectorAll('thead th')].map(th => th.innerText.replace(/[▲▼]/g, '').trim());
  const rows = [...table.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(td => {
    const before = getComputedStyle(td, '::before');
    const box = td.getBoundingClientRect();
    return {label: before.content.replace(/^"|"$/g, ''), display: before.display,
            visible: box.width > 0 && box.height > 0, right: box.right, left: box.left};
  }));
  const headShown = table.querySelector('thead').getBoundingClientRect().height > 1;
  const shown = [...table.querySelectorAll('thead th')].filter(th => headShown && th.getBoundingClientRect().height > 1);
  return {labels, rows, sortButtons: shown.map(th => th.innerText.replace(/[▲▼]/g, '').trim()),
          plainHeadersShown: shown.filter(th => !th.querySelector('a')).length};
}"""


def _check_cards(page, what: str) -> int:
    assert sideways_overflow(page) == 0, f"{what}: the page scrolls sideways at 390 px"
    found = page.evaluate(CARD_CELLS_JS)
    assert found["plainHeadersShown"] == 0, f"{what}: the table header row still shows"
    labels = found["labels"]
    assert found["rows"], f"{what}: no rows"
    for row in found["rows"]:
        assert [c["label"] for c in row] == labels, f"{what}: a card lacks column labels"
        for cell in row:
            assert cell["visible"] and cell["display"] != "none", f"{what}: {cell['label']} hidden"
            assert cell["left"] >= 0 and cell["right"] <= PHONE["width"], f"{what}: {cell['label']} off screen"
    return len(found["rows"])


@pytest.mark.parametrize("lang", ["it", "en"])
def test_F07_F10_phone_cards_keep_every_column(app, db, live_server, chromium, lang):
    seeded = seed_portal(db, app)
    context = chromium.new_context(locale="it-IT", viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, live_server, seeded.username, seeded.password, lang)
        page.goto(f"{live_server}/portal/invoices")
        labels = page.evaluate(CARD_CELLS_JS)["labels"]
        expected = (["Numero", "Data", "Importo", "Tipo", "Consumo", "Scadenza", "Importo pagato",
                     "Luogo di pagamento", "Stato"] if lang == "it" else
                    ["Number", "Date", "Amount", "Type", "Consumption", "Due date", "Amount paid",
                     "Where paid", "Status"])
        assert set(expected) <= set(labels), labels
        assert _check_cards(page, "invoices") == 3
        # the sortable columns stay as sort buttons above the cards
        sort = page.evaluate(CARD_CELLS_JS)["sortButtons"]
        assert sort == (["Numero", "Data", "Importo", "Scadenza"] if lang == "it" else
                        ["Number", "Date", "Amount", "Due date"])
        shot(page, f"phone-invoices-{lang}")

        page.goto(f"{live_server}/portal/supply/{seeded.gas}/consumption")
        labels = page.evaluate(CARD_CELLS_JS)["labels"]
        expected = ["Data della lettura", "Lettura", "Tipo", "Consumo", "Matricola contatore"] if lang == "it" else \
            ["Reading date", "Reading", "Type", "Consumption", "Meter serial"]
        assert set(expected) <= set(labels), labels
        assert _check_cards(page, "readings") == 3
        shot(page, f"phone-readings-{lang}")
    finally:
        context.close()


def test_phone_menu_folds_behind_a_disclosure_button(app, db, live_server, chromium):
    seeded = seed_portal(db, app)
    context = chromium.new_context(locale="it-IT", viewport=PHONE)
    page = context.new_page()
    try:
        sign_in(page, live_server, seeded.username, seeded.password, "it")
        toggle = page.locator("button.menu-toggle")
        menu = page.locator("#portal-menu")
        assert toggle.is_visible()
        assert toggle.get_attribute("aria-expanded") == "false"
        assert toggle.get_attribute("aria-controls") == "portal-menu"
        assert not menu.is_visible()
        assert page.locator("header.top").bounding_box()["height"] < 80  # one line, not three
        toggle.focus()
        page.keyboard.press("Enter")
        assert toggle.get_attribute("aria-expanded") == "true"
        assert menu.get_by_role("link", name="Bollette e pagamenti").is_visible()
        shot(page, "phone-menu-open")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Le mie forniture"
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Space")
        assert toggle.get_attribute("aria-expanded") == "false"
        assert not menu.is_visible()

        page.set_viewport_size({"width": 1024, "height": 768})  # wide: the menu shows, no button
        assert menu.is_visible()
        assert not toggle.is_visible()
    finally:
        context.close()

    # without scripts the menu is simply open and the cards keep their labels
    context = chromium.new_context(locale="it-IT", viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server, seeded.username, seeded.password, "it")
        assert not page.locator("button.menu-toggle").is_visible()
        assert page.locator("#portal-menu").get_by_role("link", name="Bollette e pagamenti").is_visible()
        page.goto(f"{live_server}/portal/invoices")
        assert _check_cards(page, "invoices without scripts") == 3
    finally:
        context.close()
