"""F-31: nightly invoice e-mails to a real SMTP server (aiosmtpd), link and PDF mode."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import sqlalchemy as sa

from app.models import (DeliveryMode, InvoiceDeliveryRecipient, InvoiceDeliverySetting, InvoiceEmailLog,
                        SendOutcome)
from app.jobs import run_job
from app.jobs.invoice_mail import invoice_mail_job, run_batch
from app.models.base import utcnow
from app.services.core import settings
from app.services.mailing import invoice_links, invoice_queue
from app.services.mailing.invoice_sender import send_due
from tests import factories

from .conftest import pdf_text, with_delivery


def _log(db):
    return db.session.scalars(sa.select(InvoiceEmailLog).order_by(InvoiceEmailLog.id)).all()


def _deliveries(sink) -> Counter:
    """(subject, envelope address) -> times received."""
    return Counter((m["Subject"], rcpt) for m in sink.messages for rcpt in m.envelope_rcpt)


def test_F31_link_mode_four_recipients_logged_second_run_sends_nothing(smtp_server, mailing_data, db, app):
    (customer, sp, invoice, emails), = mailing_data(1, recipients=4)
    counts = invoice_mail_job()
    assert counts["queued"] == 4 and counts["sent"] == 4 and counts["messages"] == 1
    assert len(smtp_server.messages) == 1
    msg = smtp_server.messages[0]
    assert sorted(msg.envelope_rcpt) == sorted(emails)
    assert invoice.number in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    link = next(line for line in text.splitlines() if "/portal/invoices/" in line).strip()
    assert link.startswith(app.config["PUBLIC_BASE_URL"] + f"/portal/invoices/{invoice.id}?t=")
    token = link.split("?t=")[1]
    assert invoice_links.read_invoice_token(token, invoice.id) == {"invoice_id": invoice.id, "customer_id": customer.id}
    assert invoice_links.read_invoice_token(token, invoice.id + 1) is None
    assert invoice_links.read_invoice_token(token[:-2] + "xx") is None
    assert "Gentile" in text and "Scadenza" in text  # the customer's language: Italian
    assert msg.get_body(("html",)) is not None
    rows = _log(db)
    assert [(r.email, r.outcome, r.attempts) for r in rows] == [(e, SendOutcome.SENT, 1) for e in emails]
    assert all(r.message_id == msg["Message-ID"] and r.sent_at and r.mode == DeliveryMode.LINK for r in rows)
    # A second run sends nothing new.
    again = invoice_mail_job()
    assert again["queued"] == 0 and again["messages"] == 0 and len(smtp_server.messages) == 1


def test_F31_pdf_mode_attaches_a_valid_pdf_with_the_invoice_number(smtp_server, mailing_data, db, app):
    app.config["INVOICE_PDF_FROM_BILLING"] = False
    try:
        (customer, sp, invoice, emails), = mailing_data(1, recipients=2, mode=DeliveryMode.PDF, language="en")
        counts = invoice_mail_job()
    finally:
        app.config.pop("INVOICE_PDF_FROM_BILLING")
    assert counts["sent"] == 2 and len(smtp_server.messages) == 1
    msg = smtp_server.messages[0]
    assert "Dear" in msg.get_body(("plain",)).get_content()  # English customer
    (att,) = list(msg.iter_attachments())
    assert att.get_content_type() == "application/pdf" and att.get_filename().endswith(".pdf")
    data = att.get_content()
    assert data.startswith(b"%PDF") and invoice.number in pdf_text(data)
    # Rendered once and stored on the invoice.
    db.session.expire_all()
    assert db.session.get(type(invoice), invoice.id).pdf == data


def test_F31_only_new_invoices_of_supply_points_with_delivery_on(smtp_server, db):
    c = factories.customer()
    on, off, late = factories.supply_point(c), factories.supply_point(c), factories.supply_point(c)
    with_delivery(on, ["on@example.org"])
    with_delivery(off, ["off@example.org"], enabled=False)
    with_delivery(late, ["late@example.org"], since=dt.date(2026, 11, 1))
    mailed = factories.invoice(c, on)
    factories.invoice(c, off)
    factories.invoice(c, late, invoice_date=dt.date(2026, 10, 15))  # before active_since
    factories.invoice(c, None)
    db.session.commit()
    assert invoice_queue.build_queue() == 1
    assert [(r.invoice_id, r.email) for r in _log(db)] == [(mailed.id, "on@example.org")]
    # An address added later does not receive invoices already mailed to the others.
    setting = db.session.scalars(sa.select(InvoiceDeliverySetting)
                                 .where(InvoiceDeliverySetting.supply_point_id == on.id)).one()
    db.session.add(InvoiceDeliveryRecipient(setting_id=setting.id, position=2, email="new@example.org"))
    db.session.commit()
    assert invoice_queue.build_queue() == 0


def test_F31_temporary_refusals_after_n_messages_then_recovery_send_each_once(smtp_server, mailing_data, db):
    data = mailing_data(12, recipients=2)

    class DeferAfter:
        """The sink's DATA answers: 451 for three messages after the first five."""
        def __init__(self, after, times):
            self.seen, self.after, self.left = 0, after, times

        def __bool__(self):
            self.seen += 1
            return self.seen > self.after and self.left > 0

        def pop(self, _index):
            self.left -= 1
            return (451, "4.7.1 Try again later")

    smtp_server.fail_data = DeferAfter(5, 3)
    assert invoice_queue.build_queue() == 24
    first = send_due()
    assert first["sent"] == 18 and first["retry"] == 6
    retry_rows = [r for r in _log(db) if r.outcome == SendOutcome.RETRY]
    assert len(retry_rows) == 6 and all("451" in r.error and r.next_attempt_at > utcnow() for r in retry_rows)
    assert send_due()["messages"] == 0  # not due yet
    later = send_due(now=utcnow() + dt.timedelta(hours=2))
    assert later["sent"] == 6
    got = _deliveries(smtp_server)
    expected = {(f"La tua bolletta {inv.number} è disponibile", e) for _, _, inv, emails in data for e in emails}
    assert set(got) == expected and set(got.values()) == {1}
    assert {r.outcome for r in _log(db)} == {SendOutcome.SENT}


