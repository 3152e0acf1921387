"""The outbox (F-33, F-52): writes for billing, stored with their cause, delivered after commit.

`enqueue()` adds a row in the caller's transaction. `deliver_due()` (a scheduled job) claims
due rows through the queue core (`app/services/core/queue.py`: several workers never take the
same row) and calls the billing gateway with the row's idempotency key (billing applies a key
once, so a retry after a lost answer is harmless). Temporary failures back off exponentially
(capped) and are never given up by count; a billing refusal (SOAP fault) needs a person and is
marked failed.
What a delivery means for the write's cause (an automatic request becomes *Executed*, F-21) is
decided by outcome hooks that the owning area registers (`on_outcome`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import uuid
from typing import Any, Callable

import sqlalchemy as sa

from app.billing.gateway import (BillingError, BillingGateway, CommissionLine, ContractExport,
                                 CustomerUpdate, FaultKind, MailingAddress, MandateRequest,
                                 ReadingSubmission, collect_warnings)
from app.extensions import db
from app.models import Activity, OutboxMessage, OutboxStatus
from app.models.base import utcnow
from app.services.core import request_id, settings
from app.services.core.queue import Queue, backoff, new_holder
from app.services.core.unit_of_work import transactional, unit_of_work

log = logging.getLogger(__name__)


Handler = Callable[[BillingGateway, str, dict], dict]
HANDLERS: dict[str, Handler] = {}


def handler(operation: str):
    """Register the function that sends one kind of write to billing."""
    def wrap(fn: Handler) -> Handler:
        HANDLERS[operation] = fn
        return fn
    return wrap


def _date(value):
    return dt.date.fromisoformat(value) if value else None


@handler("submit_reading")
def _submit_reading(gw, key, p):
    entry = gw.submit_reading(key, ReadingSubmission(
        supply_point_code=p["supply_point_code"], meter_serial=p["meter_serial"],
        reading_date=_date(p["reading_date"]), value=int(p["value"]),
        corrector_value=p.get("corrector_value"), flagged=bool(p.get("flagged"))))
    return {"entry_no": entry}


@handler("update_customer")
def _update_customer(gw, key, p):
    fields = {f.name for f in dataclasses.fields(CustomerUpdate)}
    values = {k: v for k, v in p.items() if k in fields}
    values["birth_date"] = _date(values.get("birth_date"))
    gw.update_customer(key, CustomerUpdate(**values))
    return {}


@handler("update_mailing_address")
def _update_mailing_address(gw, key, p):
    gw.update_mailing_address(key, MailingAddress(**p))
    return {}


@handler("set_invoice_delivery")
def _set_invoice_delivery(gw, key, p):
    gw.set_invoice_delivery(key, p["supply_point_code"], bool(p["enabled"]), p["mode"], list(p["emails"]))
    return {}


@handler("request_mandate")
def _request_mandate(gw, key, p):
    return {"mandate_reference": gw.request_mandate(key, MandateRequest(**p))}


@handler("revoke_mandate")
def _revoke_mandate(gw, key, p):
    gw.revoke_mandate(key, p["supply_point_code"])
    return {}


@handler("set_mandate_status")
def _set_mandate_status(gw, key, p):
    gw.set_mandate_status(key, p["supply_point_code"], p["mandate_reference"], p["status"],
                          p.get("reason", ""))
    return {}


@handler("create_contract")
def _create_contract(gw, key, p):
    p = dict(p)
    customer = dict(p.pop("customer"))
    customer["birth_date"] = _date(customer.get("birth_date"))
    mailing = p.pop("mailing", None)
    result = gw.create_contract(key, ContractExport(
        customer=CustomerUpdate(**customer), mailing=MailingAddress(**mailing) if mailing else None, **p))
    return dataclasses.asdict(result)


@handler("mark_invoiceable")
def _mark_invoiceable(gw, key, p):
    gw.mark_invoiceable(key, p["supply_point_code"])
    return {}


@handler("export_commissions")
def _export_commissions(gw, key, p):
    from decimal import Decimal

    lines = [CommissionLine(**{**line, "amount": Decimal(str(line["amount"]))}) for line in p["lines"]]
    return {"batch": gw.export_commissions(key, lines)}


def enqueue(operation: str, payload: dict[str, Any], *, activity: Activity | None = None,
            key: str | None = None) -> OutboxMessage:
    """Add a write for billing to the current transaction (delivered after commit)."""
    if operation not in HANDLERS:
        raise ValueError(f"no outbox handler for {operation!r}")
    msg = OutboxMessage(idempotency_key=key or f"{operation}-{uuid.uuid4().hex}",
                        operation=operation, payload=_jsonable(payload),
                        activity_id=activity.id if activity is not None else None,
                        status=OutboxStatus.PENDING, next_attempt_at=utcnow(), request_id=request_id.current())
    db.session.add(msg)
    return msg


def _jsonable(value):
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "quantize"):  # Decimal
        return str(value)
    return value


OUTBOX_QUEUE = Queue(OutboxMessage, OutboxStatus.PENDING, OutboxStatus.DELIVERING)


def waiting_too_long(now: dt.datetime | None = None):
    """The condition of writes still being retried although queued longer than the alert age
    (setting `queue_alert_hours`): an alert for staff; they keep being retried."""
    cutoff = (now or utcnow()) - dt.timedelta(hours=settings.get("queue_alert_hours"))
    return sa.and_(OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.DELIVERING)),
                   OutboxMessage.created_at < cutoff)


def deliver_due(gw: BillingGateway | None = None, *, limit: int = 200, holder: str = "",
                budget: float = 25.0) -> dict:
    """Deliver due outbox rows until none is due or `budget` seconds are spent; returns counts.

    Claims commit before billing is called and each outcome is written after the call. A write
    that fails for a temporary reason (billing down, timeout, garbage) retries with capped
    backoff for as long as it takes; a refusal (SOAP fault) or an error of our own fails that
    row only. While rows wait out a backoff and none is due, one of them is tried per run: when
    billing answers again, every waiting row is due at once.
    """
    from app.services.sync.gateway import gateway

    gw = gw or gateway()
    holder = holder or new_holder("outbox/")
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    recovered = OUTBOX_QUEUE.recover_stale(
        dt.timedelta(minutes=settings.get("outbox_claim_timeout_minutes")))
    deadline = time.monotonic() + budget
    probed = woken = False
    while time.monotonic() < deadline:
        ids = OUTBOX_QUEUE.claim(holder, limit)
        if not ids and not probed and not any(counts.values()):  # nothing tried yet in this run
            probed = True
            ids = _claim_probe(holder)
        if not ids:
            break
        try:
            while ids:
                outcome = _deliver_one(gw, ids[0])
                counts[outcome] += 1
                ids.pop(0)
                if outcome == "delivered" and not woken:  # once per run: billing is back
                    woken = True
                    _wake_waiting()
        finally:
            OUTBOX_QUEUE.give_back(ids)  # an error of our own stopped the run: what it held is due again
    return OUTBOX_QUEUE.report(counts, recovered, "Outbox")


def _claim_probe(holder: str) -> list[int]:
    """Claim the oldest row waiting out a backoff, to learn whether billing is back."""
    first = db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.PENDING)
                              .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(1))
    db.session.rollback()
    if first is None:
        return []
    claimed = db.session.execute(
        sa.update(OutboxMessage).where(OutboxMessage.id == first, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.DELIVERING, claimed_by=holder, claimed_at=utcnow())).rowcount
    db.session.commit()
    return [first] if claimed == 1 else []


def _wake_waiting() -> int:
    """Billing accepted a write: rows waiting out a backoff are due now."""
    now = utcnow()
    woken = db.session.execute(
        sa.update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING,
                                       OutboxMessage.next_attempt_at > now)
        .values(next_attempt_at=now).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return woken


def _deliver_one(gw: BillingGateway, id_: int) -> str:
    """Deliver one claimed row; its outcome is written in a transaction after the call."""
    row = db.session.get(OutboxMessage, id_)
    operation, key, payload = row.operation, row.idempotency_key, dict(row.payload)
    # The request that queued the write names its billing call and what its outcome queues
    # (an e-mail): one id from the customer's click to billing (logs, rows).
    token = request_id.bind(row.request_id) if row.request_id else None
    db.session.rollback()  # no transaction stays open while billing is called
    error, permanent, reason, result = None, False, None, None
    try:
        try:
            with collect_warnings() as warnings:
                result = HANDLERS[operation](gw, key, payload)
            if warnings:  # accepted with warnings (SAP type W): kept on the row for staff
                result = {**result, "billing_warnings": [f"{w.code}: {w.message}" for w in warnings]}
        except BillingError as exc:
            error, permanent, reason = exc, exc.kind is FaultKind.FAULT, str(exc.kind.value)
        except Exception as exc:  # a handler's own error: this row fails, the others go on
            log.exception("Outbox %s (%s) could not be delivered", id_, operation)
            error, permanent, reason = exc, True, "error"
        with unit_of_work():  # the outcome and what its hooks change, in one commit
            return _record_outcome(id_, error, permanent, reason, result)
    finally:
        if token is not None:
            request_id.reset(token)


def _record_outcome(id_: int, error, permanent: bool, reason: str | None, result) -> str:
    msg = db.session.get(OutboxMessage, id_)
    msg.attempts += 1
    msg.claimed_by = msg.claimed_at = None
    if error is not None:
        msg.last_error = f"{type(error).__name__}: {error}"[:2000] if not isinstance(error, BillingError) \
            else str(error)[:2000]
        if permanent:
            msg.status = OutboxStatus.FAILED
            log.warning("Outbox %s (%s) refused: %s", msg.id, msg.operation, msg.last_error)
        else:
            msg.status = OutboxStatus.PENDING
            msg.next_attempt_at = utcnow() + backoff(msg.attempts)
        for hook in OUTCOME_HOOKS.values():
            hook(msg, False, reason)
        return "failed" if permanent else "retry"
    msg.status = OutboxStatus.DELIVERED
    msg.result = _jsonable(result)
    msg.delivered_at = utcnow()
    msg.last_error = None
    for hook in OUTCOME_HOOKS.values():
        hook(msg, True, None)
    for hook in AFTER_DELIVERY.get(msg.operation, ()):
        hook(msg)
    return "delivered"


def pending_for(activity_id: int, except_id: int) -> bool:
    """Other writes of the same activity still on their way."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.activity_id == activity_id, OutboxMessage.id != except_id,
        OutboxMessage.status != OutboxStatus.DELIVERED)) > 0


