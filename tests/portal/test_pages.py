"""Every customer page renders for a logged-in customer (Italian, no-store), and viewing pages
leaves the browser's session cookie as it is."""


def test_pages_render(client, logged_in):
    sp = logged_in["supply_point"].id
    inv = logged_in["invoice"].id
    for url in ["/portal/home", f"/portal/supply/{sp}/reading", f"/portal/supply/{sp}/consumption",
                "/portal/invoices", f"/portal/invoices/{inv}", f"/portal/invoices/{inv}/correction",
                "/portal/personal-data", f"/portal/supply/{sp}/mailing-address",
                f"/portal/supply/{sp}/direct-debit", f"/portal/supply/{sp}/invoice-email",
                "/portal/requests", "/portal/account", "/portal/information"]:
        client.get(url)  # the first page of the session stores its CSRF token in the cookie
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.get_data(as_text=True)[-3000:])
        assert resp.headers["Cache-Control"] == "no-store"
        assert '<html lang="it">' in resp.get_data(as_text=True)
        # nothing in the session changes on a page view: no cookie is sent back
        assert "Set-Cookie" not in resp.headers, (url, resp.headers["Set-Cookie"])


# --- the portal's own error pages, the privacy notice, the greeting, words that agree -------------

import datetime as dt  # noqa: E402

import pytest  # noqa: E402

from tests.portal.conftest import post_form  # noqa: E402


def _english(client):
    post_form(client, "/portal/language", {"language": "en", "next": ""}, page_url="/portal/information")


def test_portal_404_is_the_portals_page_in_its_language(client, db):
    resp = client.get("/portal/no-such-page")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 404
    assert '<html lang="it">' in body and "Pagina non trovata" in body
    assert 'href="/portal/"' in body  # a way back
    assert "Not Found" not in body
    _english(client)
    body = client.get("/portal/no-such-page").get_data(as_text=True)
    assert '<html lang="en">' in body and "Page not found" in body
    assert "Go to the home page of the online service" in body


def test_portal_404_for_someone_elses_invoice_keeps_the_menu(client, db, logged_in):
    resp = client.get("/portal/invoices/999999")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 404
    assert "Pagina non trovata" in body
    # the signed-in customer's menu, whole, with the way back to their supplies
    assert '<nav id="portal-menu" aria-label="Menu principale">' in body
    assert '<a href="/portal/home">Le mie forniture</a>' in body


def test_back_office_404_is_not_the_portals(client, db):
    resp = client.get("/no-such-staff-page/")
    assert resp.status_code == 404
    html = resp.get_data(as_text=True)
    assert 'class="way-back"' not in html and "/static/portal/portal.css" not in html  # not the portal's page
    assert '<main id="main-content"' in html  # the staff layout's


@pytest.fixture
def app_without_database(app, tmp_path):
    """The same application with its database unreachable (a path that cannot exist)."""
    from app import create_app
    from config import TestConfig

    class Down(TestConfig):
        SQLALCHEMY_DATABASE_URI = "sqlite:////nonexistent-directory/sportello.db"
        BILLING_WSDL_CACHE_DIR = str(tmp_path / "wsdl")
        PROPAGATE_EXCEPTIONS = False  # answer as a server does, with the error page

    yield create_app(Down)


def test_portal_500_page_works_with_the_database_down(app_without_database):
    client = app_without_database.test_client()
    resp = client.get("/portal/information")  # reads the company's settings: the database fails
    body = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert '<html lang="it">' in body and "Si è verificato un problema" in body
    assert 'href="/portal/"' in body
    assert "Internal Server Error" not in body


def test_privacy_page_names_the_controller_from_the_settings(client, db):
    from app.services.core import settings

    settings.update({"company_name": "Energia Tirrena S.p.A.", "company_address": "Via Appia 10, 00184 Roma"})
    try:
        _privacy_pages_name(client)
    finally:
        settings.update({"company_name": "", "company_address": ""})


