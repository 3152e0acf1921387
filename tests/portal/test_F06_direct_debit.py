"""F-06 direct debit: IBAN validation (any SEPA country), mandate with reference and PDF, the
mandate's life (requested → active / rejected → revoke requested → revoked, replaced) by the
back office and by what billing reports at alignment, revocation with confirmation, e-mails."""
from __future__ import annotations

import io
import re

import sqlalchemy as sa

from app.models import (Activity, ActivityKind, ActivityStatus, AuditLog, DirectDebitMandate,
                        MandateStatus, OutboxMessage, OutgoingMail, PaymentMethod, SupplyPoint)
from app.roles import BACK_OFFICE, CALL_CENTER
from tests.conftest import csrf_token, staff_login
from tests.portal.conftest import PASSWORD, make_account, portal_login, post_form, received_mail

GOOD_IBAN = "IT60 X054 2811 1010 0000 0123 456"
GERMAN_IBAN = "DE89 3704 0044 0532 0130 00"
BRAZILIAN_IBAN = "BR15 0000 0000 0000 1093 2840 814P 2"  # valid, outside the SEPA area


def _mandate(**over):
    data = {"iban": GOOD_IBAN, "holder_last_name": "Rossi", "holder_first_name": "Mario",
            "holder_tax_code": "RSSMRA80A01H501U", "bank": "Banca Popolare", "branch": "Roma 12",
            "branch_address": "Via Nazionale 1, Roma", "accept": "y", "current_password": PASSWORD}
    data.update(over)
    return data


def _postal_slip(db, sp):
    """A supply point paid by postal slip (no mandate in billing)."""
    sp.payment_method, sp.iban, sp.mandate_reference, sp.account_holder = PaymentMethod.POSTAL_SLIP, "", "", ""
    db.session.commit()


def _requested(db, sp) -> DirectDebitMandate:
    return db.session.scalar(sa.select(DirectDebitMandate).where(
        DirectDebitMandate.supply_point_id == sp.id, DirectDebitMandate.status == MandateStatus.REQUESTED))


def _staff(app, make_user, role=BACK_OFFICE):
    """A second browser session, signed in as staff."""
    user, password = make_user(role)
    staff = app.test_client()
    staff_login(staff, user.username, password)
    return staff, user


def _decide(staff, mandate, decision, reason=""):
    page = staff.get(f"/mandateview/show/{mandate.id}")
    assert page.status_code == 200
    return staff.post(f"/mandateview/decide/{mandate.id}", data={
        "decision": decision, "reason": reason, "csrf_token": csrf_token(page.get_data(as_text=True))})


def test_F06_invalid_iban_and_tax_code(client, db, logged_in):
    url = f"/portal/supply/{logged_in['supply_point'].id}/direct-debit"
    resp = post_form(client, url, _mandate(iban="IT60X0542811101000000123457", holder_tax_code="ABC"))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "IBAN non è valido" in body
    assert "codice fiscale non è valido" in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DirectDebitMandate)) == 0


def test_F06_any_sepa_iban_is_accepted_outside_sepa_refused(client, db, logged_in):
    sp = logged_in["supply_point"]
    _postal_slip(db, sp)
    url = f"/portal/supply/{sp.id}/direct-debit"
    refused = post_form(client, url, _mandate(iban=BRAZILIAN_IBAN))
    assert refused.status_code == 400
    assert "Questo IBAN è di una banca fuori" in refused.get_data(as_text=True)
    assert _requested(db, sp) is None
    accepted = post_form(client, url, _mandate(iban=GERMAN_IBAN))
    assert accepted.status_code == 302
    assert _requested(db, sp).iban == "DE89370400440532013000"


def test_F06_request_creates_mandate_pdf_activity_and_export(client, db, logged_in):
    from pypdf import PdfReader

    sp = logged_in["supply_point"]
    _postal_slip(db, sp)
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
    # While it is pending the page says so, before any form: there is no form to fill.
    assert "Richiesta in lavorazione" in page
    assert 'name="iban"' not in page
    again = post_form(client, f"/portal/supply/{sp.id}/direct-debit", _mandate())
    # A form sent anyway (an older tab) lands back on the page that shows the pending request,
    # with the reason and no error pointing at a field the page does not show.
    assert again.status_code == 302 and again.location.endswith(f"/portal/supply/{sp.id}/direct-debit")
    shown = client.get(again.location).get_data(as_text=True)
    assert "già in lavorazione" in shown and "Richiesta in lavorazione" in shown and 'href="#iban"' not in shown
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DirectDebitMandate)) == 1