def test_F31_a_claim_takes_every_due_row_of_an_invoice_even_when_its_rows_are_apart(mailing_data, db):
    """Rows of one invoice written apart (a recipient added later) are claimed together, so
    its addresses get one message; the scan's limit never splits an invoice."""
    (_, _, first, _), (_, _, second, _) = mailing_data(2)
    limit = InvoiceDeliverySetting.MAX_RECIPIENTS
    rows = [(first.id, "first-1@example.org")]
    rows += [(second.id, f"second-{k}@example.org") for k in range(1, limit)]
    rows += [(first.id, "first-2@example.org")]
    for invoice_id, address in rows:  # one by one: the table holds them in this order
        db.session.add(InvoiceEmailLog(invoice_id=invoice_id, email=address, mode=DeliveryMode.LINK))
        db.session.flush()
    db.session.commit()
    ids = invoice_queue.claim("worker-1", utcnow(), messages=1)
    db.session.commit()
    claimed = db.session.scalars(sa.select(InvoiceEmailLog.email).where(InvoiceEmailLog.id.in_(ids))).all()
    assert sorted(claimed) == ["first-1@example.org", "first-2@example.org"]


def test_F31_permanent_refusal_of_one_address_fails_it_others_delivered(smtp_server, mailing_data, db):
    (_, _, invoice, emails), = mailing_data(1, recipients=3)
    smtp_server.refuse[emails[1]] = (550, "5.1.1 No such user")
    invoice_queue.build_queue()
    counts = send_due()
    assert counts == {"messages": 1, "sent": 2, "retry": 0, "failed": 1}
    outcome = {r.email: (r.outcome, r.error) for r in _log(db)}
    assert outcome[emails[1]][0] == SendOutcome.FAILED and "550" in outcome[emails[1]][1]
    assert outcome[emails[0]][0] == outcome[emails[2]][0] == SendOutcome.SENT
    assert sorted(smtp_server.messages[0].envelope_rcpt) == sorted([emails[0], emails[2]])
    # Failed is final: not retried later.
    assert send_due(now=utcnow() + dt.timedelta(days=2))["messages"] == 0


def _send_with_server_down(app) -> dict:
    """send_due() against a port where nobody listens (connection refused)."""
    from simulator.testing import free_port

    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = free_port()
    try:
        return send_due()
    finally:
        app.config["MAIL_PORT"] = port


def test_F31_server_down_rows_wait_then_go_out(smtp_server, mailing_data, db, app):
    mailing_data(3)
    invoice_queue.build_queue()
    down = _send_with_server_down(app)
    assert down["sent"] == 0 and down["retry"] == 3
    assert all(r.outcome == SendOutcome.RETRY and r.claimed_by is None for r in _log(db))
    up = send_due(now=utcnow() + dt.timedelta(hours=1))
    assert up["sent"] == 3 and len(smtp_server.messages) == 3


