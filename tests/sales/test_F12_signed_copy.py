"""F-12: the signed copy is uploaded on the contract page, its type decided by its content; it
sets "signed on", is kept with the contract, served as an attachment with nosniff, audited and
e-mailed to the customer; a wrong, empty or oversized file is refused and changes nothing."""
import io

import sqlalchemy as sa
from PIL import Image

from app.models import AuditLog, Contract, ContractSignedCopy
from app.roles import AGENT, BACK_OFFICE
from app.services.core import settings
from app.services.mailing.mail import deliver_mail
from tests.security.fixtures_auth import staff_logout
from tests.conftest import csrf_token
from tests.sales.helpers import agent_for, entered_contract


def _scan_pdf() -> bytes:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, "PNG")
    return out.getvalue()


def _agent_contract(client, login_as):
    user = login_as(AGENT)
    agent_for(user)
    return user, entered_contract(user)


def _upload(client, contract, data: bytes, name: str, content_type: str):
    page = client.get(f"/sales/contracts/{contract.id}").get_data(as_text=True)
    return client.post(f"/sales/contracts/{contract.id}/signed", follow_redirects=True,
                       content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(page), "file": (io.BytesIO(data), name, content_type)})


def _copies(db, contract):
    return db.session.scalars(sa.select(ContractSignedCopy).where(ContractSignedCopy.contract_id == contract.id)).all()


def test_F12_a_pdf_named_png_is_stored_as_pdf_sets_signed_on_and_reaches_the_customer(
        client, login_as, db, smtp_server):
    _user, contract = _agent_contract(client, login_as)
    assert contract.signed_on is None  # submitting (and printing) signs nothing
    page = _upload(client, contract, _scan_pdf(), "scansione.png", "image/png")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Copia firmata conservata" in html
    [copy] = _copies(db, contract)
    assert copy.media_type == "application/pdf"
    db.session.expire_all()
    assert db.session.get(Contract, contract.id).signed_on is not None
    assert "Firmato il" in html
    assert db.session.scalar(sa.select(AuditLog).where(AuditLog.entity_type == "contract",
                                                       AuditLog.action == "signed_copy")) is not None
    served = client.get(f"/sales/contracts/{contract.id}/signed/{copy.id}")
    assert served.status_code == 200 and served.mimetype == "application/pdf"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert served.data.startswith(b"%PDF-")
    assert deliver_mail()["sent"] == 1
    [msg] = smtp_server.messages
    assert msg.envelope_rcpt == ["giuseppe@example.com"] and contract.number in msg["Subject"]
    [attached] = list(msg.iter_attachments())
    assert attached.get_content_type() == "application/pdf" and attached.get_content().startswith(b"%PDF-")


def test_F12_html_named_pdf_is_refused_and_the_contract_is_unchanged(client, login_as, db):
    _user, contract = _agent_contract(client, login_as)
    page = _upload(client, contract, b"<html><script>alert(1)</script></html>", "contratto.pdf", "application/pdf")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Solo un file PDF, JPEG o PNG" in html
    assert _copies(db, contract) == []
    db.session.expire_all()
    assert db.session.get(Contract, contract.id).signed_on is None


def test_F12_fake_png_and_empty_file_are_refused(client, login_as, db):
    _user, contract = _agent_contract(client, login_as)
    html = _upload(client, contract, b"\x89PNG\r\n\x1a\nnot really", "firma.png", "image/png").get_data(as_text=True)
    assert "Solo un file PDF, JPEG o PNG" in html
    html = _upload(client, contract, b"", "vuoto.pdf", "application/pdf").get_data(as_text=True)
    assert "Il file è vuoto" in html
    assert _copies(db, contract) == []


def test_F12_oversized_file_refused_by_the_setting(client, login_as, db):
    settings.update({"signed_copy_max_mb": 1})
    _user, contract = _agent_contract(client, login_as)
    big = _scan_pdf() + b"%" + b"0" * (1024 * 1024)
    html = _upload(client, contract, big, "grande.pdf", "application/pdf").get_data(as_text=True)
    assert "più grande di 1 MB" in html
    assert _copies(db, contract) == []


def test_F12_png_uploaded_by_the_back_office_and_another_agent_gets_404(client, login_as, db, make_user):
    owner, _ = make_user(AGENT)
    agent_for(owner)
    contract = entered_contract(owner)
    login_as(BACK_OFFICE)
    page = _upload(client, contract, _png(), "firma.pdf", "application/pdf")
    assert _copies(db, contract)[0].media_type == "image/png"
    [copy] = _copies(db, contract)
    staff_logout(client)
    agent_for(login_as(AGENT))
    assert client.get(f"/sales/contracts/{contract.id}/signed/{copy.id}").status_code == 404
    assert client.post(f"/sales/contracts/{contract.id}/signed", data={}).status_code in (400, 404)
    assert page.status_code == 200


def test_F12_back_office_contract_page_offers_the_upload_and_lists_the_mandate(client, login_as, db, make_user):
    owner, _ = make_user(AGENT)
    agent_for(owner)
    contract = entered_contract(owner)
    login_as(BACK_OFFICE)
    page = client.get(f"/contractview/show/{contract.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Carica la copia firmata" in html and f"/sales/contracts/{contract.id}/signed" in html
    assert "Non ancora firmato" in html and "Mandato per addebito diretto SEPA" in html