def test_F06_rejected_by_back_office_then_requested_again_with_a_german_iban(
        client, db, app, logged_in, make_user):
    sp = logged_in["supply_point"]
    _postal_slip(db, sp)
    url = f"/portal/supply/{sp.id}/direct-debit"
    assert post_form(client, url, _mandate()).status_code == 302
    first = _requested(db, sp)

    # A call-center operator may read but not decide; the back office decides.
    reader, _ = _staff(app, make_user, CALL_CENTER)
    assert reader.get(f"/mandateview/show/{first.id}").status_code == 403
    staff, clerk = _staff(app, make_user)
    queue = staff.get("/mandatequeueview/list/").get_data(as_text=True)
    assert first.reference in queue
    refused = _decide(staff, first, "reject", "")
    assert refused.status_code == 302
    db.session.expire_all()
    assert db.session.get(DirectDebitMandate, first.id).status == MandateStatus.REQUESTED  # no reason, no rejection
    resp = _decide(staff, first, "reject", "Il conto indicato non accetta addebiti diretti")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/mandateview/show/{first.id}")
    landed = staff.get(resp.headers["Location"]).get_data(as_text=True)
    assert "respinto" in landed and "Il conto indicato non accetta addebiti diretti" in landed
    db.session.expire_all()
    first = db.session.get(DirectDebitMandate, first.id)
    assert first.status == MandateStatus.REJECTED
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "mandate_reject"))
    assert audit.actor_id == clerk.id and audit.entity_id == str(first.id)
    told = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.operation == "set_mandate_status"))
    assert told.payload["status"] == "rejected" and told.payload["mandate_reference"] == first.reference
    notice = db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.template == "mandate_rejected"))
    assert notice.context["reason"] == "Il conto indicato non accetta addebiti diretti"

    # The customer sees the reason and the form again, and asks with a German account.
    page = client.get(url).get_data(as_text=True)
    assert "Il conto indicato non accetta addebiti diretti" in page and "Respinta" in page
    assert 'name="iban"' in page
    assert post_form(client, url, _mandate(iban=GERMAN_IBAN)).status_code == 302
    second = _requested(db, sp)
    assert second.id != first.id and second.iban == "DE89370400440532013000"
    # A decided mandate offers no decision and cannot be decided again.
    assert "decide-accept" not in staff.get(f"/mandateview/show/{first.id}").get_data(as_text=True)
    token = csrf_token(staff.get(f"/mandateview/show/{second.id}").get_data(as_text=True))
    again = staff.post(f"/mandateview/decide/{first.id}", data={"decision": "accept", "csrf_token": token})
    assert again.status_code == 302
    assert "Si può accettare o respingere solo un mandato richiesto" in staff.get(
        again.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(DirectDebitMandate, first.id).status == MandateStatus.REJECTED


def test_F06_revocation_asks_confirmation_and_sends_its_own_email(client, db, logged_in, smtp_server):
    from app.services.mailing import mail

    sp = logged_in["supply_point"]  # paid by direct debit in billing
    page = client.get(f"/portal/supply/{sp.id}/direct-debit").get_data(as_text=True)
    assert f'href="/portal/supply/{sp.id}/direct-debit/revoke"' in page  # a link to a page, not a one-click form
    confirm = client.get(f"/portal/supply/{sp.id}/direct-debit/revoke")
    body = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Vuoi revocare" in body and sp.mandate_reference in body
    assert db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.operation == "revoke_mandate")) is None
    resp = post_form(client, f"/portal/supply/{sp.id}/direct-debit/revoke", {})
    assert resp.status_code == 302
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.DIRECT_DEBIT))
    assert a.payload["action"] == "revoke" and a.status == ActivityStatus.NEW
    assert db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.operation == "revoke_mandate"))
    page = client.get(f"/portal/supply/{sp.id}/direct-debit").get_data(as_text=True)
    assert "Revoca richiesta" in page and 'name="iban"' not in page
    assert f'href="/portal/supply/{sp.id}/direct-debit/revoke"' not in page

    assert mail.deliver_mail()["sent"] >= 1
    revoke_mails = [m for m in smtp_server.messages if "revoca" in m["Subject"].lower()]
    assert len(revoke_mails) == 1
    assert revoke_mails[0]["To"] == logged_in["customer"].email
    text = revoke_mails[0].get_body(("plain",)).get_content()
    assert sp.mandate_reference in text and "Revoca richiesta" in text
    assert not [m for m in smtp_server.messages if "modifica della domiciliazione" in m["Subject"]]


