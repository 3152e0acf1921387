"""The signed copy of a contract (F-12): uploaded by the agent or the back office, its type
decided by parsing the content, kept with the contract, e-mailed to the customer.

A signed copy is a PDF (opened with pikepdf), a JPEG or a PNG (decoded with Pillow): the file's
name and the browser's content type are never trusted. The largest size is a setting
(`signed_copy_max_mb`). The first upload sets the contract's `signed_on`; a later one adds a
newer copy (the older ones stay). Each upload is audited and queues an e-mail to the customer
with the copy attached (kind `contract_signed`, editable by admins, F-41).
"""
from __future__ import annotations

import hashlib
import io

import sqlalchemy as sa

from app.clock import local_date
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import Contract, ContractSignedCopy, ContractStatus
from app.models.base import utcnow
from app.services.core import settings
from app.services.core.audit import record
from app.services.core.errors import DomainError
from app.services.core.unit_of_work import transactional
from app.services.sales import contracts as wf

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
EXTENSIONS = {PDF: "pdf", JPEG: "jpg", PNG: "png"}
MAIL_KIND = "contract_signed"
# States in which there is something signed to keep (documents built, not discarded).
UPLOADABLE = tuple(s for s in ContractStatus if s not in (ContractStatus.DRAFT,))


class UploadRefused(DomainError):
    """The file can't be kept as the signed copy; the contract is unchanged."""

    default_field = "file"


def max_bytes() -> int:
    return int(settings.get("signed_copy_max_mb")) * 1024 * 1024


def sniff(data: bytes) -> str | None:
    """The media type of `data` if it really is a PDF, a JPEG or a PNG (parsed), else None."""
    if data.startswith(b"%PDF-"):
        import pikepdf

        try:
            with pikepdf.open(io.BytesIO(data)) as pdf:
                return PDF if len(pdf.pages) > 0 else None
        except (pikepdf.PdfError, ValueError, OSError):
            return None
    expected = "JPEG" if data.startswith(b"\xff\xd8\xff") else "PNG" if data.startswith(b"\x89PNG\r\n\x1a\n") else None
    if expected is None:
        return None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != expected:
                return None
            img.verify()
    except Exception:  # Pillow raises many kinds of errors on a broken image
        return None
    return JPEG if expected == "JPEG" else PNG


def may_upload(contract: Contract, actor) -> bool:
    """The contract's agent, or staff who enter or validate contracts, once it is submitted."""
    if contract.status not in UPLOADABLE:
        return False
    if wf.may(actor, wf.EDIT_ANY) or wf.may(actor, wf.VALIDATE):
        return True
    return wf.may(actor, wf.ENTER) and wf.is_owner(contract, actor)


def copies_of(contract: Contract) -> list[ContractSignedCopy]:
    return list(db.session.scalars(sa.select(ContractSignedCopy).where(
        ContractSignedCopy.contract_id == contract.id).order_by(ContractSignedCopy.id.desc())))


def get_copy(contract: Contract, copy_id: int) -> ContractSignedCopy | None:
    return db.session.scalar(sa.select(ContractSignedCopy).where(
        ContractSignedCopy.id == copy_id, ContractSignedCopy.contract_id == contract.id))


def filename(contract: Contract, copy: ContractSignedCopy) -> str:
    return f"{contract.number}-signed-{copy.id}.{EXTENSIONS.get(copy.media_type, 'bin')}"


def check(data: bytes) -> str:
    """The media type of an acceptable upload; raises UploadRefused with the reason."""
    if not data:
        raise UploadRefused(_l("The file is empty: choose the scanned signed contract."))
    limit = max_bytes()
    if len(data) > limit:
        raise UploadRefused(_l("The file is larger than %(mb)s MB: scan it at a lower resolution or as a PDF.",
                               mb=limit // (1024 * 1024)))
    media_type = sniff(data)
    if media_type is None:
        raise UploadRefused(_l("Only a PDF, JPEG or PNG file can be kept as the signed copy, and this file is "
                               "none of these (whatever its name says)."))
    return media_type


@transactional
def upload(contract: Contract, data: bytes, actor) -> ContractSignedCopy:
    """Keep `data` as the contract's signed copy, set `signed_on`, audit, e-mail the customer."""
    if not may_upload(contract, actor):
        raise UploadRefused(_l("You can't upload the signed copy of this contract."))
    media_type = check(data)
    now = utcnow()
    copy = ContractSignedCopy(contract_id=contract.id, media_type=media_type, size=len(data),
                              sha256=hashlib.sha256(data).hexdigest(), content=data,
                              uploaded_by_id=getattr(actor, "id", None), uploaded_at=now)
    db.session.add(copy)
    before = contract.signed_on
    if contract.signed_on is None:
        contract.signed_on = local_date(now)
    db.session.flush()
    record("contract", contract.id, "signed_copy",
           {"signed_on": [before.isoformat() if before else None, contract.signed_on.isoformat()],
            "signed_copy": [None, f"{media_type} {len(data)} B sha256 {copy.sha256[:12]}"]}, actor)
    _mail_customer(contract, copy)
    return copy


def _mail_customer(contract: Contract, copy: ContractSignedCopy) -> None:
    from app.services.mailing.mail import queue_mail

    customer = contract.customer
    email = (customer.email if customer is not None and customer.email else
             (contract.draft.step("customer").get("email") or ""))
    if not email:
        return
    queue_mail(MAIL_KIND, contract.language or "it", [email],
               {"name": contract.customer_name, "number": contract.number,
                "signed_on": contract.signed_on.strftime("%d/%m/%Y"), "copy_id": copy.id},
               key=f"{MAIL_KIND}-{copy.id}")


def _attachment(context: dict) -> list[tuple[str, str, bytes]]:
    """The signed copy an e-mail of kind `contract_signed` carries."""
    copy = db.session.get(ContractSignedCopy, context.get("copy_id") or 0)
    if copy is None:
        return []
    return [(filename(copy.contract, copy), copy.media_type, copy.content)]


def register_hooks() -> None:
    """Attach the signed copy to its e-mail (called once by `create_app`)."""
    from app.services.mailing.mail import attach_to

    attach_to(MAIL_KIND, _attachment)
