"""E-mail foundation: sandboxed templates, queue, delivery over real SMTP (aiosmtpd)."""
import pytest
import sqlalchemy as sa
from jinja2.exceptions import SecurityError, UndefinedError

from app.models import MessageTemplate, OutgoingMail
from app.services.mailing.mail import deliver_mail, queue_mail, render, render_source


def test_F41_default_templates_exist_in_both_languages(db):
    it = render("password_changed", "it", {"name": "Mario"})
    en = render("password_changed", "en", {"name": "Mario"})
    assert "password" in it.subject.lower() and "Mario" in it.text
    assert it.subject != en.subject


def test_F41_admin_template_overrides_default(db):
    db.session.add(MessageTemplate(name="password_changed", language="it", subject="Ciao {{ name }}",
                                   body_text="Testo per {{ name }}"))
    db.session.commit()
    assert render("password_changed", "it", {"name": "Anna"}).subject == "Ciao Anna"


def test_F41_sandbox_refuses_unsafe_templates(db):
    with pytest.raises(SecurityError):
        render_source("x", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "", {})
    with pytest.raises(UndefinedError):
        render_source("x", "{{ config.SECRET_KEY }}", "", {})


def test_mail_is_delivered_once_over_smtp(smtp_server, db):
    queue_mail("password_changed", "it", ["anna@example.com"], {"name": "Anna"}, key="pw-1")
    queue_mail("password_changed", "it", ["anna@example.com"], {"name": "Anna"}, key="pw-1")
    db.session.commit()
    assert deliver_mail() == {"sent": 1, "retry": 0, "failed": 0}
    assert deliver_mail() == {"sent": 0, "retry": 0, "failed": 0}
    assert len(smtp_server.messages) == 1
    msg = smtp_server.messages[0]
    assert msg["To"] == "anna@example.com" and "Anna" in msg.get_body(("plain",)).get_content()


def test_mail_temporary_failure_retries_permanent_fails(smtp_server, db):
    smtp_server.fail_data = [(451, "try later")]
    queue_mail("password_changed", "it", ["a@example.com"], {"name": "A"}, key="t-1")
    smtp_server.refuse["b@example.com"] = (550, "no such user")
    queue_mail("password_changed", "it", ["b@example.com"], {"name": "B"}, key="t-2")
    db.session.commit()
    assert deliver_mail() == {"sent": 0, "retry": 1, "failed": 1}
    db.session.execute(sa.update(OutgoingMail).values(next_attempt_at=OutgoingMail.created_at))
    db.session.commit()
    assert deliver_mail() == {"sent": 1, "retry": 0, "failed": 0}
    assert [m["To"] for m in smtp_server.messages] == ["a@example.com"]
