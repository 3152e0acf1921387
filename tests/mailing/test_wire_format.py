"""The bytes the batch puts on the wire are exactly the standard library's (compat32, CRLF):
the fast header path changes the cost, not the message."""
from __future__ import annotations

from email.message import Message
from email.policy import compat32

import pytest

from app.services.mailing import mail
from app.services.mailing.invoice_message import compose
from app.services.mailing.invoice_sender import _CRLF, _envelope

STANDARD = compat32.clone(linesep="\r\n")
FOUR = ["mario.rossi@example.com", "amministrazione.condominio@example.org",
        "studio.commercialista.bianchi@example.net", "x@example.it"]


@pytest.mark.parametrize("subject", ["Your invoice FT2026/000123 is available",
                                     "La tua fattura FT2026/000123 è disponibile"])
@pytest.mark.parametrize("recipients", [FOUR[:1], FOUR])
@pytest.mark.parametrize("pdf", [None, ("fattura-FT2026-000123.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 20)])
def test_invoice_messages_serialise_like_the_standard_library(app, subject, recipients, pdf):
    rendered = mail.Rendered(subject=subject, text="Gentile cliente,\nla fattura è pronta: " + "x" * 120,
                             html="<p>Città di Roma</p>")
    with app.app_context():
        msg = compose(rendered, recipients, attachment=pdf)
    sender, rcpts, data = _envelope(msg)
    assert data == msg.as_bytes(policy=STANDARD)
    assert rcpts == recipients and "@" in sender


@pytest.mark.parametrize("value", [
    "short", "  leading and trailing  ", "two  spaces", "tab\there", "a" * 70, "a" * 71, "a" * 72,
    "word " * 20, "=?utf-8?q?already_encoded?=", "semi; colon, comma (comment) <angle@x.it>",
    "line\r\n continued", "città", "",
])
def test_each_header_folds_like_the_standard_library(value):
    msg = Message()
    msg["X-Test"] = value
    msg["Subject"] = value
    msg.set_payload("body\n")
    assert msg.as_bytes(policy=_CRLF) == msg.as_bytes(policy=STANDARD)
