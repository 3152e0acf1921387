"""Invoice e-mails (F-08, F-31): the send queue, exclusive claims, link and PDF messages.

`InvoiceEmailLog` is both the queue and the log: one row per invoice and address (unique), so
an invoice never goes twice to the same address. `build_queue()` adds the rows for every new
invoice of a supply point with delivery on (invoice date on or after `active_since`);
`send_due()` claims rows invoice by invoice and sends one message per invoice to its claimed
addresses, in the customer's language, from the `invoice_link` / `invoice_pdf` template.

Row states: pending/retry (due at `next_attempt_at`) -> claimed (`claimed_by` set, still
pending/retry) -> sending (the message is on the wire) -> sent / retry / failed. Claims are a
conditional UPDATE on SQLite and `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
workers share one batch. One commit per message records its outcome and marks the next
message as sending: after a crash only rows left "sending" may have gone out; they are sent
again (with the same Message-ID) and counted as `uncertain`. Permanent refusals (5xx) fail the
address; temporary ones (4xx, dropped connection) retry with backoff. The sending loop lives
in `app/services/invoice_sending.py` (`send_due`, re-exported here).
"""
from __future__ import annotations

import binascii
import datetime as dt
import email.utils
import logging
import os
import socket
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from functools import lru_cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_currency
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.extensions import db
from app.models import (Customer, DeliveryMode, Invoice, InvoiceDeliveryRecipient,
                        InvoiceDeliverySetting, InvoiceEmailLog, SendOutcome, Setting, SupplyPoint)
from app.models.base import utcnow
from app.services import mail

log = logging.getLogger(__name__)

ROME = ZoneInfo("Europe/Rome")
LINK_EXPIRY_KEY = "invoice_link_expiry_days"
DEFAULT_LINK_EXPIRY_DAYS = 60
BATCH_HOURS_KEY = "invoice_mail_hours"
DEFAULT_BATCH_HOURS = "1-5"
CLAIM_TIMEOUT_KEY = "invoice_mail_claim_timeout_minutes"
DEFAULT_CLAIM_TIMEOUT_MINUTES = 30
TOKEN_SALT = "sportello.invoice-link"
MAX_ATTEMPTS = 10          # temporary failures before an address is given up
CHUNK_MESSAGES = 100       # at most this many invoices claimed at a time by one worker
MAX_TEMPORARY_IN_A_ROW = 5  # the server keeps deferring: stop this run, retry in the next one
DUE = (SendOutcome.PENDING, SendOutcome.RETRY)
TEMPLATES = {DeliveryMode.LINK: "invoice_link", DeliveryMode.PDF: "invoice_pdf"}


# --- settings (F-42) ------------------------------------------------------------------------

def setting(key: str, default: str) -> str:
    row = db.session.get(Setting, key)
    return row.value if row is not None and row.value not in (None, "") else default


def _int_setting(key: str, default: int) -> int:
    try:
        return max(1, int(setting(key, str(default))))
    except ValueError:
        return default


def link_expiry_days() -> int:
    return _int_setting(LINK_EXPIRY_KEY, DEFAULT_LINK_EXPIRY_DAYS)


def batch_hours(app=None) -> str:
    """The hours (cron syntax, Europe/Rome) in which the nightly batch runs."""
    try:
        value = setting(BATCH_HOURS_KEY, DEFAULT_BATCH_HOURS)
    except sa.exc.SQLAlchemyError:  # no schema yet: the default
        db.session.rollback()
        value = DEFAULT_BATCH_HOURS
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger(hour=value)
    except ValueError:
        log.warning("Setting %s=%r is not a cron hour expression; using %s", BATCH_HOURS_KEY, value,
                    DEFAULT_BATCH_HOURS)
        value = DEFAULT_BATCH_HOURS
    return value


# --- signed links (link mode) ---------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def invoice_token(invoice_id: int, customer_id: int) -> str:
    return _serializer().dumps({"i": invoice_id, "c": customer_id})


