"""A reset link is kept only until its e-mail leaves: once sent, the stored message holds no
token, while the link in the customer's mailbox still works."""
import re

import sqlalchemy as sa

from app.models import OutgoingMail
from app.services.mailing import mail
from tests.portal.conftest import make_account, post_form


def test_outputs_reset_link_not_kept_after_the_mail_is_sent(client, db, customer_graph, smtp_server):
    user = make_account(db, None, customer_graph["customer"])
    post_form(client, "/portal/reset", {"login": user.username})
    queued = db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.template == "password_reset"))
    assert "/reset/" in queued.context["link"]  # needed until the message is sent
    assert mail.deliver_mail()["sent"] >= 1
    [message] = [m for m in smtp_server.messages if "/reset/" in m.get_body(("plain",)).get_content()]
    link = re.search(r"(/portal/reset/\S+)", message.get_body(("plain",)).get_content()).group(1)
    token = link.rsplit("/", 1)[1]
    db.session.expire_all()
    stored = db.session.get(OutgoingMail, queued.id)
    assert stored.status == "sent" and stored.context["link"] == "" and "_secret" not in stored.context
    rows = db.session.execute(sa.text("SELECT context FROM outgoing_mail")).scalars().all()
    assert not any(token in str(r) for r in rows)  # nowhere in the table
    assert stored.context["username"] == user.username  # the rest of the message is kept
    assert client.get(link).status_code == 200  # the mailed link still opens the reset page
