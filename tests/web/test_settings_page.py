"""F-42: the settings page — generated from the registry, saved all or nothing with a message per
field, audited, in the admin's language; the connections with their secrets masked and a real
connection test each (local SMTP server, billing simulator); Admin only."""
from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from app.models import AuditLog
from app.roles import ADMIN
from app.services.core import settings
from app.services.core.settings import REGISTRY, Entry, Whole
from tests.conftest import csrf_token

URL = "/settings/"


def _page(client, url=URL) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def _form(page: str) -> dict:
    """Every setting's input of the page, as a browser would post it."""
    fields = dict(re.findall(r'<input class="form-control" id="input-[^"]+" name="([^"]+)" type="[^"]+" value="([^"]*)"',
                             page))
    return {html.unescape(k): html.unescape(v) for k, v in fields.items()} | {"csrf_token": csrf_token(page)}


def _setting(page: str, key: str) -> str:
    """The block of one setting on the page."""
    match = re.search(rf'<div class="form-group setting[^"]*" id="setting-[^"]+" data-key="{re.escape(key)}">(.*?)</div>',
                      page, re.S)
    assert match, key
    return match.group(1)


def test_F42_the_page_shows_every_setting_of_the_registry(client, login_as):
    login_as(ADMIN)
    page = _page(client)
    for section, label, entries in REGISTRY.grouped():
        assert f'id="section-{section}"' in page
        for entry in entries:
            block = _setting(page, entry.key)
            assert 'class="setting-current"' in block and 'class="setting-default"' in block, entry.key
            assert f'name="{entry.key}"' in block
    assert "Impostazioni" in page and "Orari di invio" in page and "Fattore di plausibilità dei consumi" in page
    assert "Valore attuale" in page and "Predefinito" in page
    assert "None" not in page and "not set" not in page
    block = _setting(page, "consumption plausibility factor")
    assert 'value="3"' in block
    english = _page(client, URL + "?_l_=en")
    assert "Sending hours" in english and "Consumption plausibility factor" in english


def test_F42_a_key_added_to_the_registry_appears_on_the_page(app, client, login_as):
    extra = REGISTRY.extended(
        sections=[("lab", "Laboratory")],
        entries=[Entry("lab_batch_size", Whole(1, 500), 50, "lab", "Batch size of the lab",
                       "How many rows the lab takes at a time.")])
    settings.use_registry(app, extra)
    try:
        login_as(ADMIN)
        page = _page(client)
        block = _setting(page, "lab_batch_size")
        assert "Batch size of the lab" in block and "How many rows the lab takes at a time." in block
        assert 'value="50"' in block and 'id="section-lab"' in page and "Laboratory" in page
        form = _form(page) | {"lab_batch_size": "120"}
        assert client.post(URL + "save", data=form).status_code == 302
        assert settings.get("lab_batch_size") == 120
        assert 'value="120"' in _setting(_page(client), "lab_batch_size")
    finally:
        settings.use_registry(app, None)


def test_F42_saving_lands_on_the_page_with_the_new_values(client, login_as, db):
    admin = login_as(ADMIN)
    form = _form(_page(client)) | {"invoice_mail_hours": "2-4", "reminder_days": "5",
                                   "consumption plausibility factor": "2,5",
                                   "company_name": "Gas Nord S.p.A.", "company_vat_number": "00743110157"}
    resp = client.post(URL + "save", data=form)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(URL)
    page = _page(client)
    assert "Impostazioni salvate. Nuovi valori:" in page
    assert "Orari di invio: 2-4" in page and "Giorni prima della scadenza: 5" in page
    assert "Fattore di plausibilità dei consumi: 2,5" in page  # Italian decimal comma
    assert 'value="2,5"' in _setting(page, "consumption plausibility factor")
    assert 'value="2.5"' in _setting(_page(client, URL + "?_l_=en"), "consumption plausibility factor")
    assert (settings.get("invoice_mail_hours"), settings.get("reminder_days"),
            settings.get("consumption plausibility factor")) == ("2-4", 5, 2.5)
    audit = {r.entity_id: (r.changes, r.actor_id) for r in db.session.scalars(sa.select(AuditLog))}
    assert audit["invoice_mail_hours"] == ({"value": ["1-5", "2-4"]}, admin.id)
    assert audit["company_vat_number"] == ({"value": ["", "00743110157"]}, admin.id)
    assert set(audit) == {"invoice_mail_hours", "reminder_days", "consumption plausibility factor",
                          "company_name", "company_vat_number"}
    # The same form again changes nothing and says so.
    client.post(URL + "save", data=_form(_page(client)))
    assert "Nessuna modifica" in _page(client)


def test_F42_invalid_values_save_nothing_and_are_marked(client, login_as, db):
    login_as(ADMIN)
    form = _form(_page(client)) | {"reminder_days": "7", "company_vat_number": "12345678901",
                                   "company_sepa_creditor_id": "IT00ZZZ", "invoice_mail_hours": "24"}
    resp = client.post(URL + "save", data=form)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Non è stato salvato nulla" in page
    assert "partita IVA non è valida" in _setting(page, "company_vat_number")
    assert "identificativo del creditore SEPA non è valido" in _setting(page, "company_sepa_creditor_id")
    assert "da 0 a 23" in _setting(page, "invoice_mail_hours")
    assert 'aria-invalid="true"' in _setting(page, "invoice_mail_hours")
    assert 'value="7"' in _setting(page, "reminder_days")  # what was typed stays in the form
    assert settings.get("reminder_days") == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == 0
    # Without the CSRF token nothing is looked at.
    assert client.post(URL + "save", data={"reminder_days": "7"}).status_code == 400


