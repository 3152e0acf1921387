"""Freshness of the customer's data (F-51): a refresh from billing with a short timeout, at login
and on demand (a page opened on a copy older than the `portal_refresh_minutes` setting, or the
customer's "refresh" link).

When billing answers, everything of the customer is upserted (`alignment.apply_bundle`); when
it does not, pages keep working from the local copy and say how old it is.
"""
from __future__ import annotations

import copy
import datetime as dt
import logging
from functools import lru_cache

import sqlalchemy as sa
from flask import current_app, g, has_request_context

from app.billing.gateway import BillingError
from app.extensions import db
from app.models import Customer, SyncState
from app.models.base import one_of, utcnow

log = logging.getLogger(__name__)


def _quick_gateway():
    """The configured gateway with the short timeout of a customer's refresh (shares its clients)."""
    from app.services.sync.gateway import gateway

    gw = gateway()
    if hasattr(gw, "timeout"):
        gw = copy.copy(gw)
        gw.timeout = float(current_app.config.get("BILLING_LOGIN_TIMEOUT", 2))
    return gw


# After billing did not answer a refresh, pages of this process stop asking it for a while, so
# that during an outage customers don't each wait for the timeout (a customer's "refresh" still asks).
QUIET_AFTER_FAILURE = dt.timedelta(minutes=1)
_FAILED_AT = "freshness_failed_at"


def billing_recently_unanswered() -> bool:
    """True when a refresh found billing silent less than QUIET_AFTER_FAILURE ago."""
    failed = current_app.extensions.get(_FAILED_AT)
    return failed is not None and utcnow() - failed < QUIET_AFTER_FAILURE


def refresh_customer(customer: Customer) -> bool:
    """Refresh the customer's local copy from billing; False when billing did not answer."""
    from app.services.sync.alignment import apply_bundle

    code, customer_id = customer.code, customer.id
    try:
        bundle = _quick_gateway().read_customer_bundle(code)
    except BillingError as exc:
        log.info("Refresh of %s skipped: billing %s", code, exc.kind.value)
        current_app.extensions[_FAILED_AT] = utcnow()
        db.session.rollback()
        return False
    current_app.extensions.pop(_FAILED_AT, None)
    if bundle is None:
        return False
    try:
        # The whole copy of the customer now agrees with billing, changed or not: their age
        # starts again (apply_bundle commits it with the records).
        db.session.execute(sa.update(Customer.__table__).where(Customer.__table__.c.id == customer_id)
                           .values(synced_at=utcnow()))
        if has_request_context():
            g.pop(_NOTED, None)  # read again from now on
        apply_bundle(bundle)
    except Exception:  # noqa: BLE001 - a refresh must never break the page that asked for it
        log.exception("Refresh of %s failed while saving", code)
        db.session.rollback()
        return False
    return True


def _aligned_column():
    """When the last alignment went through every entity (then every customer's copy agrees
    with billing as of then): NULL while an entity has never been aligned."""
    from app.services.sync.alignment import ORDER

    state = SyncState.__table__.c
    return (sa.select(sa.case((sa.func.count(state.last_success_at) == len(ORDER), sa.func.min(state.last_success_at))))
            .where(one_of(state.entity, [e.value for e in ORDER])).scalar_subquery())


@lru_cache(maxsize=None)
def _as_of_statement():
    """customer.synced_at and the alignment's column; built once."""
    cust = Customer.__table__.c
    return sa.select(cust.synced_at, _aligned_column()).where(cust.id == sa.bindparam("id"))


def as_of_columns(customer_id_column) -> tuple:
    """The two columns `data_as_of` reads, for the customer in `customer_id_column`, to read
    along with another statement (the signed-in user's load): `note_as_of` takes them."""
    cust = Customer.__table__.c
    synced = sa.select(cust.synced_at).where(cust.id == customer_id_column).scalar_subquery()
    return synced.label("as_of_synced"), _aligned_column().label("as_of_aligned")


_NOTED = "_customer_data_as_of"


def note_as_of(customer_id: int | None, synced, aligned) -> None:
    """The columns of `as_of_columns` as this request read them: `data_as_of` of this customer
    answers from them until the copy is refreshed."""
    if customer_id is not None and has_request_context():
        g.setdefault(_NOTED, {})[customer_id] = _as_of(synced, aligned)


def _as_of(synced, aligned) -> dt.datetime | None:
    return max([t for t in (synced, aligned) if t is not None], default=None)


def data_as_of(customer_id: int) -> dt.datetime | None:
    """Since when (UTC) the customer's local copy is known to agree with billing; None: never."""
    noted = g.get(_NOTED) if has_request_context() else None
    if noted and customer_id in noted:
        return noted[customer_id]
    row = db.session.connection().execute(_as_of_statement(), {"id": customer_id}).first()
    return None if row is None else _as_of(*row)


def is_stale(as_of: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    """True when a copy of that age is older than the `portal_refresh_minutes` setting."""
    from app.services.core import settings

    if as_of is None:
        return True
    limit = dt.timedelta(minutes=int(settings.get("portal_refresh_minutes")))
    return (now or utcnow()) - as_of > limit
