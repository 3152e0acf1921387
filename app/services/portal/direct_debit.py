"""Direct debit (F-06): SEPA mandate requests, their lifecycle and revocations.

A request stores the mandate with a unique reference, renders the SEPA mandate PDF
(`pdf/mandate.html`, xhtml2pdf, in the customer's language) and sends the mandate to billing
through the outbox. A mandate then lives:

    requested ──► active ──► revoke requested ──► revoked
        │           └──► replaced (a newer mandate of the supply point became active)
        └──► rejected (with the reason)

Its state follows what billing reports at alignment (`follow_billing`, a hook of sync's
alignment registered at start-up) and the back office's decisions (`accept`, `reject`, which
billing is told through the outbox). While a request or a revocation is pending no other is
taken; after a rejection or revocation the customer may request again, and a customer with an
active mandate may request one on a new IBAN: the old one stays active until the new one is.
The customer is told by e-mail when the bank account changes, when a mandate becomes active or
is rejected, and when a revocation is requested.
"""
from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale

from app.clock import local_today
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import (Activity, ActivityKind, DirectDebitMandate, MandateStatus, PaymentMethod,
                        SupplyPoint)
from app.models.base import utcnow
from app.services.core import masking, settings
from app.services.core.errors import DomainError
from app.services.core.pdf import render_pdf
from app.services.portal.accounts import contact_email, customer_user, is_real_email
from app.services.portal.requests import confirm_by_mail
from app.services.core.unit_of_work import transactional

S = MandateStatus
OPEN_STATUSES = (S.REQUESTED, S.ACTIVE, S.REVOKE_REQUESTED)
# Waiting for an answer: no other request or revocation is taken meanwhile.
PENDING_STATUSES = (S.REQUESTED, S.REVOKE_REQUESTED)
FIELDS = ("iban", "holder_last_name", "holder_first_name", "holder_tax_code", "bank", "branch",
          "branch_address")
# Kept on the mandate and printed on it, not sent to billing (the IBAN identifies the bank).
LOCAL_FIELDS = ("bic",)


class MandateError(DomainError):
    """A direct debit request, revocation or decision refused."""


def new_reference(supply_point: SupplyPoint) -> str:
    """A SEPA mandate reference (max 35 characters, letters, digits and '-')."""
    return f"SPT-{supply_point.code}-{secrets.token_hex(4).upper()}"[:35]


def mask_iban(iban: str) -> str:
    return masking.mask(iban)


def _latest(supply_point: SupplyPoint, statuses) -> DirectDebitMandate | None:
    return db.session.scalar(sa.select(DirectDebitMandate).where(
        DirectDebitMandate.supply_point_id == supply_point.id,
        DirectDebitMandate.status.in_(statuses)).order_by(DirectDebitMandate.id.desc()).limit(1))


def open_mandate(supply_point: SupplyPoint) -> DirectDebitMandate | None:
    return _latest(supply_point, OPEN_STATUSES)


def pending_mandate(supply_point: SupplyPoint) -> DirectDebitMandate | None:
    """The request or revocation still waiting for an answer, if any."""
    return _latest(supply_point, PENDING_STATUSES)


def active_mandate(supply_point: SupplyPoint) -> DirectDebitMandate | None:
    return _latest(supply_point, (S.ACTIVE,))


def can_revoke(supply_point: SupplyPoint) -> bool:
    """Whether the customer may ask to end direct debit now."""
    if pending_mandate(supply_point) is not None:
        return False
    return active_mandate(supply_point) is not None or supply_point.payment_method == PaymentMethod.SDD


def mandates(supply_point: SupplyPoint) -> list[DirectDebitMandate]:
    return list(db.session.scalars(sa.select(DirectDebitMandate).where(
        DirectDebitMandate.supply_point_id == supply_point.id).order_by(DirectDebitMandate.id.desc())))


