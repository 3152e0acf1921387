"""One request id follows a customer's action end to end: the web log line of the POST, the
outbox row it queued, the billing call that delivered it, and the e-mail it caused (its row
and the line logged when it was sent)."""
from __future__ import annotations

import logging

import sqlalchemy as sa

from tests.ops.flows import align_and_login
from tests.portal.conftest import post_form


def test_one_request_id_from_the_click_to_billing_and_the_e_mail(app, client, db, billing_sim, smtp_server,
                                                                  caplog):
    from app.jobs import run_job
    from app.models import OutboxMessage, OutgoingMail

    caplog.set_level(logging.INFO)
    sp, _meter = align_and_login(client, db)
    resp = post_form(client, f"/portal/supply/{sp.id}/mailing-address",
                     {"name": "Mario Rossi", "address": "Via Milano 5", "post_code": "20100",
                      "city": "Milano", "province": "MI"})
    assert resp.status_code == 302
    rid = resp.headers["X-Request-ID"]

    web = [r for r in caplog.records if r.name == "sportello.web" and r.request_id == rid]
    assert [(r.endpoint, r.status) for r in web] == [("portal.mailing_address", 302)]

    row = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.operation == "update_mailing_address"))
    assert row.request_id == rid
    mail = db.session.scalar(sa.select(OutgoingMail).where(
        OutgoingMail.idempotency_key == f"request_received-{row.activity_id}"))
    assert mail.request_id == rid
    mail_id = mail.id
    db.session.remove()

    caplog.clear()
    assert run_job(app, "outbox") == "ok"
    calls = [r for r in caplog.records if r.name == "sportello.billing"
             and getattr(r, "billing_operation", "") == "update_mailing_address"]
    assert [(r.request_id, r.outcome) for r in calls] == [(rid, "ok")]

    assert run_job(app, "mail") == "ok"
    [sent] = [r for r in caplog.records if r.name == "app.services.mailing.mail"
              and f"E-mail {mail_id} (request_received) sent as" in r.getMessage()]
    assert sent.request_id == rid
    assert sum(1 for m in smtp_server.messages if m["Message-ID"] in sent.getMessage()) == 1