def invoice_link(invoice_id: int, customer_id: int) -> str:
    """The signed, expiring link to the invoice page sent in link mode."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/portal/invoices/{invoice_id}?t={invoice_token(invoice_id, customer_id)}"


def read_invoice_token(token: str, invoice_id: int | None = None) -> dict | None:
    """{"invoice_id", "customer_id"} of a valid, unexpired token (for that invoice), else None."""
    if not token or not isinstance(token, str):
        return None
    try:
        data = _serializer().loads(token, max_age=link_expiry_days() * 86400)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or (invoice_id is not None and data.get("i") != invoice_id):
        return None
    return {"invoice_id": data.get("i"), "customer_id": data.get("c")}


# --- the queue ------------------------------------------------------------------------------

def rome_today() -> dt.date:
    return dt.datetime.now(ROME).date()


def build_queue(now: dt.datetime | None = None) -> int:
    """Queue one row per address for every new invoice with delivery on; returns rows added.

    "New" means no row exists yet for the invoice: an address added later does not receive
    the invoices mailed before. A setting switched on without a date starts today.
    """
    now = now or utcnow()
    db.session.execute(sa.update(InvoiceDeliverySetting)
                       .where(InvoiceDeliverySetting.enabled.is_(True),
                              InvoiceDeliverySetting.active_since.is_(None))
                       .values(active_since=rome_today()))
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


def new_holder() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_is_dead(holder: str) -> bool:
    """A claim of a process on this machine that no longer exists."""
    parts = holder.split(":")
    try:
        host, pid = parts[0], int(parts[1])
    except (IndexError, ValueError):
        return False
    if host != socket.gethostname()[:40]:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover_stale(now: dt.datetime | None = None) -> dict:
    """Give back claims of dead or timed-out workers; rows left "sending" count as uncertain."""
    now = now or utcnow()
    timeout = dt.timedelta(minutes=_int_setting(CLAIM_TIMEOUT_KEY, DEFAULT_CLAIM_TIMEOUT_MINUTES))
    holders = db.session.execute(
        sa.select(InvoiceEmailLog.claimed_by, sa.func.min(InvoiceEmailLog.claimed_at))
        .where(InvoiceEmailLog.claimed_by.is_not(None),
               InvoiceEmailLog.outcome.in_(DUE + (SendOutcome.SENDING,)))
        .group_by(InvoiceEmailLog.claimed_by)).all()
    stale = [h for h, since in holders if _holder_is_dead(h) or (since and since < now - timeout)]
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
    workers get disjoint rows.
    """
    if db.engine.dialect.name == "postgresql":
        limit = messages * InvoiceDeliverySetting.MAX_RECIPIENTS
        rows = db.session.execute(
            sa.select(InvoiceEmailLog.id, InvoiceEmailLog.invoice_id).where(_due(now)).limit(limit)
            .with_for_update(skip_locked=True)).all()
        if len(rows) == limit and rows[0].invoice_id != rows[-1].invoice_id:
            # The last invoice may have more rows beyond the limit: leave it for the next claim,
            # so its addresses get one message.
            rows = [r for r in rows if r.invoice_id != rows[-1].invoice_id]
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


# --- messages -------------------------------------------------------------------------------

@dataclass
class Group:
    """One message: an invoice and the claimed rows (addresses) it goes to."""
    invoice_id: int
    number: str
    mode: DeliveryMode
    language: str
    context: dict
    rows: dict[str, int] = field(default_factory=dict)  # address -> log row id
    attempts: int = 0
    message_id: str | None = None
    new_pdf: bytes | None = None  # rendered or fetched for this message, to store on the invoice


@lru_cache(maxsize=4096)
def _date(value: dt.date, locale: str) -> str:
    return format_date(value, "long", locale=locale)


@lru_cache(maxsize=4096)
def _money(value, locale: str) -> str:
    return format_currency(value, "EUR", locale=locale)


def _groups(ids: list[int]) -> list[Group]:
    rows = db.session.execute(
        sa.select(InvoiceEmailLog.id, InvoiceEmailLog.email, InvoiceEmailLog.mode,
                  InvoiceEmailLog.attempts, InvoiceEmailLog.message_id, Invoice.id, Invoice.number,
                  Invoice.invoice_date, Invoice.due_date, Invoice.amount, Invoice.customer_id,
                  Customer.language, Customer.kind, Customer.first_name, Customer.last_name,
                  Customer.company_name, SupplyPoint.code, SupplyPoint.pdr, SupplyPoint.pod)
        .join(Invoice, Invoice.id == InvoiceEmailLog.invoice_id)
        .join(Customer, Customer.id == Invoice.customer_id)
        .outerjoin(SupplyPoint, SupplyPoint.id == Invoice.supply_point_id)
        .where(InvoiceEmailLog.id.in_(ids)).order_by(Invoice.id, InvoiceEmailLog.id)).all()
    expiry = link_expiry_days()
    groups: dict[tuple[int, DeliveryMode], Group] = {}
    for (row_id, email, mode, attempts, message_id, inv_id, number, inv_date, due_date, amount,
         customer_id, language, kind, first, last, company, sp_code, pdr, pod) in rows:
        key = (inv_id, mode)
        group = groups.get(key)
        if group is None:
            language = language if language in mail.LANGUAGES else "it"
            loc = "it_IT" if language == "it" else "en_GB"
            name = company if kind and kind.name == "COMPANY" and company else f"{first} {last}".strip()
            context = {
                "customer_name": name or company, "invoice_number": number,
                "invoice_date": _date(inv_date, loc), "due_date": _date(due_date, loc),
                "amount": _money(amount, loc),
                "supply_point": pdr or pod or sp_code or "",
                "company": current_app.config.get("APP_NAME", "Sportello"),
                "portal_url": current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/portal/",
            }
            if mode == DeliveryMode.LINK:
                context["link"] = invoice_link(inv_id, customer_id)
                context["link_expires"] = _date(rome_today() + dt.timedelta(days=expiry), loc)
            group = groups[key] = Group(inv_id, number, mode, language, context)
        group.rows[email] = row_id
        group.attempts = max(group.attempts, attempts)
        group.message_id = group.message_id or message_id
    return list(groups.values())


