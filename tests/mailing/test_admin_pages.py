"""F-30 / F-31 back office: the jobs page with "run now", the send log and delivery settings,
and the mail catcher (admin only)."""
from __future__ import annotations

import re
import smtplib
import time
from email.message import EmailMessage

import pytest

from tests.crm.helpers import any_csrf_token
import sqlalchemy as sa

from app.models import DeliveryMode, JobRun
from app.services.mailing import invoice_queue
from app.services.mailing.invoice_sender import send_due
from tests.conftest import csrf_token


def _wait_for_run(db, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        run = db.session.scalars(sa.select(JobRun).where(JobRun.job_id == job_id,
                                                         JobRun.finished_at.is_not(None))).first()
        if run:
            return run
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_F30_admin_sees_jobs_and_runs_one_by_hand(client, login_as, db, smtp_server, mailing_data):
    mailing_data(2)
    login_as("Admin")
    page = client.get("/jobs/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for job_id in ("alignment", "outbox", "mail", "invoice_mail"):
        assert f'id="job-{job_id}"' in html
    # Run now: a POST without the CSRF token is refused, with it the job runs under its lease.
    assert client.post("/jobs/invoice_mail/run").status_code == 400
    resp = client.post("/jobs/invoice_mail/run", data={"csrf_token": csrf_token(html)})
    assert resp.status_code == 302
    run = _wait_for_run(db, "invoice_mail")
    assert run.status == "ok" and run.counts["sent"] == 2 and len(smtp_server.messages) == 2
    show = client.get("/jobs/invoice_mail").get_data(as_text=True)
    assert "job-run-ok" in show and "sent" in show
    assert client.get("/jobs/invoice_mail/run").status_code == 405  # no state change on GET
    assert client.get("/jobs/nope").status_code == 404


def test_F30_failed_run_shows_its_error(client, login_as, db, app, monkeypatch):
    from app.jobs import run_job
    from app.services.sync.gateway import set_gateway

    monkeypatch.setitem(app.config, "BILLING_URL", "http://127.0.0.1:9/NAV/WS/DEMO")
    set_gateway(app, None)
    try:
        assert run_job(app, "alignment") == "failed"
    finally:
        set_gateway(app, None)
    login_as("Admin")
    html = client.get("/jobs/alignment").get_data(as_text=True)
    assert "job-run-failed" in html and "<details>" in html


DENIED = (302, 403)


@pytest.mark.parametrize("role", ["Back office", "Manager", "Call center"])
def test_F30_jobs_page_and_mail_catcher_are_admin_only(client, login_as, role):
    login_as(role)
    assert client.get("/jobs/").status_code in DENIED
    assert client.get("/mailcatcher/").status_code in DENIED
    # With a valid CSRF token, so that the refusal is the permission's, not the form's.
    token = any_csrf_token(client.get("/resetmypassword/form").get_data(as_text=True))
    resp = client.post("/jobs/outbox/run", data={"csrf_token": token})
    assert resp.status_code in DENIED and "/jobs/" not in resp.headers.get("Location", "")


@pytest.mark.parametrize("role,allowed", [("Back office", True), ("Manager", True), ("Admin", True),
                                          ("Call center", False), ("Credit check", False)])
def test_F31_send_log_and_settings_for_back_office(client, login_as, db, smtp_server, mailing_data, role, allowed):
    (_, sp, invoice, emails), = mailing_data(1, recipients=2, mode=DeliveryMode.LINK)
    smtp_server.refuse[emails[1]] = (550, "5.1.1 unknown mailbox")
    invoice_queue.build_queue()
    send_due()
    login_as(role)
    log_page = client.get("/invoiceemaillogview/list/")
    settings_page = client.get("/invoicedeliverysettingview/list/")
    if not allowed:
        assert log_page.status_code in DENIED and settings_page.status_code in DENIED
        return
    html = log_page.get_data(as_text=True)
    assert log_page.status_code == 200 and invoice.number in html and emails[0] in html
    assert "550" in html
    settings = settings_page.get_data(as_text=True)
    assert settings_page.status_code == 200 and ", ".join(emails) in settings
    # Read-only: no add, edit or delete.
    assert client.get("/invoiceemaillogview/add").status_code in DENIED + (404,)


def test_F31_mail_catcher_keeps_and_shows_messages(client, login_as, app, tmp_path):
    from app.mailcatcher.server import start
    from simulator.testing import free_port

    app.config["MAILCATCHER_DIR"] = str(tmp_path / "caught")
    port = free_port()
    controller = start(tmp_path / "caught", port=port)
    try:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = "Appuntamento", "noreply@example.org", "op@example.org"
        msg.set_content("Testo del messaggio")
        msg.add_alternative('<p>Ciao <script>alert(1)</script><b>HTML</b></p>', subtype="html")
        ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
               "UID:1@test\r\nDTSTAMP:20261127T100000Z\r\nDTSTART:20261201T090000Z\r\n"
               "SUMMARY:Sopralluogo\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        msg.add_attachment(ics.encode(), maintype="application", subtype="ics", filename="invite.ics")
        msg.add_attachment(b"%PDF-1.4 test", maintype="application", subtype="pdf", filename="fattura.pdf")
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(msg)
    finally:
        controller.stop()
    try:
        login_as("Admin")
        listing = client.get("/mailcatcher/").get_data(as_text=True)
        assert "Appuntamento" in listing and "fattura.pdf" in listing
        name = re.search(r"/mailcatcher/(\d{8}T\d{12}-[0-9a-f]{8}\.eml)", listing).group(1)
        show = client.get(f"/mailcatcher/{name}").get_data(as_text=True)
        assert "Testo del messaggio" in show and "Sopralluogo" in show and 'sandbox=""' in show
        html = client.get(f"/mailcatcher/{name}/html")
        assert "sandbox" in html.headers["Content-Security-Policy"] and b"<b>HTML</b>" in html.data
        part = show.split(f"/mailcatcher/{name}/part/")
        pdf_index = [p.split('"')[0] for p in part[1:]][-1]
        download = client.get(f"/mailcatcher/{name}/part/{pdf_index}")
        assert download.data == b"%PDF-1.4 test" and "attachment" in download.headers["Content-Disposition"]
        assert client.get("/mailcatcher/..%2Fsecret_key").status_code == 404
        assert client.get("/mailcatcher/20261127T000000000000-deadbeef.eml").status_code == 404
        cleared = client.post("/mailcatcher/clear", data={"csrf_token": csrf_token(listing)})
        assert cleared.status_code == 302 and "Appuntamento" not in client.get("/mailcatcher/").get_data(as_text=True)
    finally:
        app.config.pop("MAILCATCHER_DIR")


def test_F31_send_log_and_settings_searched_by_the_customer_typed(client, login_as, db, smtp_server, mailing_data):
    """Staff find a customer's invoice e-mails and delivery settings by typing a name, a customer
    code or a tax code; the search form offers a text field, not a list of every invoice."""
    made = mailing_data(3)
    for (customer, *_), last, code in zip(made, ("Bianchi", "Verdi", "Neri"),
                                          ("BNCNNA80A41H501V", "VRDNNA80A41H501W", "NRENNA80A41H501X")):
        customer.last_name, customer.first_name, customer.tax_code = last, "Anna", code
        customer.search_name = customer.make_search_name(last, "Anna", "")
    db.session.commit()
    invoice_queue.build_queue()
    send_due()
    wanted, _, invoice, emails = made[1]
    others = [m for m in made if m[0].id != wanted.id]
    login_as("Back office")
    for typed in (wanted.last_name.upper(), f" {wanted.last_name.lower()}  {wanted.first_name} ", wanted.code,
                  wanted.tax_code):
        log = client.get("/invoiceemaillogview/list/", query_string={"_flt_0_customer": typed})
        html = log.get_data(as_text=True)
        assert log.status_code == 200 and invoice.number in html and emails[0] in html, typed
        assert not any(o[2].number in html for o in others), typed
        settings = client.get("/invoicedeliverysettingview/list/", query_string={"_flt_0_customer": typed})
        page = settings.get_data(as_text=True)
        assert settings.status_code == 200 and emails[0] in page, typed
        assert not any(o[3][0] in page for o in others), typed
    nobody = client.get("/invoiceemaillogview/list/", query_string={"_flt_0_customer": "Nessuno Cosi"})
    assert nobody.status_code == 200 and not any(m[2].number in nobody.get_data(as_text=True) for m in made)
    form = client.get("/invoiceemaillogview/list/").get_data(as_text=True)
    assert "Cliente (nome, codice, codice fiscale o partita IVA)" in form.replace("\\u0027", "'")
