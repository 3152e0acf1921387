"""F-31 / F-07: the signed link in an invoice e-mail opens that invoice, and only that one."""
import re

from app.services.mailing.invoice_links import invoice_link
from tests import factories


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_F31_invoice_link_opens_the_invoice_and_its_pdf(client, db):
    graph = factories.billing_graph()
    inv = graph["invoice"]
    url = _path(invoice_link(inv.id, inv.customer_id))
    page = client.get(url)
    assert page.status_code == 200 and inv.number in page.get_data(as_text=True)
    token = url.split("t=", 1)[1]
    pdf = client.get(f"/portal/invoices/{inv.id}/pdf?t={token}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_F31_invoice_link_is_bound_to_its_invoice(client, db):
    graph = factories.billing_graph()
    other = factories.invoice(graph["customer"], graph["supply_point"])
    db.session.commit()
    token = _path(invoice_link(graph["invoice"].id, graph["customer"].id)).split("t=", 1)[1]
    resp = client.get(f"/portal/invoices/{other.id}?t={token}")
    assert resp.status_code == 302 and "/portal/login" in resp.headers["Location"]
    tampered = client.get(f"/portal/invoices/{graph['invoice'].id}?t={token[:-2]}xx")
    assert tampered.status_code == 302
    assert client.get(f"/portal/invoices/{graph['invoice'].id}").status_code == 302  # no token, no login