def render_mandate_pdf(mandate: DirectDebitMandate, language: str = "it") -> bytes:
    """The SEPA Core mandate as a document of its own, in the debtor's language: creditor
    (name, identifier, address from the settings), reference, debtor with the IBAN in groups
    of four, recurrent payment, place (the debtor's city), date and signature line."""
    sp = mandate.supply_point
    customer = sp.customer
    language = language if language in ("it", "en") else "it"
    iban = (mandate.iban or "").replace(" ", "").upper()
    holder = " ".join(p for p in (mandate.holder_last_name, mandate.holder_first_name) if p)
    town = " ".join(p for p in (customer.post_code, customer.city) if p)
    if customer.province:
        town += f" ({customer.province})"
    with force_locale(language):
        html = render_template(
            "pdf/mandate.html", mandate=mandate, supply_point=sp, customer=customer,
            company=settings.company(), iban=" ".join(iban[i:i + 4] for i in range(0, len(iban), 4)),
            debtor_name=holder or customer.display_name,
            debtor_address=", ".join(p for p in (customer.address, town) if p),
            place=customer.city, signed_on=mandate.signed_on or local_today())
    return render_pdf(html, f"mandate {mandate.reference}", language=language)


def _refuse_while_pending(supply_point: SupplyPoint) -> None:
    if pending_mandate(supply_point) is not None:
        raise MandateError(_l("A direct debit request for this supply point is already being handled."))


def _set_status(mandate: DirectDebitMandate, status: MandateStatus, reason: str = "") -> None:
    mandate.status = status
    mandate.status_changed_at = utcnow()
    if status == S.REJECTED:
        mandate.rejection_reason = reason[:500]
    if status == S.REVOKED and mandate.revoked_at is None:
        mandate.revoked_at = utcnow()


@transactional
def request_mandate(user, supply_point: SupplyPoint, values: dict,
                    current_password: str | None = None, current_code: str | None = None) -> DirectDebitMandate:
    """Register a mandate request (values already validated by the form); the customer's current
    password confirms it (AccountError otherwise, nothing saved)."""
    from app.services.core import audit
    from app.services.crm import activities
    from app.services.portal.accounts import reauthenticate
    from app.services.sync import outbox

    _refuse_while_pending(supply_point)
    reauthenticate(user, current_password, "iban", current_code)
    if (active_mandate(supply_point) is None and supply_point.payment_method == PaymentMethod.SDD
            and supply_point.mandate_reference):
        _billing_mandate(supply_point)  # the one in force stays active until the new one is
    data = {k: (values.get(k) or "").strip() for k in FIELDS}
    local = {k: (values.get(k) or "").strip().upper() for k in LOCAL_FIELDS}
    activity = activities.create_activity(
        ActivityKind.DIRECT_DEBIT, customer_id=supply_point.customer_id,
        supply_point_id=supply_point.id, actor=user,
        payload={"action": "request", "iban": mask_iban(data["iban"]), "bank": data["bank"]})
    mandate = DirectDebitMandate(supply_point_id=supply_point.id, reference=new_reference(supply_point),
                                 status=S.REQUESTED, signed_on=local_today(),
                                 status_changed_at=utcnow(), activity_id=activity.id, **data, **local)
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
    confirm_by_mail(activity, user)
    return mandate


def _billing_mandate(supply_point: SupplyPoint) -> DirectDebitMandate:
    """The local record of a mandate billing holds but Sportello never saw (direct debit set up
    before the portal, or by an agent's contract)."""
    reference = supply_point.mandate_reference or new_reference(supply_point)
    mandate = db.session.scalar(sa.select(DirectDebitMandate).where(
        DirectDebitMandate.reference == reference))
    if mandate is None:
        holder = (supply_point.account_holder or "").strip()
        mandate = DirectDebitMandate(supply_point_id=supply_point.id, reference=reference,
                                     status=S.ACTIVE, iban=supply_point.iban or "",
                                     holder_last_name=holder[:80])
        db.session.add(mandate)
    return mandate


