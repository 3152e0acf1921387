"""Reset links are never stored: the queued request holds what the visitor typed, the link's
token is made when the message is sent and exists only in that process and in the e-mail."""
import re

import sqlalchemy as sa

from app.models import OutgoingMail
from app.services.mailing import mail
from tests.portal.conftest import make_account, post_form


def _stored_text(db) -> str:
    rows = db.session.execute(sa.text("SELECT recipients, context, error FROM outgoing_mail")).all()
    return " ".join(str(value) for row in rows for value in row)


def test_outputs_reset_link_never_stored(client, db, customer_graph, smtp_server):
    user = make_account(db, None, customer_graph["customer"])
    post_form(client, "/portal/reset", {"login": user.username})
    queued = db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.template == "password_reset"))
    assert "/reset/" not in _stored_text(db) and "link" not in queued.context  # no link until sent
    assert mail.deliver_mail()["sent"] >= 1
    [message] = [m for m in smtp_server.messages if "/reset/" in m.get_body(("plain",)).get_content()]
    link = re.search(r"(/portal/reset/\S+)", message.get_body(("plain",)).get_content()).group(1)
    token = link.rsplit("/", 1)[1]
    db.session.expire_all()
    stored = db.session.get(OutgoingMail, queued.id)
    assert stored.status == "sent" and stored.context["link"] == "" and "_secret" not in stored.context
    assert token not in _stored_text(db) and token.split(".")[-1] not in _stored_text(db)  # nowhere
    assert stored.recipients == [customer_graph["customer"].email]  # the customer's timeline shows it
    assert stored.context["username"] == user.username  # the rest of the message is kept
    assert client.get(link).status_code == 200  # the mailed link opens the reset page
