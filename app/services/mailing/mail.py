"""E-mail: templates rendered in a sandbox, an outgoing queue, SMTP delivery.

Every message kind has a default template per language in `app/templates/email/`
(`<name>.<lang>.txt`, first line `Subject: ...`; optional `<name>.<lang>.html`); an admin's
edited version in `MessageTemplate` replaces it (F-41). Templates render in a Jinja sandbox:
they see only the context they are given. Messages are queued in `OutgoingMail` in the
transaction that causes them and sent after commit by `deliver_mail()` (a job).
"""
from __future__ import annotations

import datetime as dt
import email.utils
import logging
import smtplib
import time
import uuid
from dataclasses import dataclass
from typing import Callable
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.extensions import db
from app.models import MessageTemplate, OutgoingMail
from app.models.base import utcnow
from app.services.core import metrics, request_id, settings
from app.services.core.errors import ConnectionFailed
from app.services.core.queue import Queue, backoff, new_holder
from app.validators import ascii_address

log = logging.getLogger(__name__)

EMAIL_DIR = Path(__file__).resolve().parents[2] / "templates" / "email"
LANGUAGES = ("it", "en")

# e-mail kind -> callable(context) giving the files a queued message of that kind carries
# ((name, media type, bytes)), read when it is sent; registered by the areas above at start-up.
ATTACHMENTS: dict[str, Callable[[dict], list[tuple[str, str, bytes]]]] = {}


def attach_to(kind: str, loader) -> None:
    """Register (or replace) the loader of the attachments of e-mails of `kind`."""
    ATTACHMENTS[kind] = loader


# e-mail kind -> callable(mail) completing a queued message when it is about to be sent: the
# recipients, language and context it is rendered with (a value that must never be stored, such
# as a reset link's token, exists only then), or None when there is nothing to send (the row is
# deleted). `mail` is the dict `deliver_mail` reads from the row.
PREPARERS: dict[str, Callable[[dict], dict | None]] = {}


def prepare_with(kind: str, preparer) -> None:
    """Register (or replace) the preparer of e-mails of `kind`, run at each sending attempt."""
    PREPARERS[kind] = preparer


@dataclass
class Rendered:
    subject: str
    text: str
    html: str = ""


@lru_cache(maxsize=1)
def _env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(autoescape=autoescape, undefined=StrictUndefined,
                                         trim_blocks=True, lstrip_blocks=True)


@lru_cache(maxsize=512)
def _compile(source: str, html: bool):
    return (_env(True) if html else _env(False)).from_string(source)


def default_template(name: str, language: str) -> tuple[str, str, str]:
    """(subject, text, html) of the shipped default, falling back to Italian — unless the
    configuration says `MAIL_TEMPLATE_FALLBACK = False` (tests): then a missing language is an
    error, so a kind shipped without its English text cannot pass unnoticed."""
    fallback = current_app.config.get("MAIL_TEMPLATE_FALLBACK", True)
    for lang in (language, "it") if fallback else (language,):
        txt = EMAIL_DIR / f"{name}.{lang}.txt"
        if txt.exists():
            first, _, body = txt.read_text(encoding="utf-8").partition("\n")
            if not first.startswith("Subject:"):
                raise ValueError(f"{txt} must start with 'Subject: '")
            html_path = EMAIL_DIR / f"{name}.{lang}.html"
            html = html_path.read_text(encoding="utf-8") if html_path.exists() else ""
            return first[len("Subject:"):].strip(), body.lstrip("\n"), html
    raise LookupError(f"no e-mail template {name!r} in {language!r}")


def template_names() -> list[str]:
    return sorted({p.name.split(".")[0] for p in EMAIL_DIR.glob("*.txt")})


def template_source(name: str, language: str) -> tuple[str, str, str]:
    row = db.session.scalar(sa.select(MessageTemplate).where(MessageTemplate.name == name,
                                                             MessageTemplate.language == language))
    if row is not None:
        return row.subject, row.body_text, row.body_html or ""
    return default_template(name, language)


def render_source(subject: str, text: str, html: str, context: dict) -> Rendered:
    """Render template sources in the sandbox; raises jinja2 errors for broken templates."""
    return Rendered(subject=_compile(subject, False).render(**context).strip().replace("\n", " "),
                    text=_compile(text, False).render(**context),
                    html=_compile(html, True).render(**context) if html else "")


