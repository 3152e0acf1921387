"""Deletions and merges in billing reach the local copy (F-14, F-53).

Billing publishes what it deleted (NAV: the Change Log Entry page, type Deletion; SAP: the
archiving flag in the change pointers), read by `gateway.read_deletions`. A customer deleted in
billing is never dropped here: it keeps its requests, contacts, contracts and invoices, is
marked archived, and its portal account is deactivated (signing in then says why). A customer
billing merged into another (`merged_into`) hands its portal account (with its API tokens),
requests, contacts and contracts to the survivor, who keeps signing in with the same
credentials; the duplicate is archived. When the survivor already has a portal account of its
own, one customer keeps one account: the survivor's stays as it is; the duplicate's is
deactivated (sessions ended, API tokens revoked by the portal's flush hook) and stays with the
archived duplicate; the hooks registered with `on_duplicate_account_closed` tell its owner
which account to use (the portal's e-mail), and signing in with it says so too. A supply point
deleted in billing is ceased here: its direct debit mandates end (revoked) and invoices stop
going out by e-mail. Applying a deletion twice changes nothing.
"""
from __future__ import annotations

import logging
from typing import Callable, Protocol

import sqlalchemy as sa

from app.billing.gateway import BillingGateway, DeletionRecord, Entity
from app.extensions import db
from app.models import (Activity, ApiToken, Contact, Contract, Customer, DirectDebitMandate,
                        InvoiceDeliverySetting, MandateStatus, SportelloUser, SupplyPoint,
                        SupplyStatus)
from app.models.base import utcnow

log = logging.getLogger(__name__)

# what belongs to a customer and follows it to the survivor of a merge; the portal account and
# its API tokens follow only to a survivor without an account of its own
_FOLLOWS = (Activity, Contact, Contract)
_ACCOUNT = (SportelloUser, ApiToken)


class AccountClosedHook(Protocol):
    def __call__(self, closed: SportelloUser, kept: SportelloUser, duplicate: Customer,
                 survivor: Customer) -> None: ...


_ACCOUNT_CLOSED: dict[str, AccountClosedHook] = {}


def on_duplicate_account_closed(name: str, hook: AccountClosedHook) -> None:
    """Call `hook(closed, kept, duplicate, survivor)` in the merge's transaction for every
    portal account of a merged duplicate deactivated because the survivor has one (`kept`)."""
    _ACCOUNT_CLOSED[name] = hook


def apply_deletions(gw: BillingGateway, since: int, until: int, apply_bundle: Callable) -> int:
    """Archive (or merge) the customers billing deleted with since < version <= until; commits.
    `apply_bundle` stores a customer bundle (the alignment's, passed in: alignment calls this
    module). Returns how many local customers and supply points changed."""
    changed = 0
    for d in gw.read_deletions(since, until):
        if d.entity is Entity.CUSTOMER:
            changed += _customer_deleted(gw, d, apply_bundle)
        elif d.entity is Entity.SUPPLY_POINT:
            changed += _supply_point_deleted(d)
    db.session.commit()
    return changed


def _customer_deleted(gw: BillingGateway, d: DeletionRecord, apply_bundle: Callable) -> int:
    customer = db.session.scalar(sa.select(Customer).where(Customer.code == d.key))
    if customer is None or customer.archived_at is not None:
        return 0
    survivor = _survivor(gw, d.merged_into, apply_bundle) if d.merged_into else None
    users = list(db.session.scalars(sa.select(SportelloUser)
                                    .where(SportelloUser.customer_id == customer.id)
                                    .order_by(SportelloUser.id)))
    if survivor is not None:
        kept = db.session.scalar(sa.select(SportelloUser)
                                 .where(SportelloUser.customer_id == survivor.id)
                                 .order_by(SportelloUser.active.desc(), SportelloUser.id))
        moving = _FOLLOWS if kept is not None else _FOLLOWS + _ACCOUNT
        for model in moving:
            db.session.execute(sa.update(model).where(model.customer_id == customer.id)
                               .values(customer_id=survivor.id)
                               .execution_options(synchronize_session=False))
        if kept is not None:
            for user in users:
                if not user.active:  # closed before: nothing to tell
                    continue
                _deactivate(user)
                for hook in _ACCOUNT_CLOSED.values():
                    hook(user, kept, customer, survivor)
            log.info("Customer %s merged in billing into %s, which has its own portal account: "
                     "%d account(s) of the duplicate closed", customer.code, survivor.code,
                     len(users))
        else:
            log.info("Customer %s merged in billing into %s", customer.code, survivor.code)
    else:
        for user in users:
            _deactivate(user)
        log.info("Customer %s deleted in billing: archived", customer.code)
    customer.archived_at = utcnow()
    customer.merged_into_code = survivor.code if survivor is not None else ""
    return 1


def _deactivate(user: SportelloUser) -> None:
    """Sign-in refused and sessions ended; the portal's flush hook revokes the API tokens of a
    deactivated account in the same transaction."""
    user.active = False
    user.end_sessions()


_LIVE_MANDATES = (MandateStatus.REQUESTED, MandateStatus.ACTIVE, MandateStatus.REVOKE_REQUESTED)


def _supply_point_deleted(d: DeletionRecord) -> int:
    sp = db.session.scalar(sa.select(SupplyPoint).where(SupplyPoint.code == d.key))
    if sp is None or sp.archived_at is not None:
        return 0
    now = utcnow()
    sp.status = SupplyStatus.CEASED
    sp.archived_at = now
    for mandate in db.session.scalars(sa.select(DirectDebitMandate).where(
            DirectDebitMandate.supply_point_id == sp.id,
            DirectDebitMandate.status.in_(_LIVE_MANDATES))):
        mandate.status, mandate.revoked_at, mandate.status_changed_at = MandateStatus.REVOKED, now, now
    db.session.execute(sa.update(InvoiceDeliverySetting)
                       .where(InvoiceDeliverySetting.supply_point_id == sp.id)
                       .values(enabled=False).execution_options(synchronize_session=False))
    log.info("Supply point %s deleted in billing: ceased", sp.code)
    return 1


def _survivor(gw: BillingGateway, code: str, apply_bundle: Callable) -> Customer | None:
    survivor = db.session.scalar(sa.select(Customer).where(Customer.code == code))
    if survivor is None:  # created in billing after our watermark: fetch it now
        bundle = gw.read_customer_bundle(code)
        if bundle is None:
            return None
        apply_bundle(bundle)
        survivor = db.session.scalar(sa.select(Customer).where(Customer.code == code))
    return survivor
