"""Personal data (F-04) and mailing address per supply point (F-05).

Changes are written locally at once, audited, recorded as an activity and exported to billing
through the outbox. Personal data changes are executed automatically once billing has them
(F-21); a mailing address change is followed by the back office.
"""
from __future__ import annotations

import datetime as dt

from app.extensions import db
from app.models import Activity, ActivityKind, Customer, MailingAddress, SupplyPoint
from app.services.portal.accounts import is_real_email, reauthenticate
from app.services.portal.requests import confirm_by_mail
from app.services.core.unit_of_work import transactional

PERSONAL_FIELDS = ("last_name", "first_name", "company_name", "tax_code", "vat_number",
                   "birth_date", "address", "post_code", "city", "province", "phone", "email")
MAILING_FIELDS = ("name", "address", "post_code", "city", "province")


class NothingChanged(Exception):
    """The form holds the data already on file."""


@transactional
def update_personal_data(user, customer: Customer, values: dict, current_password: str | None = None,
                         current_code: str | None = None) -> Activity:
    """Apply the changed fields; returns the request (with its reference number). Raises
    NothingChanged; a new e-mail on file needs the current password (AccountError otherwise,
    nothing saved)."""
    from app.services.core import audit
    from app.services.crm import activities
    from app.services.mailing import mail
    from app.services.sync import outbox

    values = {k: v for k, v in values.items() if k in PERSONAL_FIELDS}
    for key, value in values.items():
        if isinstance(value, str):
            values[key] = value.strip()
    if values.get("email"):
        values["email"] = values["email"].lower()
    changes = audit.diff(customer, values)
    # A field left empty is "unchanged" for billing: an empty value never clears data there.
    changes = {k: v for k, v in changes.items() if values[k] not in ("", None)}
    if not changes:
        raise NothingChanged()
    if "email" in changes:
        reauthenticate(user, current_password, "email", current_code)
    old_email = customer.email
    for key in changes:
        setattr(customer, key, values[key])
    customer.search_name = Customer.make_search_name(customer.last_name, customer.first_name,
                                                     customer.company_name)
    activity = activities.create_activity(
        ActivityKind.PERSONAL_DATA, customer_id=customer.id, actor=user,
        payload={"fields": sorted(changes)})
    export = {"customer_code": customer.code}
    for key in changes:
        value = values[key]
        export[key] = value.isoformat() if isinstance(value, dt.date) else value
    outbox.enqueue("update_customer", export, activity=activity, key=f"personal-{activity.id}")
    confirm_by_mail(activity, user)
    audit.record("customer", customer.id, "update", changes, user)
    if "email" in changes:
        name = customer.addressed_name
        for address in {old_email, customer.email}:
            if is_real_email(address):
                mail.queue_mail("email_changed", user.language or "it", [address],
                                {"name": name, "email": customer.email})
        _sync_login_email(user, customer)
    return activity


def _sync_login_email(user, customer: Customer) -> None:
    """Keep the account's e-mail (used to sign in) in step when no one else has it."""
    from flask import current_app

    sm = current_app.appbuilder.sm
    other = sm.find_user(email=customer.email)
    if other is None or other.id == user.id:
        user.email = customer.email


def current_mailing_address(supply_point: SupplyPoint) -> dict:
    """The address bills go to: the one set here, else the supply point's own."""
    ma = supply_point.mailing_address
    if ma is not None:
        return {f: getattr(ma, f) for f in MAILING_FIELDS}
    customer = supply_point.customer
    return {"name": customer.display_name if customer else "", "address": supply_point.address,
            "post_code": supply_point.post_code, "city": supply_point.city,
            "province": supply_point.province}


@transactional
def update_mailing_address(user, supply_point: SupplyPoint, values: dict) -> Activity:
    """Set where the supply point's bills go; returns the request (with its reference number)."""
    from app.services.core import audit
    from app.services.crm import activities
    from app.services.sync import outbox

    values = {k: (values.get(k) or "").strip() for k in MAILING_FIELDS}
    values["province"] = values["province"].upper()
    before = current_mailing_address(supply_point)
    changes = {k: [before.get(k), v] for k, v in values.items() if before.get(k) != v}
    if not changes:
        raise NothingChanged()
    ma = supply_point.mailing_address
    if ma is None:
        ma = MailingAddress(supply_point_id=supply_point.id)
        db.session.add(ma)
    for key, value in values.items():
        setattr(ma, key, value)
    activity = activities.create_activity(
        ActivityKind.MAILING_ADDRESS, customer_id=supply_point.customer_id,
        supply_point_id=supply_point.id, actor=user, payload=dict(values))
    outbox.enqueue("update_mailing_address", {"supply_point_code": supply_point.code, **values},
                   activity=activity, key=f"mailing-{activity.id}")
    confirm_by_mail(activity, user)
    audit.record("supply_point", supply_point.id, "mailing_address", changes, user)
    return activity