def test_F06_optional_bic_is_checked_stored_and_printed_on_the_mandate(client, db, logged_in):
    from pypdf import PdfReader

    sp = logged_in["supply_point"]
    _postal_slip(db, sp)
    url = f"/portal/supply/{sp.id}/direct-debit"
    assert 'name="bic"' in client.get(url).get_data(as_text=True)
    wrong = post_form(client, url, _mandate(bic="BPMOXX22"))
    assert wrong.status_code == 400 and "Questo BIC non è valido" in wrong.get_data(as_text=True)
    assert _requested(db, sp) is None
    assert post_form(client, url, _mandate(bic="bpmo it 22")).status_code == 302
    mandate = _requested(db, sp)
    assert mandate.bic == "BPMOIT22"
    pdf = client.get(f"/portal/mandates/{mandate.id}/pdf").data
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "BIC (codice SWIFT) BPMOIT22" in " ".join(text.split())
    export = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.operation == "request_mandate"))
    assert "bic" not in export.payload  # billing knows the bank from the IBAN


def test_F06_mandate_without_bic_prints_none(client, db, logged_in):
    from pypdf import PdfReader

    sp = logged_in["supply_point"]
    _postal_slip(db, sp)
    assert post_form(client, f"/portal/supply/{sp.id}/direct-debit", _mandate()).status_code == 302
    mandate = _requested(db, sp)
    assert mandate.bic == ""
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(client.get(f"/portal/mandates/{mandate.id}/pdf").data)).pages)
    assert "BIC" not in text


def test_F06_request_shows_and_mails_its_reference(client, db, logged_in, smtp_server):
    sp = logged_in["supply_point"]
    _postal_slip(db, sp)
    resp = post_form(client, f"/portal/supply/{sp.id}/direct-debit", _mandate())
    assert resp.status_code == 302
    mandate = _requested(db, sp)
    reference = mandate.activity.reference
    page = client.get(resp.location).get_data(as_text=True)
    assert (f"La richiesta di domiciliazione è stata registrata. Riferimento del mandato: "
            f"{mandate.reference}. Numero della richiesta: {reference}.") in page
    msg = received_mail(smtp_server, reference)
    assert msg["To"] == logged_in["customer"].email
    assert msg["Subject"] == f"Abbiamo ricevuto la tua richiesta {reference}"


def test_F06_revocation_shows_and_mails_its_reference_in_english(client, db, logged_in, smtp_server):
    sp = logged_in["supply_point"]  # paid by direct debit in billing
    url = f"/portal/supply/{sp.id}/direct-debit/revoke"
    post_form(client, "/portal/language", {"language": "en", "next": ""}, page_url=url)
    resp = post_form(client, url, {})
    assert resp.status_code == 302
    a = db.session.scalar(sa.select(Activity).where(Activity.kind == ActivityKind.DIRECT_DEBIT))
    page = client.get(resp.location).get_data(as_text=True)
    assert f"Your request to end direct debit has been recorded. Reference number: {a.reference}." in page
    msg = received_mail(smtp_server, a.reference)
    assert msg["To"] == logged_in["customer"].email
    assert msg["Subject"] == f"We have received your request {a.reference}"