def _privacy_pages_name(client):
    page = client.get("/portal/privacy").get_data(as_text=True)
    assert "Informativa privacy" in page and "Energia Tirrena S.p.A." in page
    assert "Via Appia 10, 00184 Roma" in page
    for part in ("Finalità e base giuridica", "Per quanto tempo conserviamo i dati", "I tuoi diritti",
                 "Garante per la protezione dei dati personali"):
        assert part in page
    info = client.get("/portal/information").get_data(as_text=True)
    assert "Il titolare del trattamento è Energia Tirrena S.p.A." in info
    assert 'href="/portal/privacy"' in info


@pytest.mark.parametrize("utc_hour, italian", [(7, "Buongiorno"), (13, "Buon pomeriggio"),
                                                (18, "Buonasera"), (2, "Buonasera")])
def test_greeting_by_time_of_day_in_rome_first_name_then_last(app, db, utc_hour, italian):
    from flask_babel import force_locale

    from app.views.portal import greeting
    from tests import factories as f

    c = f.customer(first_name="Anna", last_name="Bianchi")
    # a winter day: Rome is UTC+1, so 18:00 UTC is 19:00 in Rome ("Buonasera", not "Buongiorno")
    winter = dt.datetime(dt.date.today().year, 1, 15, utc_hour, 30, tzinfo=dt.UTC)
    with app.test_request_context("/portal/home"), force_locale("it"):
        assert greeting(c, winter) == f"{italian}, Anna Bianchi"


def test_home_greets_by_first_name(client, logged_in):
    c = logged_in["customer"]
    page = client.get("/portal/home").get_data(as_text=True)
    assert f", {c.first_name} {c.last_name}</h1>" in page
    assert any(word in page for word in ("Buongiorno", "Buon pomeriggio", "Buonasera"))


def test_reading_and_contract_states_agree_in_italian(app, db):
    from flask_babel import force_locale

    from app.models import ContractStatus, ReadingStatus

    with app.test_request_context("/portal/"), force_locale("it"):
        assert [str(s.label) for s in (ReadingStatus.RECEIVED, ReadingStatus.VALID, ReadingStatus.REJECTED)] \
            == ["Ricevuta", "Validata", "Respinta"]
        assert [str(s.label) for s in (ContractStatus.VALIDATED, ContractStatus.REJECTED,
                                       ContractStatus.CANCELLED)] == ["Validato", "Respinto", "Annullato"]


import re  # noqa: E402

from tests.conftest import csrf_token  # noqa: E402

# "bolletta" is the one word for a bill the customer reads; "fattura" only in "fattura
# elettronica", the legal document a bill is the courtesy copy of.
FATTURA = re.compile(r"\bfattur[ae]\b(?! elettronica)", re.IGNORECASE)


def test_one_word_for_a_bill_in_the_italian_catalogue():
    from pathlib import Path

    from babel.messages.pofile import read_po

    po = Path(__file__).resolve().parents[2] / "translations" / "it" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale="it")
    other_word = [(m.id, s) for m in catalog if m.id
                  for s in (m.string if isinstance(m.string, tuple) else (m.string,)) if FATTURA.search(s)]
    assert other_word == []


def test_export_page_and_its_messages_say_bolletta(client, db, logged_in):
    inv = logged_in["invoice"]
    page = client.get("/portal/export").get_data(as_text=True)
    assert "Bollette in un file ZIP di PDF" in page and "Scegli le bollette: fino a 24 si scaricano subito" in page
    assert not FATTURA.search(page)
    none = post_form(client, "/portal/invoices/zip", {}, page_url="/portal/export")
    assert "Scegli almeno una bolletta." in client.get(none.location).get_data(as_text=True)
    page = client.get("/portal/export")
    resp = client.post("/portal/invoices/zip", data={"invoice": str(inv.id),
                                                     "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert resp.headers["Content-Disposition"] == 'attachment; filename="bollette.zip"'
