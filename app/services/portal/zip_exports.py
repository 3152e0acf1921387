"""Large invoice ZIPs prepared in the background (F-61).

A choice of more than `exports.ZIP_MAX` invoices (or "all my invoices") is not built while the
customer waits: `request_zip` records it, the `exports` job (app.jobs) builds it with
`build_due`, saving its progress every few invoices so the export page (and the API's
`GET /exports/{export_id}`) can show it, and e-mails the customer when the ZIP is ready. The
portal and the API ask for it the same way. The ZIP is kept for `KEEP_DAYS` days for its owner
only (both load it through the portal's ownership check); `purge_expired` then deletes its
content. A customer has at most one export waiting or in preparation at a time.

Rows are claimed with a conditional UPDATE (pending -> building) checked by its row count, so
two scheduler processes never build the same export; a claim older than `CLAIM_MINUTES` (a
process that stopped) goes back to the queue.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import Customer, ExportStatus, Invoice, InvoiceExport, SportelloUser
from app.models.base import utcnow
from app.services.core.unit_of_work import transactional, unit_of_work
from app.services.mailing import mail

from . import accounts
from .exports import ExportError, chosen_invoices

log = logging.getLogger(__name__)

KEEP_DAYS = 7
CLAIM_MINUTES = 30
PROGRESS_EVERY = 10
MAIL_KIND = "export_ready"
OPEN = (ExportStatus.PENDING, ExportStatus.BUILDING)


def open_export(customer_id: int) -> InvoiceExport | None:
    """The customer's export waiting or in preparation, if any."""
    return db.session.scalar(sa.select(InvoiceExport).where(InvoiceExport.customer_id == customer_id,
                                                            InvoiceExport.status.in_(OPEN)))


def recent_exports(customer_id: int, now: dt.datetime | None = None) -> list[InvoiceExport]:
    """The customer's exports still to be shown: waiting, in preparation, ready or failed in
    the last `KEEP_DAYS` days; newest first."""
    since = (now or utcnow()) - dt.timedelta(days=KEEP_DAYS)
    return list(db.session.scalars(
        sa.select(InvoiceExport).where(InvoiceExport.customer_id == customer_id,
                                       InvoiceExport.status != ExportStatus.EXPIRED,
                                       InvoiceExport.created_at >= since)
        .order_by(InvoiceExport.created_at.desc(), InvoiceExport.id.desc()).limit(5)))


@transactional
def request_zip(user: SportelloUser, ids: list[int] | None) -> InvoiceExport:
    """Record a ZIP of the chosen invoices (None: all the customer's) for the job to build;
    raises ExportError for a choice not all the customer's, or while another is prepared."""
    customer_id = user.customer_id
    if open_export(customer_id) is not None:
        raise ExportError(_l("A ZIP of your invoices is already being prepared: wait until it is ready."),
                          "invoices")
    if ids is None:
        wanted = list(db.session.scalars(sa.select(Invoice.id).where(Invoice.customer_id == customer_id)
                                         .order_by(Invoice.invoice_date, Invoice.id)))
    else:
        wanted = sorted(set(ids))
        if len(chosen_invoices(customer_id, wanted)) != len(wanted):
            raise ExportError(_l("Choose among your own invoices."), "invoices")
    if not wanted:
        raise ExportError(_l("Choose at least one invoice."), "invoices")
    export = InvoiceExport(user_id=user.id, customer_id=customer_id, invoice_ids=wanted, total=len(wanted))
    db.session.add(export)
    db.session.flush()
    log.info("Invoice ZIP export %s requested: %s invoices", export.id, len(wanted))
    return export


def _claim(now: dt.datetime) -> InvoiceExport | None:
    """Take the oldest waiting export (one statement that only one process can win)."""
    for export_id in db.session.scalars(sa.select(InvoiceExport.id)
                                        .where(InvoiceExport.status == ExportStatus.PENDING)
                                        .order_by(InvoiceExport.id).limit(5)).all():
        won = db.session.execute(sa.update(InvoiceExport)
                                 .where(InvoiceExport.id == export_id, InvoiceExport.status == ExportStatus.PENDING)
                                 .values(status=ExportStatus.BUILDING, claimed_at=now, done=0)
                                 .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        if won:
            return db.session.get(InvoiceExport, export_id)
    return None


def _recover(now: dt.datetime) -> int:
    """Exports left in preparation by a process that stopped go back to the queue."""
    count = db.session.execute(sa.update(InvoiceExport)
                               .where(InvoiceExport.status == ExportStatus.BUILDING,
                                      InvoiceExport.claimed_at < now - dt.timedelta(minutes=CLAIM_MINUTES))
                               .values(status=ExportStatus.PENDING, claimed_at=None)
                               .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return count


def _build(export: InvoiceExport) -> bytes:
    """The ZIP's bytes; the progress is saved every `PROGRESS_EVERY` invoices."""
    from app.services.sync.invoice_pdf import invoice_pdf

    invoices = chosen_invoices(export.customer_id, export.invoice_ids)  # still the customer's
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for start in range(0, len(invoices), PROGRESS_EVERY):
            with unit_of_work():
                for inv in invoices[start:start + PROGRESS_EVERY]:
                    archive.writestr(f"{inv.number.replace('/', '-')}.pdf", invoice_pdf(inv))
                export.done = min(start + PROGRESS_EVERY, len(invoices))
    export.total = len(invoices)
    return buffer.getvalue()


def _ready_mail(export: InvoiceExport) -> None:
    user = db.session.get(SportelloUser, export.user_id)
    address = accounts.contact_email(user) if user is not None else ""
    if not address:
        return
    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    mail.queue_mail(MAIL_KIND, user.language or "it", [address],
                    {"name": db.session.get(Customer, export.customer_id).addressed_name, "count": export.total,
                     "days": KEEP_DAYS, "url": f"{base}/portal/export"},
                    key=f"{MAIL_KIND}-{export.id}")


def build_due(now: dt.datetime | None = None, limit: int = 5) -> dict:
    """Build the waiting exports (at most `limit` in one run): the counts of the run."""
    now = now or utcnow()
    counts = {"recovered": _recover(now), "built": 0, "failed": 0}
    for _ in range(limit):
        export = _claim(now)
        if export is None:
            break
        try:
            data = _build(export)
        except Exception:  # noqa: BLE001 - one export's failure must not stop the others
            db.session.rollback()
            log.exception("Invoice ZIP export %s could not be built", export.id)
            with unit_of_work():
                db.session.get(InvoiceExport, export.id).status = ExportStatus.FAILED
            counts["failed"] += 1
            continue
        with unit_of_work():
            export.content, export.size = data, len(data)
            export.status, export.ready_at = ExportStatus.READY, utcnow()
            export.expires_at = export.ready_at + dt.timedelta(days=KEEP_DAYS)
            _ready_mail(export)
        counts["built"] += 1
    return counts


@transactional
def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete the content of ready exports past their expiry; the number purged."""
    return db.session.execute(sa.update(InvoiceExport)
                              .where(InvoiceExport.status == ExportStatus.READY,
                                     InvoiceExport.expires_at <= (now or utcnow()))
                              .values(status=ExportStatus.EXPIRED, content=None)
                              .execution_options(synchronize_session=False)).rowcount


def content(export: InvoiceExport, now: dt.datetime | None = None) -> bytes | None:
    """The ZIP of an export the caller owns (loaded through the ownership check), or None when
    it is not ready or has expired."""
    return export.content if export.is_downloadable(now) else None