def _sim_customer(db, app, billing_sim):
    """A customer of billing's data set paid by direct debit, registered on the portal."""
    from app.services.sync.alignment import align
    from app.models import Invoice

    assert align(full=True).status == "ok"
    sp = db.session.scalar(sa.select(SupplyPoint).where(
        SupplyPoint.payment_method == PaymentMethod.SDD, SupplyPoint.mandate_reference != "",
        SupplyPoint.customer_id.in_(sa.select(Invoice.customer_id).where(Invoice.web_code != "")))
        .order_by(SupplyPoint.id))
    user = make_account(db, app, sp.customer)
    return sp, user


def test_F06_alignment_activates_a_mandate_replaces_the_old_one_and_tells_the_customer(
        client, db, app, billing_sim, smtp_server):
    from app.services.mailing import mail
    from app.services.sync.alignment import align
    from app.services.sync.outbox import deliver_due

    sp, user = _sim_customer(db, app, billing_sim)
    old_reference = sp.mandate_reference
    assert portal_login(client, user.username).status_code == 302
    url = f"/portal/supply/{sp.id}/direct-debit"
    page = client.get(url).get_data(as_text=True)
    assert "Cambia il conto" in page  # an active mandate: a new IBAN may be given
    assert post_form(client, url, _mandate(iban=GERMAN_IBAN)).status_code == 302
    new = _requested(db, sp)
    old = db.session.scalar(sa.select(DirectDebitMandate).where(DirectDebitMandate.reference == old_reference))
    assert old.status == MandateStatus.ACTIVE  # stays active until the new one is

    assert deliver_due()["delivered"] >= 1
    assert align().status == "ok"
    db.session.expire_all()
    assert db.session.get(DirectDebitMandate, new.id).status == MandateStatus.REQUESTED  # billing: pending
    assert db.session.get(DirectDebitMandate, old.id).status == MandateStatus.ACTIVE

    billing_sim.decide_mandate(sp.code, "active")  # the bank answers
    assert align().status == "ok"
    db.session.expire_all()
    assert db.session.get(DirectDebitMandate, new.id).status == MandateStatus.ACTIVE
    assert db.session.get(DirectDebitMandate, old.id).status == MandateStatus.REPLACED
    sp = db.session.get(SupplyPoint, sp.id)
    assert (sp.payment_method, sp.iban, sp.mandate_reference) == \
        (PaymentMethod.SDD, "DE89370400440532013000", new.reference)
    page = client.get(url).get_data(as_text=True)
    assert "Sostituita da un nuovo mandato" in page and "Attiva" in page

    mail.deliver_mail()
    active = [m for m in smtp_server.messages if "attivo" in m["Subject"].lower()]
    assert len(active) == 1 and new.reference in active[0].get_body(("plain",)).get_content()
    assert align().status == "ok"  # aligning again changes nothing and tells no one twice
    assert mail.deliver_mail()["sent"] == 0


def test_F06_billing_rejection_and_confirmed_revocation(client, db, app, billing_sim):
    from app.services.sync.alignment import align
    from app.services.sync.outbox import deliver_due

    sp, user = _sim_customer(db, app, billing_sim)
    assert portal_login(client, user.username).status_code == 302
    url = f"/portal/supply/{sp.id}/direct-debit"
    # Revocation: "revocation requested" until billing has it, then revoked.
    assert post_form(client, f"{url}/revoke", {}).status_code == 302
    revoked = db.session.scalar(sa.select(DirectDebitMandate).where(
        DirectDebitMandate.reference == sp.mandate_reference))
    assert revoked.status == MandateStatus.REVOKE_REQUESTED
    assert align().status == "ok"
    db.session.expire_all()
    assert db.session.get(DirectDebitMandate, revoked.id).status == MandateStatus.REVOKE_REQUESTED
    deliver_due()
    assert align().status == "ok"
    db.session.expire_all()
    assert db.session.get(DirectDebitMandate, revoked.id).status == MandateStatus.REVOKED
    assert db.session.get(SupplyPoint, sp.id).payment_method == PaymentMethod.POSTAL_SLIP

    # After the revocation a new request is taken; billing rejects it with a reason.
    assert 'name="iban"' in client.get(url).get_data(as_text=True)
    assert post_form(client, url, _mandate()).status_code == 302
    new = _requested(db, sp)
    deliver_due()
    billing_sim.decide_mandate(sp.code, "rejected", "Firma non conforme")
    assert align().status == "ok"
    db.session.expire_all()
    new = db.session.get(DirectDebitMandate, new.id)
    assert (new.status, new.rejection_reason) == (MandateStatus.REJECTED, "Firma non conforme")
    page = client.get(url).get_data(as_text=True)
    assert "Firma non conforme" in page and 'name="iban"' in page
    assert db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.template == "mandate_rejected"))