@transactional
def revoke(user, supply_point: SupplyPoint) -> Activity:
    """Ask to end direct debit for the supply point: the mandate shows "revocation requested"
    until billing confirms it. Returns the revocation request (with its reference number)."""
    from app.services.core import audit
    from app.services.crm import activities
    from app.services.sync import outbox

    _refuse_while_pending(supply_point)
    mandate = active_mandate(supply_point)
    if mandate is None:
        if supply_point.payment_method != PaymentMethod.SDD:
            raise MandateError(_l("This supply point is not paid by direct debit."))
        mandate = _billing_mandate(supply_point)
    activity = activities.create_activity(
        ActivityKind.DIRECT_DEBIT, customer_id=supply_point.customer_id,
        supply_point_id=supply_point.id, actor=user,
        payload={"action": "revoke", "mandate_reference": mandate.reference})
    _set_status(mandate, S.REVOKE_REQUESTED)
    mandate.revoked_at = utcnow()
    db.session.flush()
    outbox.enqueue("revoke_mandate", {"supply_point_code": supply_point.code},
                   activity=activity, key=f"revoke-{activity.id}")
    audit.record("supply_point", supply_point.id, "mandate_revoke",
                 {"payment_method": [supply_point.payment_method.value, "postal_slip"]}, user)
    _notify(supply_point, "mandate_revoke_requested", mandate)
    confirm_by_mail(activity, user)
    return activity


# --- the back office's decisions ----------------------------------------------------------------

def _decidable(mandate: DirectDebitMandate) -> None:
    if mandate.status != S.REQUESTED:
        raise MandateError(_l("Only a requested mandate can be accepted or rejected: this one is %(status)s.",
                              status=mandate.status.label))


def _activate(mandate: DirectDebitMandate) -> list[DirectDebitMandate]:
    """Put `mandate` in force; the supply point's earlier mandates in force end as replaced."""
    sp = mandate.supply_point
    replaced = [m for m in mandates(sp) if m.id != mandate.id and m.status in (S.ACTIVE, S.REVOKE_REQUESTED)]
    for old in replaced:
        _set_status(old, S.REPLACED)
    _set_status(mandate, S.ACTIVE)
    # The local copy says at once what billing will report (F-52).
    sp.payment_method = PaymentMethod.SDD
    sp.iban = mandate.iban
    sp.account_holder = f"{mandate.holder_last_name} {mandate.holder_first_name}".strip()[:160]
    sp.mandate_reference = mandate.reference
    return replaced


@transactional
def accept(user, mandate: DirectDebitMandate) -> DirectDebitMandate:
    """The back office accepts a requested mandate: active (billing is told)."""
    from app.services.core import audit
    from app.services.sync import outbox

    _decidable(mandate)
    replaced = _activate(mandate)
    outbox.enqueue("set_mandate_status", {"supply_point_code": mandate.supply_point.code,
                                          "mandate_reference": mandate.reference, "status": "active"},
                   activity=mandate.activity, key=f"mandate-active-{mandate.reference}")
    audit.record("direct_debit_mandate", mandate.id, "mandate_accept",
                 {"status": [S.REQUESTED.value, S.ACTIVE.value],
                  **({"replaced": [None, [m.reference for m in replaced]]} if replaced else {})}, user)
    _note(mandate, user, _l("Mandate %(ref)s accepted: active.", ref=mandate.reference))
    _notify(mandate.supply_point, "mandate_active", mandate)
    return mandate


@transactional
def reject(user, mandate: DirectDebitMandate, reason: str) -> DirectDebitMandate:
    """The back office rejects a requested mandate with a reason (billing is told)."""
    from app.services.core import audit
    from app.services.sync import outbox

    reason = (reason or "").strip()
    if not reason:
        raise MandateError(_l("Say why the mandate is rejected: the customer reads it."), "reason")
    _decidable(mandate)
    _set_status(mandate, S.REJECTED, reason)
    outbox.enqueue("set_mandate_status", {"supply_point_code": mandate.supply_point.code,
                                          "mandate_reference": mandate.reference, "status": "rejected",
                                          "reason": reason},
                   activity=mandate.activity, key=f"mandate-rejected-{mandate.reference}")
    audit.record("direct_debit_mandate", mandate.id, "mandate_reject",
                 {"status": [S.REQUESTED.value, S.REJECTED.value], "rejection_reason": ["", reason]}, user)
    _note(mandate, user, _l("Mandate %(ref)s rejected: %(reason)s", ref=mandate.reference, reason=reason))
    _notify(mandate.supply_point, "mandate_rejected", mandate)
    return mandate


def _note(mandate: DirectDebitMandate, actor, text) -> None:
    from app.services.crm import activities

    if mandate.activity is not None:
        activities.add_note(mandate.activity, actor, str(text))


