"""F-06 direct debit: IBAN validation, mandate with reference and PDF, revocation."""
from __future__ import annotations

import io

import sqlalchemy as sa

from app.models import (Activity, ActivityKind, ActivityStatus, DirectDebitMandate,
                        MandateStatus, OutboxMessage, OutgoingMail)
from tests.portal.conftest import post_form

GOOD_IBAN = "IT60 X054 2811 1010 0000 0123 456"


def _mandate(**over):
    data = {"iban": GOOD_IBAN, "holder_last_name": "Rossi", "holder_first_name": "Mario",
            "holder_tax_code": "RSSMRA80A01H501U", "bank": "Banca Popolare", "branch": "Roma 12",
            "branch_address": "Via Nazionale 1, Roma", "accept": "y"}
    data.update(over)
    return data


def test_F06_invalid_iban_and_tax_code(client, db, logged_in):
    url = f"/portal/supply/{logged_in['supply_point'].id}/direct-debit"
    resp = post_form(client, url, _mandate(iban="IT60X0542811101000000123457", holder_tax_code="ABC"))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "IBAN non è valido" in body
    assert "codice fiscale non è valido" in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DirectDebitMandate)) == 0


def test_F06_request_creates_mandate_pdf_activity_and_export(client, db, logged_in):
    from pypdf import PdfReader

    sp = logged_in["supply_point"]
    resp = post_form(client, f"/portal/supply/{sp.id}/direct-debit", _mandate())
    assert resp.status_code == 302
    m = db.session.scalar(sa.select(DirectDebitMandate))
    assert m.iban == "IT60X0542811101000000123456" and m.status == MandateStatus.REQUESTED
    assert m.reference.startswith("SPT-")
    a = db.session.get(Activity, m.activity_id)
    assert a.kind == ActivityKind.DIRECT_DEBIT and "123456" not in str(a.payload["iban"][:-4])
    msg = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.activity_id == a.id))
    assert msg.operation == "request_mandate" and msg.payload["mandate_reference"] == m.reference
    assert db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.template == "iban_changed"))
    pdf = client.get(f"/portal/mandates/{m.id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert m.reference in text and "Mandato" in text
    page = client.get(f"/portal/supply/{sp.id}/direct-debit").get_data(as_text=True)
    assert m.reference in page and GOOD_IBAN.replace(" ", "") not in page  # masked
    again = post_form(client, f"/portal/supply/{sp.id}/direct-debit", _mandate())
    assert again.status_code == 400 and "già in lavorazione" in again.get_data(as_text=True)


def test_F06_revoke(client, db, logged_in):
    sp = logged_in["supply_point"]
    resp = post_form(client, f"/portal/supply/{sp.id}/direct-debit/revoke", {},
                     page_url=f"/portal/supply/{sp.id}/direct-debit")
    assert resp.status_code == 302
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.DIRECT_DEBIT))
    assert a.payload["action"] == "revoke" and a.status == ActivityStatus.NEW
    assert db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.operation == "revoke_mandate"))


def test_F06_mandate_pdf_renders_outside_a_request(db, customer_graph):
    """Back-office jobs regenerate mandates without a web request (English customer)."""
    from app.services.portal.direct_debit import render_mandate_pdf

    sp = customer_graph["supply_point"]
    m = DirectDebitMandate(supply_point_id=sp.id, reference="SPT-TEST-1", iban="IT60X0542811101000000123456",
                           holder_last_name="Rossi")
    db.session.add(m)
    db.session.flush()
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(render_mandate_pdf(m, "en"))).pages[0].extract_text()
    assert "SEPA Direct Debit Mandate" in text and "SPT-TEST-1" in text