def test_F31_run_stops_after_repeated_temporary_failures_and_leaves_nothing_marked(
        smtp_server, mailing_data, db, app):
    """The server keeps failing: the run stops after MAX_TEMPORARY_IN_A_ROW messages. The next
    message, already built while the last one was on the wire, is given back untouched: nothing
    is left "sending" (it would count as uncertain) or claimed."""
    from app.services.mailing.invoice_queue import MAX_TEMPORARY_IN_A_ROW

    mailing_data(MAX_TEMPORARY_IN_A_ROW + 3)
    invoice_queue.build_queue()
    down = _send_with_server_down(app)
    assert down["messages"] == MAX_TEMPORARY_IN_A_ROW and down["retry"] == MAX_TEMPORARY_IN_A_ROW
    rows = _log(db)
    assert Counter(r.outcome for r in rows) == {SendOutcome.RETRY: MAX_TEMPORARY_IN_A_ROW,
                                                SendOutcome.PENDING: 3}
    assert all(r.claimed_by is None for r in rows)
    assert all(r.attempts == 0 for r in rows if r.outcome == SendOutcome.PENDING)
    assert invoice_queue.recover_stale()["uncertain"] == 0
    up = send_due(now=utcnow() + dt.timedelta(hours=1))
    assert up["sent"] == MAX_TEMPORARY_IN_A_ROW + 3 and len(smtp_server.messages) == MAX_TEMPORARY_IN_A_ROW + 3


def test_F31_two_worker_processes_share_one_batch(smtp_server, mailing_data, db):
    mailing_data(100, recipients=1)
    counts = run_batch(workers=2, chunk=2)
    assert counts["sent"] == 100 and counts["workers_failed"] == 0
    got = _deliveries(smtp_server)
    assert len(got) == 100 and set(got.values()) == {1}
    holders = {r.claimed_by.split(":")[1] for r in _log(db)}
    assert len(holders) == 2  # both processes took part


def test_F31_link_expiry_is_a_setting(db, app, monkeypatch):
    import itsdangerous.timed

    c = factories.customer()
    inv = factories.invoice(c, factories.supply_point(c))
    settings.update({"invoice_link_expiry_days": 3})
    real = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() - 4 * 86400)
    old = invoice_links.invoice_token(inv.id, c.id)
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() - 2 * 86400)
    recent = invoice_links.invoice_token(inv.id, c.id)
    monkeypatch.undo()
    assert invoice_links.read_invoice_token(old, inv.id) is None
    assert invoice_links.read_invoice_token(recent, inv.id)["invoice_id"] == inv.id


def test_F30_invoice_mail_is_a_job_run_under_the_lease(smtp_server, mailing_data, db, app):
    mailing_data(2)
    assert run_job(app, "invoice_mail") == "ok"
    run = db.session.scalars(sa.select(InvoiceEmailLog)).all()
    assert len(run) == 2 and len(smtp_server.messages) == 2


def test_F31_cli_batch_reports_its_counts(smtp_server, mailing_data, app):
    mailing_data(3, recipients=2)
    result = app.test_cli_runner().invoke(args=["sportello", "invoice-mail", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "queued 6" in result.output and "sent 6" in result.output
    assert len(smtp_server.messages) == 3


def test_F31_connection_dropped_during_data_is_retried_and_sent_once(smtp_server, mailing_data, db):
    data = mailing_data(3, recipients=1)
    smtp_server.drop_data = 1
    assert invoice_queue.build_queue() == 3
    first = send_due()
    assert first["retry"] == 1 and first["sent"] == 2
    dropped = [r for r in _log(db) if r.outcome == SendOutcome.RETRY]
    assert len(dropped) == 1 and dropped[0].error
    later = send_due(now=utcnow() + dt.timedelta(hours=2))
    assert later["sent"] == 1
    got = _deliveries(smtp_server)
    assert len(got) == 3 and set(got.values()) == {1}
    assert {r.outcome for r in _log(db)} == {SendOutcome.SENT}


def test_F31_one_address_with_a_non_ascii_local_part_fails_alone_and_the_night_goes_on(app, db, mailing_data):
    """A server without SMTPUTF8: the IDN address goes out encoded, the UTF-8 local part fails,
    nothing stays claimed, and the other invoices are sent."""
    from tests.conftest import SmtpSink, serve_smtp

    data = mailing_data(3)
    first = data[0][1]
    setting = db.session.scalar(sa.select(InvoiceDeliverySetting).where(InvoiceDeliverySetting.supply_point_id == first.id))
    setting.recipients[0].email = "müller@bücher.de"
    setting.recipients.append(InvoiceDeliveryRecipient(position=2, email="user@bücher.de"))
    db.session.commit()
    with serve_smtp(app, SmtpSink(), enable_SMTPUTF8=False) as sink:
        invoice_queue.build_queue()
        counts = send_due()
    rows = {r.email: r for r in db.session.scalars(sa.select(InvoiceEmailLog))}
    assert rows["müller@bücher.de"].outcome == SendOutcome.FAILED and "SMTPUTF8" in rows["müller@bücher.de"].error
    assert rows["user@bücher.de"].outcome == SendOutcome.SENT
    assert not [r for r in rows.values() if r.outcome not in (SendOutcome.SENT, SendOutcome.FAILED)]
    assert counts["failed"] == 1 and counts["sent"] == 3
    assert "user@xn--bcher-kva.de" in [a for m in sink.messages for a in m.envelope_rcpt]
