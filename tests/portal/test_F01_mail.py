"""F-01 notices over real SMTP: every portal e-mail renders in both languages and is sent."""
from __future__ import annotations

import re

import pytest

from app.services.mailing import mail
from tests.portal.conftest import make_account, post_form

CONTEXTS = {
    "registration_confirmed": {"name": "Mario Rossi", "username": "mrossi"},
    "password_changed": {"name": "Mario Rossi"},
    "email_changed": {"name": "Mario Rossi", "email": "new@example.com"},
    "iban_changed": {"name": "Mario Rossi", "supply_point": "01234567890123"},
    "password_reset": {"name": "Mario Rossi", "username": "mrossi", "link": "http://x/portal/reset/abc",
                       "minutes": 30},
    "request_received": {"name": "Mario Rossi", "reference": "RIC-2026-000123", "kind": "Rettifica bolletta",
                         "subject": "", "url": "http://x/portal/requests/123"},
}


@pytest.mark.parametrize("name", sorted(CONTEXTS))
@pytest.mark.parametrize("lang", ["it", "en"])
def test_F01_portal_mail_templates_render(app, db, name, lang):
    rendered = mail.render(name, lang, CONTEXTS[name])
    assert rendered.subject and rendered.text.strip()
    assert mail.default_template(name, lang)  # shipped in this language, not a fallback


def test_F01_reset_link_is_mailed_and_placeholder_never_mailed(client, db, customer_graph, smtp_server):
    from tests import factories as f

    user = make_account(db, None, customer_graph["customer"])
    nomail = f.customer(email="")
    db.session.commit()
    silent = make_account(db, None, nomail)
    post_form(client, "/portal/reset", {"login": user.username})
    post_form(client, "/portal/reset", {"login": silent.username})
    assert mail.deliver_mail()["sent"] >= 2  # registration confirmation + reset link
    to = [m["To"] for m in smtp_server.messages]
    assert not any("@invalid" in t for t in to)
    reset = [m for m in smtp_server.messages if "password" in m["Subject"].lower()]
    assert reset and reset[0]["To"] == customer_graph["customer"].email
    body = reset[0].get_body(("plain",)).get_content()
    assert re.search(r"/portal/reset/\S+", body)


def test_F01_every_mail_kind_ships_in_both_languages(app, db):
    """No kind falls back to Italian for an English reader (tests refuse the fallback)."""
    missing = []
    for name in mail.template_names():
        for lang in mail.LANGUAGES:
            try:
                mail.default_template(name, lang)
            except LookupError:
                missing.append(f"{name}.{lang}")
    assert missing == []


def test_F01_a_missing_english_template_fails_in_tests(app, db, tmp_path, monkeypatch):
    (tmp_path / "only_italian.it.txt").write_text("Subject: Solo italiano\nCiao\n", encoding="utf-8")
    monkeypatch.setattr(mail, "EMAIL_DIR", tmp_path)
    assert app.config["MAIL_TEMPLATE_FALLBACK"] is False
    with pytest.raises(LookupError):
        mail.render("only_italian", "en", {})
    monkeypatch.setitem(app.config, "MAIL_TEMPLATE_FALLBACK", True)  # as in production
    assert mail.render("only_italian", "en", {}).subject == "Solo italiano"


def test_F01_customer_mail_greets_by_name_and_carries_the_signature(client, db, customer_graph, smtp_server):
    from app.services.core import settings

    settings.update({"company_name": "Energia Tirrena S.p.A.", "company_customer_service_phone": "800 123 456"})
    try:
        c = customer_graph["customer"]
        make_account(db, None, c)
        mail.deliver_mail()
    finally:
        settings.update({"company_name": "", "company_customer_service_phone": ""})
    [welcome] = [m for m in smtp_server.messages if m["Subject"] == "Benvenuto nello sportello online"]
    body = welcome.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert body.startswith(f"Gentile {c.first_name} {c.last_name},")
    assert "Cordiali saluti,\nEnergia Tirrena S.p.A.\nServizio clienti: 800 123 456" in body