def test_F06_back_office_acceptance_reaches_billing(client, db, app, billing_sim, make_user):
    from app.services.sync.alignment import align
    from app.services.sync.outbox import deliver_due

    sp, user = _sim_customer(db, app, billing_sim)
    assert portal_login(client, user.username).status_code == 302
    assert post_form(client, f"/portal/supply/{sp.id}/direct-debit", _mandate(iban=GERMAN_IBAN)).status_code == 302
    new = _requested(db, sp)
    staff, _ = _staff(app, make_user)
    resp = _decide(staff, new, "accept")
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(DirectDebitMandate, new.id).status == MandateStatus.ACTIVE
    assert deliver_due()["delivered"] >= 2  # the request, then the decision
    billing = {m["reference"]: m["status"] for m in billing_sim.control("mandates", supply_point=sp.code)["mandates"]}
    assert billing[new.reference] == "active"
    assert align().status == "ok"
    db.session.expire_all()
    assert db.session.get(DirectDebitMandate, new.id).status == MandateStatus.ACTIVE
    assert db.session.get(SupplyPoint, sp.id).iban == "DE89370400440532013000"


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


def test_F06_mandate_emails_greet_first_name_first_and_carry_the_signature(
        client, db, app, logged_in, make_user, smtp_server):
    from app.services.core import settings

    from app.services.mailing import mail

    c, sp = logged_in["customer"], logged_in["supply_point"]
    _postal_slip(db, sp)
    url = f"/portal/supply/{sp.id}/direct-debit"
    staff, _ = _staff(app, make_user)
    assert post_form(client, url, _mandate()).status_code == 302
    assert _decide(staff, _requested(db, sp), "reject", "Firma non conforme").status_code == 302
    assert post_form(client, url, _mandate(iban=GERMAN_IBAN)).status_code == 302
    assert _decide(staff, _requested(db, sp), "accept").status_code == 302
    assert post_form(client, f"{url}/revoke", {}).status_code == 302
    settings.update({"company_name": "Energia Tirrena S.p.A.", "company_customer_service_phone": "800 123 456"})
    try:
        mail.deliver_mail()
    finally:
        settings.update({"company_name": "", "company_customer_service_phone": ""})
    subjects = {"mandate_rejected": "Richiesta di addebito diretto non accettata per la fornitura",
                "mandate_active": "Addebito diretto attivo per la fornitura",
                "mandate_revoke_requested": "Richiesta di revoca dell'addebito diretto per la fornitura"}
    for kind, subject in subjects.items():
        [msg] = [m for m in smtp_server.messages if m["Subject"].strip() == f"{subject} {sp.point_code}"]
        body = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert body.startswith(f"Gentile {c.first_name} {c.last_name},\n"), (kind, body[:60])
        assert body.rstrip().endswith("Cordiali saluti,\nEnergia Tirrena S.p.A.\nServizio clienti: 800 123 456"), kind


def test_F06_mandate_emails_exist_in_both_languages(app, db):
    from app.services.mailing import mail, templates

    context = {"name": "Anna Bianchi", "supply_point": "00880000123456", "reference": "SPT-X-1",
               "iban": "••••3456", "reason": "Firma non conforme"}
    names = set(mail.template_names())
    for kind in ("mandate_active", "mandate_rejected", "mandate_revoke_requested"):
        assert kind in names
        for lang in ("it", "en"):
            assert mail.default_template(kind, lang)  # shipped in this language, not a fallback
            rendered = mail.render(kind, lang, context)
            assert "SPT-X-1" in rendered.text
            assert {"it": "Cordiali saluti,", "en": "Kind regards,"}[lang] in rendered.text
        assert templates.sample_context(kind)["reference"]
    assert "Firma non conforme" in mail.render("mandate_rejected", "en", context).text
    assert re.search(r"revoc", mail.render("mandate_revoke_requested", "it", context).subject, re.I)