# operation -> callables run (inside the delivery transaction) after billing accepted a write,
# e.g. storing billing's entry number on the local reading.
AFTER_DELIVERY: dict[str, list[Callable[[OutboxMessage], None]]] = {}


# name -> callable(message, delivered, reason) run (inside the delivery transaction) after every
# outcome: the area that owns a write's cause reacts to it (e.g. an automatic request becomes
# Executed) without the outbox importing that area. Registered at start-up (`create_app`).
OUTCOME_HOOKS: dict[str, Callable[[OutboxMessage, bool, str | None], None]] = {}


def on_outcome(name: str, hook: Callable[[OutboxMessage, bool, str | None], None]) -> None:
    """Register (or replace) the outcome hook called `name`."""
    OUTCOME_HOOKS[name] = hook


def after_delivery(operation: str):
    def wrap(fn):
        hooks = AFTER_DELIVERY.setdefault(operation, [])
        if fn not in hooks:
            hooks.append(fn)
        return fn
    return wrap


@transactional
def retry(messages: list[OutboxMessage]) -> int:
    """Queue refused writes again, now, with the same idempotency key."""
    for msg in messages:
        msg.status = OutboxStatus.PENDING
        msg.next_attempt_at = utcnow()
        msg.claimed_by = msg.claimed_at = None
    return len(messages)
