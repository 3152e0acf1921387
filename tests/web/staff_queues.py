"""Seed data with at least one row in every work queue of the start page (F-20)."""
from __future__ import annotations

import datetime as dt

from app.extensions import db
from app.models import (ActivityKind, ActivityStatus, ContractStatus as S, DirectDebitMandate,
                        InvoiceEmailLog, MandateStatus, OutboxStatus, OutgoingMail, SyncState)
from app.models.base import utcnow
from app.models.invoice import DeliveryMode, SendOutcome
from app.services.crm.activities import create_activity
from app.services.crm.queues import _end_of_today_utc
from app.services.sync.outbox import enqueue
from tests import factories
from tests.sales.helpers import agent_for, contract_in


def seed_every_queue(user) -> dict:
    """Contracts in every step (two to validate), requests new / overdue / due today (some of
    them `user`'s), a refused write, a refused invoice e-mail, a refused notice to the customer
    (and one sent), a mandate to decide (and one decided), an alignment two hours old."""
    agent = agent_for(user)
    contracts = [contract_in(S.PROCESSING), contract_in(S.PROCESSING), contract_in(S.VALIDATED),
                 contract_in(S.APPROVED), contract_in(S.IN_BILLING)]
    contracts += [contract_in(status, agent=agent) for status in (S.DRAFT, S.PROCESSING, S.VALIDATED,
                                                                   S.APPROVED, S.ACTIVATED)]
    customer = factories.customer()
    now = utcnow()
    end_of_day = _end_of_today_utc(now)
    later_today = now + (end_of_day - now) / 2
    create_activity(ActivityKind.COMPLAINT, customer_id=customer.id, subject="Nuovo reclamo")
    for subject, deadline, assignee in (("Scaduta mia", now - dt.timedelta(days=1), user),
                                        ("Scaduta altrui", now - dt.timedelta(hours=3), None),
                                        ("Oggi mia", later_today, user),
                                        ("Domani", end_of_day + dt.timedelta(hours=2), user)):
        a = create_activity(ActivityKind.INVOICE_CORRECTION, customer_id=customer.id, subject=subject)
        a.status, a.deadline, a.assignee_id = ActivityStatus.ASSIGNED, deadline, getattr(assignee, "id", None)
    closed = create_activity(ActivityKind.GENERAL, customer_id=customer.id, subject="Chiusa scaduta")
    closed.status, closed.deadline = ActivityStatus.CLOSED, now - dt.timedelta(days=2)
    change = create_activity(ActivityKind.PERSONAL_DATA, customer_id=customer.id, subject="Nuovo telefono")
    refused = enqueue("update_customer", {"customer_code": customer.code, "phone": "06 1"})
    refused.status, refused.activity_id = OutboxStatus.FAILED, change.id
    waiting = enqueue("update_customer", {"customer_code": customer.code, "phone": "06 2"})
    waiting.created_at = now - dt.timedelta(days=3)  # still retried, past the alert age
    sp = factories.supply_point(customer)
    inv = factories.invoice(customer, sp)
    db.session.add(InvoiceEmailLog(invoice_id=inv.id, email="rifiuto@example.com", mode=DeliveryMode.LINK,
                                   outcome=SendOutcome.FAILED, error="550 mailbox unavailable"))
    db.session.add(InvoiceEmailLog(invoice_id=inv.id, email="ok@example.com", mode=DeliveryMode.LINK,
                                   outcome=SendOutcome.SENT, sent_at=now))
    for n, status in enumerate(("failed", "sent")):
        db.session.add(OutgoingMail(idempotency_key=f"seed-mail-{n}", template="password_changed", language="it",
                                    recipients=[customer.email], context={"name": "Mario"}, status=status,
                                    attempts=1, sent_at=now if status == "sent" else None,
                                    error="550 mailbox unavailable" if status == "failed" else None))
    for n, status in enumerate((MandateStatus.REQUESTED, MandateStatus.ACTIVE)):
        db.session.add(DirectDebitMandate(supply_point_id=sp.id, reference=f"SEED-MND-{n}", status=status,
                                          iban="IT60X0542811101000000123456", holder_last_name="Bianchi",
                                          holder_first_name="Anna"))
    for entity, age in (("customers", 2), ("invoices", 1)):
        db.session.add(SyncState(entity=entity, last_success_at=now - dt.timedelta(hours=age)))
    db.session.commit()
    return {"agent": agent, "contracts": contracts, "customer": customer}