SECRETS = {"MAIL_PASSWORD": "smtp-pass-Zq81", "BILLING_PASSWORD": "billing-pass-Xw42"}


def test_F42_connections_are_shown_with_their_secrets_masked(app, client, login_as, monkeypatch):
    for key, value in SECRETS.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "MAIL_USERNAME", "mailer")
    monkeypatch.setitem(app.config, "BILLING_URL",
                        "http://nav:url-pass-Yv73@billing.example:7047/NAV/WS/DEMO?token=tok-Vu64")
    login_as(ADMIN)
    page = _page(client)
    for secret in [*SECRETS.values(), "url-pass-Yv73", "tok-Vu64"]:
        assert secret not in page
    assert not re.search(r"[•*]{6,}", page)  # no mask as long as a password
    assert "http://nav:•••@billing.example:7047/NAV/WS/DEMO?token=•••" in page
    assert page.count("configurata (mai mostrata)") == 2 and "mailer" in page
    assert "MAIL_SERVER" in page and "BILLING_TIMEOUT" in page
    assert re.search(r"Tempo massimo per chiamata</th><td[^>]*>5 s<", page)


def _test(client, connection: str) -> str:
    page = _page(client)
    resp = client.post(f"{URL}test/{connection}", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(URL)
    return _page(client)


def test_F42_smtp_connection_test_against_a_real_server(app, client, login_as, smtp_server, monkeypatch):
    login_as(ADMIN)
    page = _test(client, "smtp")
    assert f"Il server SMTP 127.0.0.1:{smtp_server.port} ha risposto: EHLO, QUIT." in page
    # STARTTLS asked of a server that does not offer it: the server's answer, as it is.
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", True)
    page = _test(client, "smtp")
    assert "non ha risposto come previsto" in page and "STARTTLS extension not supported" in page


def test_F42_smtp_connection_test_on_a_closed_port(app, client, login_as, monkeypatch):
    from simulator.testing import free_port

    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_PASSWORD", SECRETS["MAIL_PASSWORD"])
    login_as(ADMIN)
    page = _test(client, "smtp")
    assert f"Il server SMTP 127.0.0.1:{port} non ha risposto come previsto: ConnectionRefusedError" in page
    assert "Traceback" not in page and SECRETS["MAIL_PASSWORD"] not in page


def test_F42_billing_connection_test_against_the_simulator(client, login_as, billing_sim):
    login_as(ADMIN)
    page = _test(client, "billing")
    assert "La fatturazione a http://127.0.0.1:" in page and "ha risposto." in page


def test_F42_billing_connection_test_on_a_closed_port(app, client, login_as, monkeypatch, tmp_path):
    from app.billing.nav import NavGateway
    from app.services.sync.gateway import set_gateway
    from simulator.testing import free_port

    url = f"http://127.0.0.1:{free_port()}/NAV/WS/DEMO"
    monkeypatch.setitem(app.config, "BILLING_URL", url)
    set_gateway(app, NavGateway(url, timeout=2, cache_dir=str(tmp_path)))
    try:
        login_as(ADMIN)
        page = _test(client, "billing")
    finally:
        set_gateway(app, None)
    assert f"La fatturazione a {url} non ha risposto come previsto: connection:" in page
    assert "Traceback" not in page


def test_F42_unknown_connection_and_get_are_refused(client, login_as):
    login_as(ADMIN)
    token = csrf_token(_page(client))
    assert client.post(URL + "test/ldap", data={"csrf_token": token}).status_code == 404
    assert client.get(URL + "test/smtp").status_code == 405
    assert client.get(URL + "save").status_code == 405


def test_F42_settings_are_in_the_admins_menu(client, login_as):
    login_as(ADMIN)
    home = _page(client, "/jobs/")
    assert 'href="/settings/"' in home and "Impostazioni" in home


def test_F22_the_templates_page_links_to_the_reminder_setting(client, login_as):
    login_as(ADMIN)
    settings.update({"reminder_days": 4})
    page = _page(client, "/messagetemplates/")
    assert "Giorni di anticipo dell'e-mail di promemoria sulla scadenza: 4." in html.unescape(page)
    assert 'href="/settings/#setting-reminder-days"' in page


@pytest.mark.parametrize("language,expected", [("it", "1.440"), ("en", "1,440")])
def test_F42_numbers_in_messages_follow_the_language(client, login_as, language, expected):
    login_as(ADMIN)
    client.get(f"/lang/{language}")  # the language menu of the back office
    page = _page(client)
    resp = client.post(URL + "save", data=_form(page) | {"outbox_claim_timeout_minutes": "0"})
    assert resp.status_code == 400 and expected in _setting(resp.get_data(as_text=True), "outbox_claim_timeout_minutes")