def signature() -> dict[str, str]:
    """The company's signature every message may end with (`{{ signature.name }}` …), from the
    settings at the time the message is written."""
    company = settings.company()
    return {"name": company["name"], "address": company["address"], "vat_number": company["vat_number"],
            "phone": company["customer_service_phone"], "pec": company["pec"]}


def render(name: str, language: str, context: dict) -> Rendered:
    language = language if language in LANGUAGES else "it"
    return render_source(*template_source(name, language), {"signature": signature(), **context})


# A context key naming the values that are kept only until the message leaves (a reset link's
# token): they are wiped from the stored context once it is sent or refused.
SECRET_KEYS = "_secret"


def queue_mail(name: str, language: str, recipients: list[str], context: dict, *,
               key: str | None = None, ics: str | None = None, secret: tuple[str, ...] = ()) -> OutgoingMail | None:
    """Queue a message in the current transaction; a repeated key queues nothing. The values of
    `secret` (context keys) are kept only until the message is sent or refused."""
    key = key or f"{name}-{uuid.uuid4().hex}"
    if db.session.scalar(sa.select(OutgoingMail.id).where(OutgoingMail.idempotency_key == key)):
        return None
    if secret:
        context = {**context, SECRET_KEYS: list(secret)}
    mail = OutgoingMail(idempotency_key=key, template=name, language=language,
                        recipients=list(recipients), context=context, ics=ics,
                        status="pending", next_attempt_at=utcnow(), request_id=request_id.current())
    db.session.add(mail)
    return mail


def build_message(rendered: Rendered, recipients: list[str], *, ics: str | None = None,
                  ics_method: str = "REQUEST",
                  attachments: list[tuple[str, str, bytes]] = ()) -> EmailMessage:
    """An RFC 5322 message: text (+ HTML), an iCalendar part, attachments (name, mime, bytes)."""
    cfg = current_app.config
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = cfg["MAIL_DEFAULT_SENDER"]
    msg["To"] = ", ".join(recipients)
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=sender_domain(cfg["MAIL_DEFAULT_SENDER"]))
    msg.set_content(rendered.text)
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html")
    if ics:
        # Calendar clients look for a text/calendar alternative with the method parameter.
        msg.add_alternative(ics, subtype="calendar", params={"method": ics_method})
        msg.add_attachment(ics.encode(), maintype="application", subtype="ics",
                           filename="invite.ics")
    for filename, mime, data in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def sender_domain(sender: str) -> str:
    addr = email.utils.parseaddr(sender)[1]
    return addr.partition("@")[2] or "sportello.localhost"


def smtp_connection(timeout: float = 30.0) -> smtplib.SMTP:
    """An SMTP connection to the configured server (STARTTLS and login when configured)."""
    cfg = current_app.config
    conn = smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg["MAIL_PORT"]), timeout=timeout)
    if cfg.get("MAIL_USE_TLS"):
        conn.starttls()
    if cfg.get("MAIL_USERNAME"):
        conn.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
    return conn


def check_smtp(timeout: float = 10.0) -> list[str]:
    """Test the configured SMTP server: connect, EHLO, STARTTLS and log in when configured,
    QUIT. Returns the steps done; raises ConnectionFailed with the error text."""
    cfg = current_app.config
    steps = ["EHLO"]
    conn = None
    try:
        conn = smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg["MAIL_PORT"]), timeout=timeout)
        conn.ehlo()
        if cfg.get("MAIL_USE_TLS"):
            conn.starttls()
            conn.ehlo()
            steps.append("STARTTLS")
        if cfg.get("MAIL_USERNAME"):
            conn.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
            steps.append("AUTH")
        conn.quit()
        steps.append("QUIT")
        return steps
    except (smtplib.SMTPException, OSError) as exc:
        if conn is not None:
            conn.close()
        text = f"{type(exc).__name__}: {exc}"
        if cfg.get("MAIL_PASSWORD"):
            text = text.replace(cfg["MAIL_PASSWORD"], "•••")
        raise ConnectionFailed(text[:300]) from None


_SMTPUTF8: dict[tuple, tuple[float, bool]] = {}


