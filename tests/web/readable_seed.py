"""Seed data with at least one row for every back-office view, as the services and alignment
would write it: used by the readable-values sweep and the masking matrix."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.extensions import db
from app.models import (Activity, ActivityHistory, ActivityKind, ActivityStatus, AuditLog, Channel,
                        Commission, CommissionRule, CommissionStatus, CommissionTrigger, Contact,
                        ContactKind, ContractStatus, DeliveryMode, InvoiceDeliveryRecipient,
                        InvoiceDeliverySetting, InvoiceEmailLog, OutboxMessage, OutboxStatus,
                        OutgoingMail, SendOutcome, Service, SyncRun, SyncState, UseType)
from app.models.base import utcnow
from tests import factories
from tests.sales.helpers import agent_for, contract_in

TAX_CODE = "RSSMRA80A01H501U"
IBAN = "IT60X0542811101000000123456"


def seed_every_view(staff_user, agent_user) -> dict:
    """One row (at least) per view; `staff_user` is the assignee/operator of "my" views,
    `agent_user` the agent of "my contracts". Committed."""
    now = utcnow().replace(microsecond=123456)
    from app.services.catalog.offers import seed_demo

    seed_demo()  # the offer catalogue and its price components
    graph = factories.billing_graph()
    customer, sp, invoice = graph["customer"], graph["supply_point"], graph["invoice"]
    sp.activation_date = dt.date.today() - dt.timedelta(days=30)
    sp.synced_at = now
    customer.synced_at = now
    customer.birth_date = dt.date(1980, 1, 1)
    invoice.synced_at = now
    agent = agent_for(agent_user)
    contracts = {status: contract_in(status, agent, customer_id=customer.id, supply_point_id=sp.id,
                                     created_at=now - dt.timedelta(days=3), updated_at=now)
                 for status in (ContractStatus.PROCESSING, ContractStatus.VALIDATED,
                                ContractStatus.APPROVED, ContractStatus.ACTIVATED)}
    # The staff user enters contracts too ("my contracts").
    own = agent if staff_user is agent_user else agent_for(staff_user)
    contract_in(ContractStatus.PROCESSING, own, customer_id=customer.id, created_at=now, updated_at=now)
    activated = contracts[ContractStatus.ACTIVATED]
    activated.activated_at = now
    activity = Activity(kind=ActivityKind.DIRECT_DEBIT, channel=Channel.WEB, status=ActivityStatus.ASSIGNED,
                        customer_id=customer.id, supply_point_id=sp.id, invoice_id=invoice.id,
                        subject="Domiciliazione", assignee_id=staff_user.id,
                        payload={"iban": IBAN, "holder_tax_code": TAX_CODE, "bank": "Banca Uno",
                                 "invoice_number": invoice.number, "amount": "143.86",
                                 "reason": "errore", "confirmed": True, "previous": None,
                                 "when": now.isoformat(), "lines": ["a", "b"]},
                        deadline=now + dt.timedelta(days=2), created_by_id=staff_user.id,
                        created_at=now, updated_at=now)
    db.session.add(activity)
    db.session.flush()
    db.session.add(ActivityHistory(activity_id=activity.id, from_status=ActivityStatus.NEW,
                                   to_status=ActivityStatus.ASSIGNED, action="assign", note="",
                                   actor_id=staff_user.id, created_at=now))
    # Direct debit mandates: one to handle (the back office's queue), one rejected with a reason.
    from app.models import DirectDebitMandate, MandateStatus

    db.session.add_all([
        DirectDebitMandate(supply_point_id=sp.id, reference="SPT-READ-0001", status=MandateStatus.REQUESTED,
                           iban=IBAN, holder_last_name="Rossi", holder_first_name="Mario",
                           holder_tax_code=TAX_CODE, bank="Banca Uno", signed_on=dt.date.today(),
                           activity_id=activity.id, created_at=now),
        DirectDebitMandate(supply_point_id=sp.id, reference="SPT-READ-0002", status=MandateStatus.REJECTED,
                           iban=IBAN, holder_last_name="Rossi", holder_first_name="Mario", bank="Banca Uno",
                           signed_on=dt.date.today(), rejection_reason="Conto non abilitato", created_at=now,
                           status_changed_at=now)])
    # The start page's request queues: one overdue and one due later today, both the staff user's.
    from app.services.crm.queues import _end_of_today_utc

    for subject, deadline in (("Scaduta", now - dt.timedelta(days=1)),
                              ("In scadenza oggi", _end_of_today_utc(utcnow()) - dt.timedelta(minutes=1))):
        db.session.add(Activity(kind=ActivityKind.COMPLAINT, channel=Channel.PHONE, status=ActivityStatus.ASSIGNED,
                                customer_id=customer.id, subject=subject, assignee_id=staff_user.id,
                                deadline=deadline, created_by_id=staff_user.id, created_at=now, updated_at=now))
    visitor = Activity(kind=ActivityKind.INFORMATION_REQUEST, channel=Channel.WEB, status=ActivityStatus.NEW,
                       subject="Informazioni", contact_name="Anna Bianchi", contact_email="anna@example.com",
                       created_at=now, updated_at=now)
    db.session.add(visitor)
    db.session.add(Contact(kind=ContactKind.APPOINTMENT, customer_id=customer.id, activity_id=activity.id,
                           operator_id=staff_user.id, subject="Sopralluogo", notes="Contatore",
                           starts_at=now + dt.timedelta(days=1), ends_at=now + dt.timedelta(days=1, hours=1),
                           location="Roma", created_at=now))
    db.session.add(Contact(kind=ContactKind.PHONE_CALL, operator_id=staff_user.id, subject="Chiamata",
                           starts_at=now, created_at=now))
    rule = CommissionRule(service=Service.GAS, use_type=UseType.DOMESTIC, trigger=CommissionTrigger.ACTIVATION,
                          amount=Decimal("143.86"), clawback_days=90, valid_from=dt.date.today().replace(day=1))
    db.session.add(rule)
    db.session.flush()
    db.session.add(Commission(agent_id=agent.id, contract_id=activated.id, rule_id=rule.id,
                              trigger=CommissionTrigger.ACTIVATION, status=CommissionStatus.EARNED,
                              period=dt.date.today().strftime("%Y-%m"), amount=Decimal("1143.86"),
                              created_at=now))
    db.session.add(OutboxMessage(idempotency_key="contract-1-create", operation="create_contract",
                                 payload={"number": activated.number, "iban": IBAN}, status=OutboxStatus.FAILED,
                                 attempts=3, next_attempt_at=now, last_error="Refused: missing data",
                                 result={"accepted": False, "code": "E42"}, created_at=now))
    db.session.add(OutboxMessage(idempotency_key="reading-1", operation="submit_reading",
                                 payload={"value": 1234}, activity_id=activity.id, status=OutboxStatus.DELIVERED,
                                 attempts=1, next_attempt_at=now, delivered_at=now,
                                 result={"entry_no": 77}, created_at=now))
    db.session.add(OutboxMessage(idempotency_key="reading-2", operation="submit_reading",
                                 payload={"value": 1235}, status=OutboxStatus.PENDING, attempts=40,
                                 next_attempt_at=now, last_error="[locked] Customer.Update: locked",
                                 created_at=now - dt.timedelta(days=3)))
    db.session.add(OutboxMessage(idempotency_key="reading-3", operation="submit_reading",
                                 payload={"value": 1236}, status=OutboxStatus.DELIVERED, attempts=1,
                                 next_attempt_at=now, delivered_at=now, created_at=now,
                                 result={"entry_no": 78, "billing_warnings": [
                                     "EL 073: Meter reading 78 is implausible"]}))
    db.session.add(SyncState(entity="customers", watermark=42, records_total=1, last_success_at=now,
                             last_attempt_at=now, last_error=None))
    db.session.add(SyncRun(started_at=now, finished_at=now, full=False, status="ok",
                           counts={"customers": 1, "invoices": 2}, trigger="job"))
    db.session.add(SyncRun(started_at=now, finished_at=now, full=True, status="failed",
                           counts={}, trigger="manual", error="timeout"))
    db.session.add(AuditLog(created_at=now, actor_id=staff_user.id, actor_label=staff_user.username,
                            entity_type="customer", entity_id=str(customer.id), action="update",
                            changes={"phone": ["0611", "0622"], "iban": ["••••3456", None]},
                            ip_address="127.0.0.1"))
    setting = InvoiceDeliverySetting(supply_point_id=sp.id, enabled=True, mode=DeliveryMode.PDF,
                                     active_since=dt.date.today(), updated_at=now)
    db.session.add(setting)
    db.session.flush()
    db.session.add(InvoiceDeliveryRecipient(setting_id=setting.id, position=1, email=customer.email))
    db.session.add(InvoiceEmailLog(invoice_id=invoice.id, email=customer.email, mode=DeliveryMode.PDF,
                                   outcome=SendOutcome.SENT, attempts=1, sent_at=now, message_id="<m1@x>",
                                   created_at=now))
    db.session.add(OutgoingMail(idempotency_key="pw-1", template="password_changed", language="it",
                                recipients=[customer.email], context={}, status="sent", attempts=1,
                                sent_at=now, created_at=now))
    db.session.add(OutgoingMail(idempotency_key="pw-2", template="password_reset", language="it",
                                recipients=[customer.email], status="failed", attempts=1, created_at=now,
                                context={"name": "Anna", "username": "anna", "link": "", "minutes": 30},
                                error="x@example.com: 550 5.1.1 mailbox unavailable"))
    from flask_appbuilder.security.sqla.models import Group

    from app.models import JobRun

    db.session.add(JobRun(job_id="mail", started_at=now, finished_at=now, status="ok", holder="web:1",
                          counts={"sent": 3, "failed": 0}))

    db.session.add(Group(name="field-team", label="Squadra esterna", description="Tecnici"))
    from app.models import ApiToken, TokenScope

    db.session.add(ApiToken(user_id=staff_user.id, customer_id=customer.id, name="Foglio di calcolo",
                            prefix="spt_AbCd1234", secret_hash="0" * 64, scope=TokenScope.READINGS,
                            created_at=now, expires_at=now + dt.timedelta(days=365), last_used_at=now))
    db.session.commit()
    from app.services.sales import prospects

    # A prospect when the user may keep some (the masking sweep seeds as each staff role).
    prospect = seed_prospect(agent_user) if prospects.may_work(agent_user) else None
    return dict(graph, agent=agent, contracts=contracts, activity=activity, prospect=prospect)


def seed_prospect(agent_user):
    """A prospect of `agent_user` with consents, a contact and a follow-up (F-17). Committed."""
    from app.models import ConsentChannel, ConsentSource
    from app.services.sales import prospects

    prospect = prospects.create_prospect(
        agent_user, {"kind": "person", "last_name": "Gialli", "first_name": "Carla", "tax_code": TAX_CODE,
                     "phone": "333 7654321", "email": "carla@example.com", "town": "Genova",
                     "source": "cold_call", "notes": "Richiamare dopo le 18"},
        {"gas": 1350, "electricity": 2700, "telecom": None}, {"phone": (True, "verbal")})
    prospects.set_consent(prospect, agent_user, ConsentChannel.EMAIL, True, ConsentSource.SIGNED_FORM)
    prospects.set_consent(prospect, agent_user, ConsentChannel.EMAIL, False, ConsentSource.EMAIL)
    prospects.log_contact(prospect, agent_user, ContactKind.PHONE_CALL, "Interessata all'offerta dual")
    prospects.plan_follow_up(prospect, agent_user, utcnow() + dt.timedelta(days=2, microseconds=123456),
                             "Portare l'offerta")
    prospects.transition(prospect, "offer", agent_user, "Offerta Gas Casa Fisso")
    return prospect
