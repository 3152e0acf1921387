"""The nightly invoice e-mail queue (F-08, F-31): queued rows, exclusive claims, recovery.

`InvoiceEmailLog` is both the queue and the log: one row per invoice and address (unique), so
an invoice never goes twice to the same address. `build_queue()` adds the rows for every new
invoice of a supply point with delivery on (invoice date on or after `active_since`).

Row states: pending/retry (due at `next_attempt_at`) -> claimed (`claimed_by` set, still
pending/retry) -> sending (the message is on the wire) -> sent / retry / failed. Claims are a
conditional UPDATE on SQLite and `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
workers share one batch. After a crash only rows left "sending" may have gone out; they are
sent again (with the same Message-ID) and counted as `uncertain`.

The split runs one way: this queue, then `invoice_message` (what one message says), then
`invoice_sender` (the SMTP loop, `send_due`).
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from app.clock import local_today
from app.extensions import db
from app.models import (Invoice, InvoiceDeliveryRecipient, InvoiceDeliverySetting,
                        InvoiceEmailLog, SendOutcome)
from app.models.base import utcnow
from app.services.core import settings
from app.services.core.queue import stale_holders

log = logging.getLogger(__name__)

CHUNK_MESSAGES = 100       # at most this many invoices claimed at a time by one worker
MAX_TEMPORARY_IN_A_ROW = 5  # the server keeps deferring: stop this run, retry in the next one
DUE = (SendOutcome.PENDING, SendOutcome.RETRY)

# --- the queue ------------------------------------------------------------------------------

def build_queue(now: dt.datetime | None = None) -> int:
    """Queue one row per address for every new invoice with delivery on; returns rows added.

    "New" means no row exists yet for the invoice: an address added later does not receive
    the invoices mailed before. A setting switched on without a date starts today.
    """
    now = now or utcnow()
    db.session.execute(sa.update(InvoiceDeliverySetting)
                       .where(InvoiceDeliverySetting.enabled.is_(True),
                              InvoiceDeliverySetting.active_since.is_(None))
                       .values(active_since=local_today()))
    email = sa.func.lower(sa.func.trim(InvoiceDeliveryRecipient.email))
    source = (
        sa.select(Invoice.id, email, InvoiceDeliverySetting.mode,
                  sa.literal(SendOutcome.PENDING.name), sa.literal(0), sa.literal(now), sa.literal(now))
        .join(InvoiceDeliverySetting, InvoiceDeliverySetting.supply_point_id == Invoice.supply_point_id)
        .join(InvoiceDeliveryRecipient, InvoiceDeliveryRecipient.setting_id == InvoiceDeliverySetting.id)
        .where(InvoiceDeliverySetting.enabled.is_(True),
               Invoice.invoice_date >= InvoiceDeliverySetting.active_since,
               sa.func.trim(InvoiceDeliveryRecipient.email) != "",
               ~sa.exists().where(InvoiceEmailLog.invoice_id == Invoice.id)))
    columns = ["invoice_id", "email", "mode", "outcome", "attempts", "next_attempt_at", "created_at"]
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # Two builders at once (two workers): the unique (invoice, address) keeps one row.
    stmt = (insert(InvoiceEmailLog).from_select(columns, source).on_conflict_do_nothing()
            .returning(InvoiceEmailLog.id))
    added = len(db.session.execute(stmt).all())
    db.session.commit()
    return added


def recover_stale(now: dt.datetime | None = None) -> dict:
    """Give back claims of dead or timed-out workers; rows left "sending" count as uncertain."""
    now = now or utcnow()
    timeout = dt.timedelta(minutes=settings.get("invoice_mail_claim_timeout_minutes"))
    holders = db.session.execute(
        sa.select(InvoiceEmailLog.claimed_by, sa.func.min(InvoiceEmailLog.claimed_at))
        .where(InvoiceEmailLog.claimed_by.is_not(None),
               InvoiceEmailLog.outcome.in_(DUE + (SendOutcome.SENDING,)))
        .group_by(InvoiceEmailLog.claimed_by)).all()
    stale = stale_holders(holders, timeout, now)
    counts = {"reclaimed": 0, "uncertain": 0}
    if not stale:
        db.session.rollback()
        return counts
    counts["uncertain"] = db.session.execute(
        sa.update(InvoiceEmailLog)
        .where(InvoiceEmailLog.claimed_by.in_(stale), InvoiceEmailLog.outcome == SendOutcome.SENDING)
        .values(outcome=SendOutcome.RETRY, claimed_by=None, next_attempt_at=now,
                error="Interrupted while sending: it may have been delivered; sent again "
                      "with the same Message-ID")).rowcount
    counts["reclaimed"] = db.session.execute(
        sa.update(InvoiceEmailLog)
        .where(InvoiceEmailLog.claimed_by.in_(stale), InvoiceEmailLog.outcome.in_(DUE))
        .values(claimed_by=None)).rowcount
    db.session.commit()
    if counts["uncertain"]:
        log.warning("Invoice e-mails: %d addresses were in flight when a worker stopped; sending "
                    "them again (possible duplicates)", counts["uncertain"])
    return counts


def _due(now: dt.datetime):
    return sa.and_(InvoiceEmailLog.outcome.in_(DUE), InvoiceEmailLog.claimed_by.is_(None),
                   sa.or_(InvoiceEmailLog.next_attempt_at.is_(None), InvoiceEmailLog.next_attempt_at <= now))


def due_count(now: dt.datetime | None = None) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceEmailLog)
                             .where(_due(now or utcnow()))) or 0


def claim(holder: str, now: dt.datetime, messages: int = CHUNK_MESSAGES) -> list[int]:
    """Claim the due rows of up to `messages` invoices for this worker (claim left uncommitted).

    Candidates come in the order of the (outcome, next_attempt_at) index, where the rows of one
    invoice sit together (queued by one statement), so a claim costs the same on the first and
    on the last chunk of a night. SQLite has no row locks: one conditional UPDATE (only
    unclaimed due rows, candidates chosen inside the same statement) decides, and the
    database's single writer makes it atomic. PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so
    workers get disjoint rows; the scan picks the invoices, then every due row of each of them is
    claimed, so an invoice whose rows straddle the scan's limit still gets one message.
    """
    if db.engine.dialect.name == "postgresql":
        limit = messages * InvoiceDeliverySetting.MAX_RECIPIENTS
        seen = db.session.execute(
            sa.select(InvoiceEmailLog.invoice_id).where(_due(now)).limit(limit)
            .with_for_update(skip_locked=True)).scalars()
        invoices = list(dict.fromkeys(seen))[:messages]
        # The scan has no order, so an invoice's rows may straddle the limit: every due row of
        # the chosen invoices is claimed, so its addresses get one message.
        rows = db.session.execute(
            sa.select(InvoiceEmailLog.id).where(_due(now), InvoiceEmailLog.invoice_id.in_(invoices))
            .with_for_update(skip_locked=True)).all() if invoices else []
        ids = [r.id for r in rows]
        if ids:
            db.session.execute(sa.update(InvoiceEmailLog).where(InvoiceEmailLog.id.in_(ids))
                               .values(claimed_by=holder, claimed_at=now)
                               .execution_options(synchronize_session=False))
        return ids
    invoices = sa.select(InvoiceEmailLog.invoice_id).where(_due(now)).limit(messages).scalar_subquery()
    db.session.execute(sa.update(InvoiceEmailLog)
                       .where(InvoiceEmailLog.invoice_id.in_(invoices), _due(now))
                       .values(claimed_by=holder, claimed_at=now)
                       .execution_options(synchronize_session=False))
    return list(db.session.scalars(
        sa.select(InvoiceEmailLog.id).where(InvoiceEmailLog.claimed_by == holder,
                                            InvoiceEmailLog.outcome.in_(DUE))
        .order_by(InvoiceEmailLog.id)))
