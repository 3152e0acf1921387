"""Invoice e-mails, the sender (F-31): claimed rows become messages on one SMTP
connection per worker, with their outcome written to the log.

Per message: its rows are marked "sending" in the commit that precedes it on the wire, and its
outcome is written in the commit that marks the next one — so after a crash at most one
message per worker is uncertain. While a message is on the wire (a background thread talks to
the server) the next one is rendered and serialised: the worker works while the server does.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import logging
import smtplib
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from email.policy import Compat32
from functools import lru_cache
from typing import Callable

import sqlalchemy as sa

from app.extensions import db
from app.models import Invoice, InvoiceEmailLog, SendOutcome
from app.models.base import utcnow
from app.services.mailing import mail
from app.services.mailing.invoice_message import Group, Templates, build, message_groups, wire_address
from app.services.core import metrics
from app.services.core.queue import backoff, new_holder
from app.services.mailing.invoice_queue import CHUNK_MESSAGES, DUE, MAX_TEMPORARY_IN_A_ROW, claim

log = logging.getLogger(__name__)

FIRST_CLAIM = 4        # messages in a worker's first claim, before it knows their cost
CLAIM_SECONDS = 0.25   # then: about this much work per claim (small: workers share the tail)


class Sender:
    """One worker's SMTP connection and counters."""

    def __init__(self):
        self.conn: smtplib.SMTP | None = None
        self.counts = {"messages": 0, "sent": 0, "retry": 0, "failed": 0}
        self.temporary_in_a_row = 0
        self._wire: ThreadPoolExecutor | None = None

    def start(self, envelope: tuple[str, list[str], bytes]) -> Future:
        """Put a serialised message on the wire in the background; the future holds the outcome
        (see transmit). The connection is opened here, in the caller's thread (it needs the app's
        settings); the wire thread only talks to the server."""
        if self._wire is None:
            self._wire = ThreadPoolExecutor(1, thread_name_prefix="smtp")
        if self.conn is None:
            try:
                self.conn = mail.smtp_connection()
            except (smtplib.SMTPException, OSError) as exc:
                failed: Future = Future()
                failed.set_exception(exc)
                return failed
        return self._wire.submit(self.transmit, *envelope)

    def transmit(self, sender: str, recipients: list[str], data: bytes) -> dict[str, tuple[int, str]]:
        """{address: (code, text)} of refused addresses; raises for whole-message outcomes
        (PermanentRefusal for 5xx, smtplib/OSError errors for temporary ones)."""
        self.conn.ehlo_or_helo_if_needed()
        utf8 = self.conn.has_extn("smtputf8")
        unwritable = {a: (553, "5.6.7 non-ASCII address: the mail server does not support SMTPUTF8")
                      for a in recipients if not a.isascii() and not utf8}
        recipients = [a for a in recipients if a not in unwritable]
        if not recipients:
            raise mail.PermanentRefusal(str(unwritable))
        options = ("SMTPUTF8",) if any(not a.isascii() for a in recipients) else ()
        try:
            refused = self.conn.sendmail(sender, recipients, data, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            if all(code >= 500 for code, _ in exc.recipients.values()):
                raise mail.PermanentRefusal(str(exc.recipients)) from exc
            raise
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            if exc.smtp_code >= 500:
                raise mail.PermanentRefusal(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise
        refused = {a: (c, t.decode(errors="replace") if isinstance(t, bytes) else str(t))
                   for a, (c, t) in (refused or {}).items()}
        return {**refused, **unwritable}

    def disconnect(self) -> None:
        mail._close(self.conn)
        self.conn = None

    def close(self) -> None:
        self.disconnect()
        if self._wire is not None:
            self._wire.shutdown(wait=True)
            self._wire = None


class _WirePolicy(Compat32):
    """compat32 with CRLF line ends (SMTP), writing short plain-ASCII headers directly.

    compat32 wraps every header in a `Header` object to fold it, even a 30-character ASCII
    one: that was a third of a link message's cost. A header that needs no folding and no
    encoding is written as it is, which is what the `Header` path produces for it (tested);
    every other header still goes through it.
    """

    def _fold(self, name, value, sanitize):
        if (isinstance(value, str) and value.isascii() and "\n" not in value and "\r" not in value
                and len(name) + 2 + len(value) <= (self.max_line_length or 78)):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


_CRLF = _WirePolicy(linesep="\r\n")


@lru_cache(maxsize=8)
def _address(sender: str) -> str:
    return email.utils.parseaddr(sender)[1]


def _envelope(msg) -> tuple[str, list[str], bytes]:
    """(sender, recipients, bytes on the wire) of a message built by `compose`."""
    return _address(msg["From"]), [a.strip() for a in msg["To"].split(",")], msg.as_bytes(policy=_CRLF)


_LOG = InvoiceEmailLog.__table__
_UPDATES: dict[tuple[str, ...], sa.Update] = {}


def _mark(ids, outcome: SendOutcome, **values) -> None:
    """Set the outcome of log rows: one prepared Core UPDATE per set of columns, run once per
    row, so a message costs no ORM work and no statement compilation."""
    ids = list(ids)
    if not ids:
        return
    keys = tuple(sorted(values))
    stmt = _UPDATES.get(keys)
    if stmt is None:
        stmt = _UPDATES[keys] = (
            _LOG.update().where(_LOG.c.id == sa.bindparam("row_id"))
            .values(outcome=sa.bindparam("new_outcome", type_=_LOG.c.outcome.type),
                    **{k: sa.bindparam(f"new_{k}", type_=_LOG.c[k].type) for k in keys}))
    params = {f"new_{k}": v for k, v in values.items()}
    params["new_outcome"] = outcome
    db.session.connection().execute(stmt, [dict(params, row_id=i) for i in ids])


_STORE_PDF = (Invoice.__table__.update().where(Invoice.__table__.c.id == sa.bindparam("invoice_id"))
              .values(pdf=sa.bindparam("data")))


def _mark_sending(group: Group, msg) -> None:
    _mark(group.rows.values(), SendOutcome.SENDING, message_id=msg["Message-ID"],
          attempts=group.attempts + 1, error=None)
    if group.new_pdf:  # rendered once: kept on the invoice from now on
        db.session.connection().execute(_STORE_PDF, {"invoice_id": group.invoice_id, "data": group.new_pdf})
        group.new_pdf = None


def _retry(group: Group, ids, error: str, counts: dict) -> None:
    """A temporary failure: due again after the capped backoff, however many times it takes."""
    attempts = group.attempts + 1
    _mark(ids, SendOutcome.RETRY, claimed_by=None, error=error[:2000],
          next_attempt_at=utcnow() + backoff(attempts))
    counts["retry"] += len(ids)


def _refused(group: Group, refused: dict, counts: dict) -> None:
    """Per-address refusals: 5xx fails the address, 4xx retries it later."""
    rows = {wire_address(a).lower(): row for a, row in group.rows.items()}
    for address, (code, text) in refused.items():
        row = rows.get(address.lower())
        if row is None:
            continue
        if code >= 500:
            _mark([row], SendOutcome.FAILED, error=f"{code} {text}"[:2000])
            counts["failed"] += 1
        else:
            _retry(group, [row], f"{code} {text}", counts)


def _outcome(sender: Sender, group: Group, on_the_wire: Future) -> bool:
    """Wait for one message's delivery and stage its rows' outcomes; False: stop this run."""
    counts = sender.counts
    counts["messages"] += 1
    ids = list(group.rows.values())
    try:
        refused = on_the_wire.result()
    except mail.PermanentRefusal as exc:
        _mark(ids, SendOutcome.FAILED, error=str(exc)[:2000])
        counts["failed"] += len(ids)
        sender.temporary_in_a_row = 0
        return True
    except smtplib.SMTPRecipientsRefused as exc:  # every address refused, some only for now
        _refused(group, {a: (c, str(t)) for a, (c, t) in exc.recipients.items()}, counts)
        sender.disconnect()
        sender.temporary_in_a_row += 1
        return sender.temporary_in_a_row < MAX_TEMPORARY_IN_A_ROW
    except (smtplib.SMTPException, OSError) as exc:  # 4xx, dropped or refused connection
        _retry(group, ids, f"{type(exc).__name__}: {exc}", counts)
        sender.disconnect()
        sender.temporary_in_a_row += 1
        return sender.temporary_in_a_row < MAX_TEMPORARY_IN_A_ROW
    except Exception as exc:  # anything else this one message raised fails this message only
        log.exception("Invoice %s: the e-mail could not be sent", group.number)
        _mark(ids, SendOutcome.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        counts["failed"] += len(ids)
        sender.disconnect()
        return True
    sender.temporary_in_a_row = 0
    refused = {a.lower(): v for a, v in refused.items()}
    ok = [row for address, row in group.rows.items() if wire_address(address).lower() not in refused]
    _mark(ok, SendOutcome.SENT, sent_at=utcnow(), error=None)
    counts["sent"] += len(ok)
    _refused(group, refused, counts)
    return True


def _build(group: Group, templates: Templates, counts: dict):
    """The group's message and its envelope (sender, recipients, bytes), or (None, None) after
    marking it failed (a broken template or PDF)."""
    try:
        msg = build(group, templates)
        return msg, _envelope(msg)
    except Exception as exc:  # one broken message must not stop the night's batch
        log.exception("Invoice %s: the e-mail could not be built", group.number)
        _mark(group.rows.values(), SendOutcome.FAILED, error=f"Not built: {exc}"[:2000])
        counts["failed"] += len(group.rows)
        return None, None


def _release(groups: list[Group]) -> None:
    """Give back claimed rows not sent in this run (no attempt counted)."""
    ids = [i for g in groups for i in g.rows.values()]
    if ids:
        db.session.execute(sa.update(InvoiceEmailLog)
                           .where(InvoiceEmailLog.id.in_(ids), InvoiceEmailLog.outcome.in_(DUE))
                           .values(claimed_by=None).execution_options(synchronize_session=False))


class _Claims:
    """Claims for one worker, each sized to about CLAIM_SECONDS of work: big ones for quick
    link messages, small ones for PDFs, so that several workers share even a short batch."""

    def __init__(self, holder: str, now: dt.datetime | None, chunk: int, counts: dict):
        self.holder, self.now, self.chunk, self.counts = holder, now, chunk, counts
        self.size = min(chunk, FIRST_CLAIM)  # before the cost of a message is known
        self.started: float | None = None
        self.before = 0

    def next(self) -> list[Group]:
        if self.started is not None:
            per_message = (time.perf_counter() - self.started) / max(1, self.counts["messages"] - self.before)
            self.size = max(1, min(self.chunk, int(CLAIM_SECONDS / max(per_message, 1e-4))))
        self.started, self.before = time.perf_counter(), self.counts["messages"]
        ids = claim(self.holder, self.now or utcnow(), self.size)
        groups = message_groups(ids) if ids else []
        # Committed at once: building writes nothing, so no worker holds the write lock while a
        # PDF renders or a message is on the wire (on SQLite the others would wait for it).
        db.session.commit()
        return groups


def send_due(*, holder: str | None = None, now: dt.datetime | None = None,
             progress: Callable[[dict], None] | None = None, chunk: int = CHUNK_MESSAGES) -> dict:
    """Send every due row (claimed chunk by chunk); returns counts (messages, sent, retry, failed).

    One stream of messages: while one is on the wire, the next is claimed (when the last claim
    is used up) and built; it is marked as sending in the commit that records the outcome of
    the one before.
    """
    templates, sender = Templates(), Sender()
    counts = sender.counts
    claims = _Claims(holder or new_holder(), now, chunk, counts)
    queue: deque[Group] = deque()

    def next_group() -> Group | None:
        if not queue:
            queue.extend(claims.next())
        return queue.popleft() if queue else None

    try:
        group = next_group()
        msg, envelope = _build(group, templates, counts) if group is not None else (None, None)
        if msg is not None:
            _mark_sending(group, msg)
        db.session.commit()
        while group is not None:
            on_the_wire = sender.start(envelope) if msg is not None else None
            following = next_group()
            msg = None
            if following is not None:
                msg, envelope = _build(following, templates, counts)  # while `group` is on the wire
            stop = on_the_wire is not None and not _outcome(sender, group, on_the_wire)
            if stop:
                _release(([following] if following is not None else []) + list(queue))
                following = None
            elif msg is not None:
                _mark_sending(following, msg)
            db.session.commit()  # this outcome and the next message marked, before it goes out
            if progress:
                progress(counts)
            group = following
    finally:
        sender.close()
        metrics.count_emails("invoice", counts)
    return dict(counts)
