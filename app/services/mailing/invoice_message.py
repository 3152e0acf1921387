"""What one invoice e-mail says (F-31): claimed rows grouped per invoice, rendered in the
customer's language from the `invoice_link` / `invoice_pdf` templates, with the PDF in PDF mode.

Building a message writes nothing: the sender stores a new PDF with the message's "sending" mark.
"""
from __future__ import annotations

import binascii
import datetime as dt
import email.utils
import uuid
from dataclasses import dataclass, field
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from functools import lru_cache

import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_currency
from flask import current_app

from app.clock import local_today
from app.extensions import db
from app.models import Customer, DeliveryMode, Invoice, InvoiceEmailLog, SupplyPoint
from app.services.core import settings
from app.services.mailing import mail
from app.services.mailing.invoice_links import invoice_link
from app.validators import ascii_address

TEMPLATES = {DeliveryMode.LINK: "invoice_link", DeliveryMode.PDF: "invoice_pdf"}

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


def message_groups(ids: list[int]) -> list[Group]:
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
    expiry = settings.get("invoice_link_expiry_days")
    our_name = settings.company()["name"]
    signature = mail.signature()
    groups: dict[tuple[int, DeliveryMode], Group] = {}
    for (row_id, address, mode, attempts, message_id, inv_id, number, inv_date, due_date, amount,
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
                "company": our_name, "signature": signature,
                "portal_url": current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/portal/",
            }
            if mode == DeliveryMode.LINK:
                context["link"] = invoice_link(inv_id, customer_id)
                context["link_expires"] = _date(local_today() + dt.timedelta(days=expiry), loc)
            group = groups[key] = Group(inv_id, number, mode, language, context)
        group.rows[address] = row_id
        group.attempts = max(group.attempts, attempts)
        group.message_id = group.message_id or message_id
    return list(groups.values())


class Templates:
    """Template sources read once per batch (admin-edited ones included)."""

    def __init__(self):
        self._cache: dict[tuple[str, str], tuple[str, str, str]] = {}

    def render(self, name: str, language: str, context: dict) -> mail.Rendered:
        key = (name, language)
        if key not in self._cache:
            self._cache[key] = mail.template_source(name, language)
        return mail.render_source(*self._cache[key], context)


def wire_address(address: str) -> str:
    """The address as written in the envelope and the To header: its domain IDNA-encoded (a
    non-ASCII local part stays as it is: only an SMTPUTF8 server takes it)."""
    return ascii_address(address) or address


def attachment_name(group: Group) -> str:
    stem = "bolletta" if group.language == "it" else "invoice"
    return f"{stem}-{''.join(c if c.isalnum() else '-' for c in group.number)}.pdf"


def build(group: Group, templates: Templates):
    """The message of one group (renders or reads the PDF in PDF mode); writes nothing."""
    from app.services.sync.invoice_pdf import PDF_LOAD, invoice_pdf

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
    return compose(rendered, [wire_address(a) for a in group.rows], message_id=group.message_id,
                   attachment=(attachment_name(group), pdf) if pdf else None)


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
    return mail.sender_domain(sender)


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
