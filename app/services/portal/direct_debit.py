"""Direct debit (F-06): SEPA mandate requests and revocations for a supply point.

A request stores the mandate with a unique reference, renders the SEPA mandate PDF
(`pdf/mandate.html`, xhtml2pdf, in the customer's language) and sends the mandate to billing
through the outbox; the activity is handled by the back office (semi-automatic, F-22).
The customer is told by e-mail whenever the bank account changes.
"""
from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale, lazy_gettext as _l

from app.extensions import db
from app.models import (ActivityKind, DirectDebitMandate, MandateStatus, PaymentMethod,
                        SupplyPoint)
from app.models.base import utcnow
from app.services.core import settings
from app.services.core.errors import DomainError
from app.services.core.pdf import render_pdf
from app.services.portal.accounts import contact_email
from app.services.core.unit_of_work import transactional

OPEN_STATUSES = (MandateStatus.REQUESTED, MandateStatus.ACTIVE)


class MandateError(DomainError):
    """A direct debit request or revocation refused."""


def new_reference(supply_point: SupplyPoint) -> str:
    """A SEPA mandate reference (max 35 characters, letters, digits and '-')."""
    return f"SPT-{supply_point.code}-{secrets.token_hex(4).upper()}"[:35]


def mask_iban(iban: str) -> str:
    return ("•" * max(len(iban) - 4, 0) + iban[-4:]) if iban else ""


def open_mandate(supply_point: SupplyPoint) -> DirectDebitMandate | None:
    return db.session.scalar(sa.select(DirectDebitMandate).where(
        DirectDebitMandate.supply_point_id == supply_point.id,
        DirectDebitMandate.status.in_(OPEN_STATUSES)).order_by(DirectDebitMandate.id.desc()).limit(1))


def mandates(supply_point: SupplyPoint) -> list[DirectDebitMandate]:
    return list(db.session.scalars(sa.select(DirectDebitMandate).where(
        DirectDebitMandate.supply_point_id == supply_point.id).order_by(DirectDebitMandate.id.desc())))


def render_mandate_pdf(mandate: DirectDebitMandate, language: str = "it") -> bytes:
    sp = mandate.supply_point
    with force_locale(language if language in ("it", "en") else "it"):
        html = render_template("pdf/mandate.html", mandate=mandate, supply_point=sp,
                               customer=sp.customer, company=settings.company())
    return render_pdf(html, f"mandate {mandate.reference}")


@transactional
def request_mandate(user, supply_point: SupplyPoint, values: dict) -> DirectDebitMandate:
    """Register a mandate request (values already validated by the form); commit."""
    from app.services.core import audit
    from app.services.crm import activities
    from app.services.sync import outbox

    if db.session.scalar(sa.select(DirectDebitMandate.id).where(
            DirectDebitMandate.supply_point_id == supply_point.id,
            DirectDebitMandate.status.in_((MandateStatus.REQUESTED, MandateStatus.REVOKE_REQUESTED)))):
        raise MandateError(_l("A direct debit request for this supply point is already being handled."))
    fields = ("iban", "holder_last_name", "holder_first_name", "holder_tax_code", "bank",
              "branch", "branch_address")
    data = {k: (values.get(k) or "").strip() for k in fields}
    activity = activities.create_activity(
        ActivityKind.DIRECT_DEBIT, customer_id=supply_point.customer_id,
        supply_point_id=supply_point.id, actor=user,
        payload={"action": "request", "iban": mask_iban(data["iban"]), "bank": data["bank"]})
    mandate = DirectDebitMandate(supply_point_id=supply_point.id, reference=new_reference(supply_point),
                                 status=MandateStatus.REQUESTED, signed_on=utcnow().date(),
                                 activity_id=activity.id, **data)
    db.session.add(mandate)
    db.session.flush()
    activity.payload = {**activity.payload, "mandate_reference": mandate.reference}
    language = (user.language or supply_point.customer.language or "it")
    mandate.pdf = render_mandate_pdf(mandate, language)
    outbox.enqueue("request_mandate", {"supply_point_code": supply_point.code,
                                       "mandate_reference": mandate.reference, **data},
                   activity=activity, key=f"mandate-{mandate.reference}")
    audit.record("supply_point", supply_point.id, "mandate_request",
                 {"iban": [supply_point.iban, data["iban"]]}, user)
    _notify_iban(user, supply_point)
    return mandate


@transactional
def revoke(user, supply_point: SupplyPoint) -> DirectDebitMandate | None:
    """Ask to end direct debit for the supply point; commit."""
    from app.services.core import audit
    from app.services.crm import activities
    from app.services.sync import outbox

    mandate = open_mandate(supply_point)
    if mandate is None and supply_point.payment_method != PaymentMethod.SDD:
        raise MandateError(_l("This supply point is not paid by direct debit."))
    activity = activities.create_activity(
        ActivityKind.DIRECT_DEBIT, customer_id=supply_point.customer_id,
        supply_point_id=supply_point.id, actor=user,
        payload={"action": "revoke", "mandate_reference":
                 mandate.reference if mandate else supply_point.mandate_reference})
    if mandate is not None:
        mandate.status = MandateStatus.REVOKE_REQUESTED
        mandate.revoked_at = utcnow()
    outbox.enqueue("revoke_mandate", {"supply_point_code": supply_point.code},
                   activity=activity, key=f"revoke-{activity.id}")
    audit.record("supply_point", supply_point.id, "mandate_revoke",
                 {"payment_method": [supply_point.payment_method.value, "postal_slip"]}, user)
    _notify_iban(user, supply_point)
    return mandate


def _notify_iban(user, supply_point: SupplyPoint) -> None:
    from app.services.mailing import mail

    target = contact_email(user)
    if target:
        mail.queue_mail("iban_changed", user.language or "it", [target],
                        {"name": supply_point.customer.display_name,
                         "supply_point": supply_point.point_code})


def pdf(mandate: DirectDebitMandate) -> bytes:
    if not mandate.pdf:
        mandate.pdf = render_mandate_pdf(mandate, mandate.supply_point.customer.language or "it")
        db.session.commit()
    return mandate.pdf
