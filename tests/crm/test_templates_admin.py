"""F-41: admins edit every e-mail per language with a preview on sample data; templates render
in a sandbox (no config, no functions of the app, no Python internals); a broken template is
refused at save time with the error, and the saved one is what the mailer sends."""
import pytest
import sqlalchemy as sa

from app.models import MessageTemplate
from app.roles import ADMIN
from app.services.mailing import templates as svc
from app.services.mailing.mail import deliver_mail, queue_mail
from tests.conftest import csrf_token

URL = "/messagetemplates/edit/activity_assigned/it"


def test_F41_every_email_listed_in_both_languages(client, login_as, db):
    login_as(ADMIN)
    page = client.get("/messagetemplates/").get_data(as_text=True)
    for name in ("activity_assigned", "activity_updated", "activity_cancelled", "activity_reminder",
                 "activity_deadline", "appointment", "password_changed"):
        assert f"/messagetemplates/edit/{name}/it" in page and f"/messagetemplates/edit/{name}/en" in page


def test_F41_every_email_kind_has_a_title_in_both_languages(app):
    from flask_babel import force_locale

    from app.services.mailing.mail import template_names

    names = template_names()
    assert {"mandate_active", "mandate_rejected", "mandate_revoke_requested", "request_received"} <= set(names)
    assert [n for n in names if n not in svc.TITLES] == []
    with app.test_request_context("/"):
        with force_locale("en"):
            english = {n: svc.title(n) for n in names}
        with force_locale("it"):
            italian = {n: svc.title(n) for n in names}
    assert [n for n in names if italian[n] == english[n]] == []  # each title translated
    assert (italian["mandate_revoke_requested"], english["request_received"]) \
        == ("Revoca dell'addebito diretto richiesta", "Request received")


def test_F41_preview_on_sample_data(client, login_as, db):
    login_as(ADMIN)
    page = client.get(URL).get_data(as_text=True)
    assert "Bianchi Anna" in page and "template-preview" in page  # the default, rendered
    resp = client.post(URL, data={"csrf_token": csrf_token(page), "preview": "1",
                                  "subject": "Nuova pratica {{ activity_id }}",
                                  "body_text": "Ciao {{ name }}, scade {{ deadline }}", "body_html": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Nuova pratica 1234" in html and "Ciao Mario Rossi" in html
    assert db.session.scalar(sa.select(MessageTemplate)) is None  # a preview saves nothing


@pytest.mark.parametrize("body,error", [
    ("Ciao {{ name }", "Errore di sintassi alla riga 1"),
    ("{% if name %}senza fine", "Errore di sintassi"),
    ("{{ config.SECRET_KEY }}", "Variabili sconosciute: config"),
    ("{{ request.environ }}", "Variabili sconosciute: request"),
    ("{{ url_for('index') }}", "Variabili sconosciute: url_for"),
    ("{{ name.__class__.__mro__ }}", "Non consentito in un modello"),
    ("{{ ''.__class__.__base__.__subclasses__() }}", "Non consentito in un modello"),
    ("{{ name.upper.__globals__ }}", "non è stato salvato"),
    ("{{ name.__len__() }}", "Non consentito in un modello"),
    ("{{ cycler.__init__.__globals__.os }}", "Non consentito in un modello"),
    ("{{ activity_id / 0 }}", "Il modello non può essere composto"),
])
def test_F41_broken_or_unsafe_template_refused_at_save(client, login_as, db, body, error):
    login_as(ADMIN)
    page = client.get(URL).get_data(as_text=True)
    resp = client.post(URL, data={"csrf_token": csrf_token(page), "save": "1", "subject": "Oggetto",
                                  "body_text": body, "body_html": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert error in html.replace("&#39;", "'").replace("&amp;", "&")
    assert db.session.scalar(sa.select(MessageTemplate)) is None


def test_F41_sandbox_cannot_reach_the_app(app, db):
    secret = app.config["SECRET_KEY"]
    for body in ("{{ config }}", "{{ self._TemplateReference__context }}", "{{ lipsum.__globals__ }}",
                 "{{ namespace.__init__.__globals__ }}", "{{ joiner.__init__.__globals__ }}"):
        preview, errors = svc.check("activity_assigned", {"subject": "x", "body_text": body})
        assert errors, body
        assert preview is None or secret not in preview.text


def test_F41_saved_template_is_sent_and_reset_restores_default(client, login_as, smtp_server, db):
    admin = login_as(ADMIN)
    page = client.get(URL).get_data(as_text=True)
    resp = client.post(URL, data={"csrf_token": csrf_token(page), "save": "1",
                                  "subject": "Pratica {{ activity_id }} per te",
                                  "body_text": "{{ name }}: scade {{ deadline }}.\n{{ url }}", "body_html": ""})
    assert resp.status_code == 302
    row = db.session.scalar(sa.select(MessageTemplate))
    assert (row.name, row.language, row.updated_by_id) == ("activity_assigned", "it", admin.id)
    queue_mail("activity_assigned", "it", ["op@example.com"],
               {**svc.SAMPLES["activity_assigned"], "activity_id": 77}, key="t1")
    db.session.commit()
    deliver_mail()
    assert smtp_server.messages[-1]["Subject"] == "Pratica 77 per te"
    page = client.get(URL).get_data(as_text=True)
    assert client.post("/messagetemplates/reset/activity_assigned/it",
                       data={"csrf_token": csrf_token(page)}).status_code == 302
    assert db.session.scalar(sa.select(MessageTemplate)) is None
    # English is a template of its own.
    assert "Request no." in client.get("/messagetemplates/edit/activity_assigned/en").get_data(as_text=True)
    assert client.get("/messagetemplates/edit/nonexistent/it").status_code == 404
    assert client.get("/messagetemplates/edit/activity_assigned/fr").status_code == 404


def test_F22_admin_sets_the_reminder_days(client, login_as, db):
    """The reminder days are a setting (F-42): the templates page shows them and links to the
    settings page, where they are changed."""
    from app.services.core import settings

    login_as(ADMIN)
    page = client.get("/messagetemplates/").get_data(as_text=True)
    assert settings.get("reminder_days") == 2 and "/settings/#setting-reminder-days" in page
    settings_page = client.get("/settings/").get_data(as_text=True)
    resp = client.post("/settings/save", data={"csrf_token": csrf_token(settings_page), "reminder_days": "99"})
    assert resp.status_code == 400 and settings.get("reminder_days") == 2
    resp = client.post("/settings/save", data={"csrf_token": csrf_token(settings_page), "reminder_days": "5"})
    assert resp.status_code == 302 and settings.get("reminder_days") == 5
    assert "scadenza: 5." in client.get("/messagetemplates/").get_data(as_text=True)


def test_F41_every_shipped_template_previews_cleanly(db):
    from app.services.mailing import mail

    for name in mail.template_names():
        for lang in ("it", "en"):
            subject, text, html = mail.default_template(name, lang)
            preview, errors = svc.check(name, {"subject": subject, "body_text": text, "body_html": html})
            assert not errors and preview.subject, (name, lang, errors)