class _Templates:
    """Template sources read once per batch (admin-edited ones included)."""

    def __init__(self):
        self._cache: dict[tuple[str, str], tuple[str, str, str]] = {}

    def render(self, name: str, language: str, context: dict) -> mail.Rendered:
        key = (name, language)
        if key not in self._cache:
            self._cache[key] = mail.template_source(name, language)
        return mail.render_source(*self._cache[key], context)


def _attachment_name(group: Group) -> str:
    stem = "fattura" if group.language == "it" else "invoice"
    return f"{stem}-{''.join(c if c.isalnum() else '-' for c in group.number)}.pdf"


def build(group: Group, templates: _Templates):
    """The message of one group (renders or reads the PDF in PDF mode); writes nothing."""
    from app.services.invoice_pdf import PDF_LOAD, invoice_pdf

    rendered = templates.render(TEMPLATES[group.mode], group.language, group.context)
    pdf = None
    if group.mode == DeliveryMode.PDF:
        invoice = db.session.get(Invoice, group.invoice_id, options=PDF_LOAD)
        # Jobs run outside any request: templates and context processors get a request bound
        # to the public address (links built with url_for point there).
        with current_app.test_request_context("/", base_url=current_app.config["PUBLIC_BASE_URL"]):
            pdf = invoice_pdf(invoice, ask_billing=current_app.config.get("INVOICE_PDF_FROM_BILLING", True),
                              store=False)
        if not invoice.pdf:
            group.new_pdf = pdf  # stored with the message's "sending" mark, in one commit
    return compose(rendered, list(group.rows), message_id=group.message_id,
                   attachment=(_attachment_name(group), pdf) if pdf else None)


def _text_part(text: str, subtype: str) -> Message:
    """A UTF-8 text part, quoted-printable (binascii's C encoder, no header parsing)."""
    part = Message()
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii"))
    return part


def _boundary() -> str:
    return f"=_{uuid.uuid4().hex}"


@lru_cache(maxsize=8)
def _message_id_domain(sender: str) -> str:
    return mail._sender_domain(sender)


def compose(rendered: mail.Rendered, recipients: list[str], *, message_id: str | None = None,
            attachment: tuple[str, bytes] | None = None) -> Message:
    """A text (+ HTML) message with an optional PDF, built from plain `Message` parts.

    The same message as `mail.build_message`, at a fraction of its cost: the modern
    EmailMessage API parses every header it is given, which dominated a night's batch.
    """
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    body = _text_part(rendered.text, "plain")
    # Boundaries chosen here (random, never in a body): left to the generator, each message
    # would compile a regular expression to check its own.
    if rendered.html:
        alternative = MIMEMultipart("alternative", boundary=_boundary())
        alternative.attach(body)
        alternative.attach(_text_part(rendered.html, "html"))
        body = alternative
    if attachment:
        msg = MIMEMultipart("mixed", boundary=_boundary())
        msg.attach(body)
        part = MIMEApplication(attachment[1], "pdf")
        part.add_header("Content-Disposition", "attachment", filename=attachment[0])
        msg.attach(part)
    else:
        msg = body
    if "MIME-Version" not in msg:
        msg["MIME-Version"] = "1.0"
    msg["Subject"] = Header(rendered.subject, "utf-8") if not rendered.subject.isascii() else rendered.subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain=_message_id_domain(sender))
    return msg


def send_log(invoice_ids: list[int]) -> dict[int, list[InvoiceEmailLog]]:
    """The send log of some invoices (F-08): {invoice id: rows by address}."""
    out: dict[int, list[InvoiceEmailLog]] = defaultdict(list)
    for row in db.session.scalars(sa.select(InvoiceEmailLog).where(InvoiceEmailLog.invoice_id.in_(invoice_ids))
                                  .order_by(InvoiceEmailLog.invoice_id, InvoiceEmailLog.id)):
        out[row.invoice_id].append(row)
    return dict(out)


from app.services.invoice_sending import send_due  # noqa: E402,F401  (the sending half)
