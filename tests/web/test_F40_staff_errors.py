"""F-40: staff errors (403, 404, 405, 429, 500) are pages in the staff layout and language with
the way back to the start page, never a bare Werkzeug page; portal URLs keep the portal's."""
import pytest
from werkzeug.exceptions import InternalServerError, TooManyRequests

from app.roles import AGENT, CALL_CENTER
from app.views.admin.errors import staff_error

BARE = "The requested URL was not found on the server"


def _staff_page(html: str) -> None:
    assert BARE not in html and "Werkzeug" not in html
    assert 'class="navbar' in html  # FAB's layout: menu, language, user
    assert 'id="staff-error"' in html and 'href="/"' in html


def test_F40_staff_404_in_italian(client, login_as, db):
    login_as(CALL_CENTER)
    resp = client.get("/contractview/show/999999")
    assert resp.status_code == 403  # not even the list: the role may not open contracts
    resp = client.get("/activityview/show/999999")
    assert resp.status_code == 404
    html = resp.get_data(as_text=True)
    _staff_page(html)
    assert "Pagina non trovata" in html and "Torna alla pagina iniziale" in html


def test_F40_staff_404_in_english(client, login_as, db):
    login_as(CALL_CENTER)
    client.get("/lang/en")
    resp = client.get("/no-such-page/")
    assert resp.status_code == 404
    html = resp.get_data(as_text=True)
    _staff_page(html)
    assert "Page not found" in html and "Back to the start page" in html


@pytest.mark.parametrize("lang,title", [("it", "Non puoi aprire questa pagina"), ("en", "You may not open this page")])
def test_F40_staff_403_in_the_user_language(lang, title, client, login_as, db):
    login_as(AGENT)
    if lang == "en":
        client.get("/lang/en")
    resp = client.get("/activityview/list/")
    assert resp.status_code == 403
    html = resp.get_data(as_text=True)
    _staff_page(html)
    assert title in html


def test_F40_get_on_an_action_is_a_staff_405(client, login_as, db):
    login_as(CALL_CENTER)
    resp = client.get("/activityview/action/take_in_charge/1")
    assert resp.status_code == 405
    _staff_page(resp.get_data(as_text=True))


def test_F40_anonymous_404_and_429_pages(app, client, db):
    resp = client.get("/no-such-page/")
    assert resp.status_code == 404
    _staff_page(resp.get_data(as_text=True))
    with app.test_request_context("/login/", method="POST"):
        answer = staff_error(TooManyRequests())
        assert answer.status_code == 429
        assert "Troppi tentativi" in answer.get_data(as_text=True)


def test_F40_staff_500_page(app, db):
    with app.test_request_context("/contractview/list/"):
        answer = staff_error(InternalServerError(original_exception=RuntimeError("boom")))
        assert answer.status_code == 500
        html = answer.get_data(as_text=True)
        assert "Si è verificato un errore da parte nostra" in html and "boom" not in html
        _staff_page(html)


def test_F40_portal_urls_keep_the_portal_pages(client, db):
    resp = client.get("/portal/no-such-page")
    assert resp.status_code == 404
    assert 'id="staff-error"' not in resp.get_data(as_text=True)