# --- what billing reports (alignment) -----------------------------------------------------------

@transactional
def follow_billing(records: list) -> None:
    """Move the open mandates of these supply points (billing's records, just upserted) to the
    state billing reports, with their notes and e-mails: one unit of work with the aligned page
    (alignment commits per page anyway; inside a caller's unit it only flushes)."""
    with_mandates = {r.code: r for r in records
                     if r.mandate_reference or r.mandate_request_reference}
    if not with_mandates:
        return
    codes = list(with_mandates)
    rows = []
    for i in range(0, len(codes), 900):
        rows += db.session.execute(sa.select(DirectDebitMandate, SupplyPoint.code).join(SupplyPoint).where(
            SupplyPoint.code.in_(codes[i:i + 900]),
            DirectDebitMandate.status.in_(OPEN_STATUSES)).order_by(DirectDebitMandate.id)).all()
    for mandate, code in rows:
        _follow(mandate, with_mandates[code])


def _follow(mandate: DirectDebitMandate, r) -> None:
    ref = mandate.reference
    in_force = (r.mandate_status or "").lower()
    if mandate.status == S.REQUESTED:
        if r.mandate_reference == ref and in_force == "active":
            _activate(mandate)
            _note(mandate, None, _l("Mandate %(ref)s active in billing.", ref=ref))
            _notify(mandate.supply_point, "mandate_active", mandate)
        elif r.mandate_request_reference == ref and (r.mandate_request_status or "").lower() == "rejected":
            reason = r.mandate_reject_reason or str(_l("Rejected by the billing system."))
            _set_status(mandate, S.REJECTED, reason)
            _note(mandate, None, _l("Mandate %(ref)s rejected: %(reason)s", ref=ref, reason=reason))
            _notify(mandate.supply_point, "mandate_rejected", mandate)
        return
    # Active, or its revocation requested.
    if r.mandate_reference == ref:
        if in_force == "revoked":
            _set_status(mandate, S.REVOKED)
            _note(mandate, None, _l("Mandate %(ref)s revoked in billing.", ref=ref))
    elif r.mandate_reference and in_force == "active" and _newer(mandate, r.mandate_reference):
        _set_status(mandate, S.REPLACED)


def _newer(mandate: DirectDebitMandate, reference: str) -> bool:
    """Whether billing's mandate in force came after `mandate` (one Sportello does not know
    was set up in billing, hence later)."""
    other = db.session.scalar(sa.select(DirectDebitMandate.id).where(DirectDebitMandate.reference == reference))
    return other is None or other > mandate.id


def register_hooks() -> None:
    """Follow billing's mandate states at every alignment (called once by `create_app`)."""
    from app.services.sync.alignment import on_supply_points

    on_supply_points("direct_debit", follow_billing)


# --- e-mails ------------------------------------------------------------------------------------

def _recipient(supply_point: SupplyPoint) -> tuple[str, str]:
    """(address, language) for notices to the supply point's customer; address may be empty."""
    customer = supply_point.customer
    user = customer_user(customer.id)
    if user is not None:
        return contact_email(user), user.language or customer.language or "it"
    return (customer.email if is_real_email(customer.email) else ""), customer.language or "it"


def _notify(supply_point: SupplyPoint, kind: str, mandate: DirectDebitMandate) -> None:
    from app.services.mailing import mail

    target, language = _recipient(supply_point)
    if target:
        mail.queue_mail(kind, language, [target],
                        {"name": supply_point.customer.addressed_name,
                         "supply_point": supply_point.point_code, "reference": mandate.reference,
                         "iban": mask_iban(mandate.iban), "reason": mandate.rejection_reason},
                        key=f"{kind}-{mandate.reference}")


def _notify_iban(user, supply_point: SupplyPoint) -> None:
    from app.services.mailing import mail

    target = contact_email(user)
    if target:
        mail.queue_mail("iban_changed", user.language or "it", [target],
                        {"name": supply_point.customer.addressed_name,
                         "supply_point": supply_point.point_code})


def pdf(mandate: DirectDebitMandate) -> bytes:
    if not mandate.pdf:
        mandate.pdf = render_mandate_pdf(mandate, mandate.supply_point.customer.language or "it")
        db.session.commit()
    return mandate.pdf