def server_accepts_smtputf8() -> bool:
    """Whether the configured SMTP server advertises SMTPUTF8 (asked once per process and
    server for ten minutes; False when it can't be reached)."""
    cfg = current_app.config
    key = (cfg["MAIL_SERVER"], int(cfg["MAIL_PORT"]))
    known = _SMTPUTF8.get(key)
    if known is not None and known[0] > time.monotonic():
        return known[1]
    conn = None
    try:
        conn = smtp_connection(timeout=5.0)
        conn.ehlo_or_helo_if_needed()
        answer = conn.has_extn("smtputf8")
    except (smtplib.SMTPException, OSError):
        answer = False
    finally:
        _close(conn)
    _SMTPUTF8[key] = (time.monotonic() + 600, answer)
    return answer


class PermanentRefusal(Exception):
    """The SMTP server refused for good (5xx): do not retry."""


def _answer(code: int, text: bytes | str) -> str:
    """A server's answer as staff read it: "550 5.1.1 mailbox unavailable"."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(str(text).split())}"


def send(conn: smtplib.SMTP, msg: EmailMessage) -> dict[str, tuple[int, bytes]]:
    """Send; returns refused recipients. Raises PermanentRefusal (5xx) or smtplib/OSError (retry)."""
    try:
        return conn.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        if all(code >= 500 for code, _ in exc.recipients.values()):
            raise PermanentRefusal("; ".join(f"{address}: {_answer(code, text)}"
                                             for address, (code, text) in exc.recipients.items())) from exc
        raise
    except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
        if exc.smtp_code >= 500:
            raise PermanentRefusal(_answer(exc.smtp_code, exc.smtp_error)) from exc
        raise


MAIL_QUEUE = Queue(OutgoingMail, "pending", "sending")


class _Undeliverable(Exception):
    """No recipient of this message can be written on the wire (e.g. a non-ASCII local part to a
    server without SMTPUTF8): the message fails, the others go on."""


def _wire_recipients(conn: smtplib.SMTP, recipients: list[str]) -> list[str]:
    """The envelope addresses: domains IDNA-encoded; non-ASCII local parts only to a server that
    advertises SMTPUTF8 (smtplib then asks for it)."""
    conn.ehlo_or_helo_if_needed()
    utf8 = conn.has_extn("smtputf8")
    out = []
    for address in recipients:
        ascii_form = ascii_address(address)
        if ascii_form is not None:
            out.append(ascii_form)
        elif utf8:
            out.append(address)
    if not out:
        raise _Undeliverable(f"no deliverable address among {len(recipients)}: the server does not "
                             "accept non-ASCII addresses (SMTPUTF8)" if recipients else "no recipients")
    return out


def _send_one(conn: smtplib.SMTP, mail: dict) -> str:
    """Render and send one queued message; returns its Message-ID. Raises what `send` raises,
    `_Undeliverable`, or a rendering error."""
    rendered = render(mail["template"], mail["language"], mail["context"])
    recipients = _wire_recipients(conn, mail["recipients"])
    loader = ATTACHMENTS.get(mail["template"])
    msg = build_message(rendered, recipients, ics=mail["ics"],
                        ics_method=mail["context"].get("ics_method", "REQUEST"),
                        attachments=loader(mail["context"]) if loader else ())
    send(conn, msg)
    return msg["Message-ID"]


class _NothingToSend(Exception):
    """A preparer found nothing to send; the row is gone."""


def _without_secrets(context: dict) -> dict | None:
    """The stored context once the message has left: the secret values wiped (None: unchanged)."""
    keys = context.get(SECRET_KEYS)
    if not keys:
        return None
    return {k: ("" if k in keys else v) for k, v in context.items() if k != SECRET_KEYS}


def _record(id_: int, **values) -> None:
    """Write one message's outcome in a transaction of its own (after the network I/O)."""
    db.session.execute(sa.update(OutgoingMail).where(OutgoingMail.id == id_)
                       .values(claimed_by=None, claimed_at=None, **values)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def deliver_mail(limit: int = 200, *, budget: float = 25.0) -> dict:
    """Send queued messages until none is due or `budget` seconds are spent.

    Each claim commits before the server is talked to and each outcome is written after, so no
    transaction is open during SMTP. Temporary failures (4xx, lost connection, a template that
    does not render) retry with capped backoff, however many times; 5xx refusals and addresses
    that can't be written on the wire fail that message only. Claims of crashed senders are given
    back first. A kind with a preparer (`prepare_with`) is completed at each attempt, before the
    server is talked to; a message it finds nothing to send for is deleted.
    """
    counts = {"sent": 0, "retry": 0, "failed": 0}
    recovered = MAIL_QUEUE.recover_stale(dt.timedelta(minutes=settings.get("mail_claim_timeout_minutes")))
    holder = new_holder("mail/")
    deadline = time.monotonic() + budget
    conn = None
    ids: list[int] = []
    try:
        while time.monotonic() < deadline:
            ids = MAIL_QUEUE.claim(holder, limit)
            if not ids:
                break
            while ids:
                id_ = ids[0]
                row = db.session.get(OutgoingMail, id_)
                mail = {"template": row.template, "language": row.language, "context": dict(row.context or {}),
                        "recipients": list(row.recipients or []), "ics": row.ics}
                attempts = (row.attempts or 0) + 1
                token = request_id.bind(row.request_id) if row.request_id else None  # the cause's id in the mail log
                prepare = PREPARERS.get(mail["template"])
                sent_to: dict = {}
                try:
                    if prepare is not None:
                        prepared = prepare(mail)
                        if prepared is None:  # nothing to send: no trace kept
                            db.session.execute(sa.delete(OutgoingMail).where(OutgoingMail.id == id_))
                            db.session.commit()
                            raise _NothingToSend
                        mail, sent_to = prepared, {"recipients": list(prepared["recipients"])}
                    db.session.rollback()  # nothing written; no snapshot kept across the I/O
                    if conn is None:
                        conn = smtp_connection()
                    message_id = _send_one(conn, mail)
                except _NothingToSend:
                    pass
                except (PermanentRefusal, _Undeliverable) as exc:
                    wiped = _without_secrets(mail["context"])
                    _record(id_, status="failed", attempts=attempts, error=str(exc)[:2000], **sent_to,
                            **({"context": wiped} if wiped is not None else {}))
                    counts["failed"] += 1
                except (smtplib.SMTPException, OSError) as exc:
                    conn = _close(conn)
                    _retry(id_, attempts, f"{type(exc).__name__}: {exc}", counts)
                except Exception as exc:  # a template or a message that can't be built: this one only
                    log.error("E-mail %s (%s) could not be built: %s", id_, mail["template"], exc)
                    conn = _close(conn) if isinstance(exc, UnicodeError) else conn
                    _retry(id_, attempts, f"{type(exc).__name__}: {exc}", counts)
                else:
                    wiped = _without_secrets(mail["context"])
                    _record(id_, status="sent", attempts=attempts, sent_at=utcnow(), message_id=message_id,
                            error=None, **sent_to, **({"context": wiped} if wiped is not None else {}))
                    counts["sent"] += 1
                    log.info("E-mail %s (%s) sent as %s", id_, mail["template"], message_id)
                finally:
                    if token is not None:
                        request_id.reset(token)
                ids.pop(0)
    finally:
        MAIL_QUEUE.give_back(ids)  # an error of our own stopped the run: what it held is due again
        _close(conn)
        metrics.count_emails("mail", counts)
    return MAIL_QUEUE.report(counts, recovered, "E-mail")


def purge_contents(now: dt.datetime | None = None) -> int:
    """Empty the contents (rendering values, invitation) of e-mails sent or refused more than
    `mail_retention_days` ago; the row keeps recipients, template, dates and outcome. Returns
    how many rows were emptied."""
    cutoff = (now or utcnow()) - dt.timedelta(days=settings.get("mail_retention_days"))
    result = db.session.execute(
        sa.update(OutgoingMail)
        .where(OutgoingMail.status.in_(("sent", "failed")), OutgoingMail.created_at < cutoff,
               sa.or_(OutgoingMail.context.is_not(None), OutgoingMail.ics.is_not(None)))
        .values(context=sa.null(), ics=None).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount or 0


def _retry(id_: int, attempts: int, error: str, counts: dict) -> None:
    _record(id_, status="pending", attempts=attempts, error=error[:2000],
            next_attempt_at=utcnow() + backoff(attempts))
    counts["retry"] += 1


def _close(conn):
    if conn is not None:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            pass
    return None

