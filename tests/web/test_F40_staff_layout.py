"""F-40: every back-office and /sales/ page shares one accessible layout: the page's language,
a title naming the page ("Errore" first when a form failed), a skip link to <main>, exactly one
h1, named row checkboxes and header cells, named menu and language controls."""
import re

import pytest

from app.roles import ADMIN, AGENT, BACK_OFFICE, MANAGER
from tests.sales.helpers import agent_for, entered_contract


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def _structure(html: str) -> None:
    assert re.search(r'<html lang="(it|en)">', html)
    assert '<a class="skip-link" href="#main-content">' in html
    assert html.count('<main id="main-content"') == 1
    assert len(re.findall(r"<h1\b", html)) == 1, re.findall(r"<h1\b[^>]*>.*?</h1>", html, re.S)
    assert 'role="header"' not in html  # not an ARIA role
    assert 'aria-label="Menu"' in html  # the collapsed menu's button has a name


@pytest.mark.parametrize("url,title", [
    ("/contactview/list/", "Contatti – Sportello"),
    ("/statistics/", "Statistiche – Sportello"),
    ("/callcenter/", "Call center – Sportello"),
    ("/users/list/", None),
])
def test_F40_staff_pages_have_language_title_skip_link_main_and_one_h1(client, login_as, url, title):
    login_as(ADMIN if url.startswith("/users") else MANAGER)
    html = client.get(url).get_data(as_text=True)
    _structure(html)
    if title:
        assert _title(html) == title
    assert _title(html) != "Sportello"


def test_F40_the_title_says_error_when_a_form_failed_and_the_language_follows_the_user(client, login_as):
    login_as(BACK_OFFICE)
    page = client.get("/contactview/file").get_data(as_text=True)
    assert _title(page) == "Nuovo contatto – Sportello"
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    failed = client.post("/contactview/file", data={"csrf_token": token, "kind": "visit", "subject": ""})
    assert failed.status_code == 400
    assert _title(failed.get_data(as_text=True)) == "Errore: Nuovo contatto – Sportello"
    english = client.get("/contactview/file?_l_=en").get_data(as_text=True)
    assert '<html lang="en">' in english and _title(english) == "New contact – Sportello"
    assert ">Skip to the content<" in english


def test_F40_list_checkboxes_and_header_cells_have_names(client, login_as, make_user, db):
    from app.models import ContactKind
    from app.services.crm.contacts import create_contact

    op, _ = make_user(BACK_OFFICE)
    for n in range(2):
        create_contact(ContactKind.PHONE_CALL, op, customer_id=None, subject=f"chiamata {n}")
    login_as(MANAGER)
    html = client.get("/contactview/list/").get_data(as_text=True)
    assert 'aria-label="Seleziona tutte le righe"' in html
    assert 'aria-label="Seleziona la riga 1"' in html and 'aria-label="Seleziona la riga 2"' in html
    assert re.search(r'<th class="col-md-1[^"]*"><span class="sr-only">Apri la scheda</span></th>', html)
    assert "<th></th>" not in html.replace(" ", "")
    assert '<h1 class="panel-title">Contatti</h1>' in html


def test_F40_sales_pages_share_the_layout_with_one_h1(client, login_as, db):
    user = login_as(AGENT)
    agent_for(user)
    contract = entered_contract(user, submit=False)
    for url in ("/sales/", "/sales/portfolio", f"/sales/contracts/{contract.id}"):
        resp = client.get(url, follow_redirects=True)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        _structure(html)
        assert _title(html).endswith("– Sportello") and _title(html) != "Sportello"
    step = client.get(f"/sales/contracts/{contract.id}/customer").get_data(as_text=True)
    assert 'aria-current="step"' in step


def test_F40_a_page_seen_again_keeps_the_session_cookie_and_the_back_history(client, login_as):
    """FAB records each page in the session's back history; a page that is already its newest
    entry leaves the session as it is (no new cookie), a new page is still recorded."""
    login_as(MANAGER)
    client.get("/")
    again = client.get("/")
    assert again.status_code == 200
    assert "Set-Cookie" not in again.headers
    listed = client.get("/activityview/list/")
    assert listed.status_code == 200 and "Set-Cookie" in listed.headers  # a new page: recorded
    assert "Set-Cookie" not in client.get("/activityview/list/").headers
    with client.session_transaction() as session:
        assert session["page_history"][-2:] == ["http://localhost/", "http://localhost/activityview/list/"]
