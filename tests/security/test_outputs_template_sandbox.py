"""Template sandbox: an admin's e-mail template renders in a Jinja sandbox; a template reaching
for the application's internals is refused at save, with the reason, and nothing is stored."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.models import MessageTemplate
from app.roles import ADMIN
from tests.conftest import csrf_token

URL = "/messagetemplates/edit/activity_assigned/it"
ESCAPES = ("{{ config }}", "{{ self._TemplateReference__context }}", "{{ lipsum.__globals__ }}",
           "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ cycler.__init__.__globals__.os }}",
           "{{ request.environ }}")


@pytest.mark.parametrize("body", ESCAPES)
def test_template_sandbox_refuses_escapes_at_save(app, client, login_as, db, body):
    login_as(ADMIN)
    page = client.get(URL).get_data(as_text=True)
    resp = client.post(URL, data={"csrf_token": csrf_token(page), "save": "1", "subject": "Oggetto",
                                  "body_text": body, "body_html": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert any(mark in html for mark in ('role="alert"', "alert-danger", "has-error"))  # the reason is shown
    assert app.config["SECRET_KEY"] not in html
    assert db.session.scalar(sa.select(MessageTemplate)) is None
