"""Invoice by e-mail settings (F-08): on/off, link or PDF mode, up to four addresses; send log.

The nightly batch (F-31) reads these settings; this module stores them and lists the log.
Turning delivery on never mails old invoices (`active_since`). The change is recorded as an
activity, exported to billing through the outbox and executed automatically (F-21).
"""
from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.clock import local_today
from app.i18n import lazy_gettext as _l
from app.models import (Activity, ActivityKind, DeliveryMode, Invoice, InvoiceDeliveryRecipient,
                        InvoiceDeliverySetting, InvoiceEmailLog, SupplyPoint)
from app.models.base import utcnow
from app.services.core.errors import DomainError
from app.services.core.reads import run
from app.services.mailing import mail
from app.validators import InvalidValue, email_address
from app.services.core.unit_of_work import transactional

MAX = InvoiceDeliverySetting.MAX_RECIPIENTS


class DeliveryError(DomainError):
    """Invoice delivery settings refused; shown next to the addresses unless said otherwise."""

    default_field = "addresses"


def parse_addresses(text: str) -> list[str]:
    """One address per line (commas and semicolons also separate); checked, de-duplicated."""
    parts = [p.strip().lower() for p in re.split(r"[\s,;]+", text or "") if p.strip()]
    out: list[str] = []
    for p in parts:
        try:
            address = email_address(p)
            if not address.partition("@")[0].isascii():
                address = email_address(p, smtputf8=mail.server_accepts_smtputf8())
        except InvalidValue as exc:
            raise DeliveryError(str(exc)) from None
        if address.endswith("@invalid"):
            raise DeliveryError(_l("%(address)s is not a valid e-mail address.", address=p))
        if address not in out:
            out.append(address)
    if len(out) > MAX:
        raise DeliveryError(_l("At most %(max)d addresses: remove %(extra)d.", max=MAX, extra=len(out) - MAX))
    return out


def setting_for(supply_point: SupplyPoint) -> InvoiceDeliverySetting | None:
    return db.session.scalar(sa.select(InvoiceDeliverySetting).where(
        InvoiceDeliverySetting.supply_point_id == supply_point.id))


@transactional
def save(user, supply_point: SupplyPoint, enabled: bool, mode: DeliveryMode,
         addresses: list[str]) -> Activity:
    """Store the settings, record the request (returned, with its reference number), export
    and confirm it to the customer by e-mail; commit."""
    from app.services.core import audit
    from app.services.crm import activities
    from app.services.sync import outbox

    if len(addresses) > MAX:
        raise DeliveryError(_l("At most %(max)d addresses: remove %(extra)d.", max=MAX,
                               extra=len(addresses) - MAX))
    if enabled and not addresses:
        raise DeliveryError(_l("Give at least one address to receive invoices by e-mail."))
    setting = setting_for(supply_point)
    before = {"enabled": False, "mode": None, "addresses": []}
    if setting is None:
        setting = InvoiceDeliverySetting(supply_point_id=supply_point.id)
        db.session.add(setting)
    else:
        before = {"enabled": setting.enabled, "mode": setting.mode.value if setting.mode else None,
                  "addresses": [r.email for r in setting.recipients]}
    if enabled and not setting.enabled:
        setting.active_since = local_today()  # invoices are dated in Italy
    if before["addresses"] and (not enabled or set(before["addresses"]) != set(addresses)):
        # The links already e-mailed stop opening the invoice: they went to addresses the
        # customer no longer wants invoices at (or to anyone, with delivery turned off).
        setting.links_valid_after = utcnow().replace(microsecond=0)
    setting.enabled = enabled
    setting.mode = mode
    setting.recipients.clear()
    db.session.flush()  # old positions go before new ones take them
    setting.recipients.extend(InvoiceDeliveryRecipient(position=i + 1, email=a)
                              for i, a in enumerate(addresses))
    db.session.flush()
    after = {"enabled": enabled, "mode": mode.value, "addresses": addresses}
    activity = activities.create_activity(
        ActivityKind.INVOICE_EMAIL, customer_id=supply_point.customer_id,
        supply_point_id=supply_point.id, actor=user, payload=after)
    outbox.enqueue("set_invoice_delivery", {"supply_point_code": supply_point.code,
                                            "enabled": enabled, "mode": mode.value,
                                            "emails": addresses},
                   activity=activity, key=f"invoice-email-{activity.id}")
    audit.record("supply_point", supply_point.id, "invoice_email",
                 {k: [before[k], after[k]] for k in after if before[k] != after[k]}, user)
    from app.services.portal.requests import confirm_by_mail

    confirm_by_mail(activity, user)
    return activity


_log = InvoiceEmailLog.__table__.c
_SEND_LOGS = (sa.select(_log.invoice_id, _log.sent_at, _log.email, _log.outcome)
              .where(_log.invoice_id.in_(sa.bindparam("ids", expanding=True)))
              .order_by(_log.invoice_id, _log.created_at, _log.id))


def send_logs(invoice_ids: list[int]) -> dict[int, list[sa.Row]]:
    """What was e-mailed of each invoice, oldest first (when, to whom, how it went): one
    statement for all of them."""
    logs: dict[int, list[sa.Row]] = {i: [] for i in invoice_ids}
    if invoice_ids:
        for row in run(_SEND_LOGS, {"ids": list(invoice_ids)}):
            logs[row.invoice_id].append(row)
    return logs


def send_log(invoice) -> list[sa.Row]:
    """What was e-mailed of the invoice (see `send_logs`)."""
    return send_logs([invoice.id])[invoice.id]
