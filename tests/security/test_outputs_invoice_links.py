"""Invoice-link tokens are revocable: a customer who turns invoice e-mail off, or changes the
addresses, makes the links already e-mailed stop opening the invoice; new links work."""
import datetime as dt
import re

from app.models import DeliveryMode
from app.services.mailing.invoice_links import invoice_link
from app.services.portal import invoice_delivery
from tests import factories


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _back_in_time(monkeypatch, seconds: int) -> None:
    """Links issued `seconds` ago (itsdangerous stamps them with the current time)."""
    import itsdangerous.timed

    real = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                        lambda self: real(self) - seconds)


def test_outputs_invoice_links_revoked_when_the_addresses_change_or_delivery_ends(client, db, monkeypatch):
    from app.models.base import utcnow

    graph = factories.billing_graph()
    inv, sp = graph["invoice"], graph["supply_point"]
    now = utcnow()
    invoice_delivery.save(None, sp, True, DeliveryMode.LINK, ["anna@example.org"])
    with monkeypatch.context() as m:
        _back_in_time(m, 10)
        sent = _path(invoice_link(inv.id, inv.customer_id))  # e-mailed 10 s ago
    assert client.get(sent).status_code == 200
    # The same address saved again (the mode changes): the links keep working.
    invoice_delivery.save(None, sp, True, DeliveryMode.PDF, ["anna@example.org"])
    assert client.get(sent).status_code == 200
    # Another address (5 s ago): the links sent before no longer open the invoice.
    monkeypatch.setattr(invoice_delivery, "utcnow", lambda: now - dt.timedelta(seconds=5))
    invoice_delivery.save(None, sp, True, DeliveryMode.LINK, ["nuovo@example.org"])
    refused = client.get(sent)
    assert refused.status_code == 302 and "/portal/login" in refused.headers["Location"]
    assert "non è valido" in client.get(refused.headers["Location"]).get_data(as_text=True)
    fresh = _path(invoice_link(inv.id, inv.customer_id))  # a link sent after the change works
    assert client.get(fresh).status_code == 200
    # Invoice e-mail turned off (5 s from now): that link stops working too.
    monkeypatch.setattr(invoice_delivery, "utcnow", lambda: now + dt.timedelta(seconds=5))
    invoice_delivery.save(None, sp, False, DeliveryMode.LINK, [])
    assert client.get(fresh).status_code == 302
