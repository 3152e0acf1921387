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
    "password_reset": {"username": "mrossi", "link": "http://x/portal/reset/abc", "minutes": 30},
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
