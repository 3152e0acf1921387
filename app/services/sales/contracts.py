"""Contract workflow (F-13): the one transition table, history, and the hand-over to billing.

States: draft (the wizard) -> processing -> validated (back office) -> approved (credit check)
-> activated -> in billing, not invoiceable (billing created reservation, customer and supply
point) -> invoiceable (the distributor's technical data arrived). Rejected / cancelled, with a
reason, from the states where that makes sense. Each step is guarded by a permission on the
pseudo-view `ContractWorkflow` (`can_validate`, `can_approve_credit`, ...), whoever holds it;
agents' permissions act on their own contracts only. `transition()` checks the table, records
history (who/when/why) and the audit log, runs the state's side effects (outbox export,
commissions) in the same transaction and commits once.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa

from app import validators
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import (Agent, Contract, ContractDraft, ContractHistory, ContractStatus, OutboxMessage,
                        SupplyPoint, SupplyStatus)
from app.models.base import utcnow
from app.permissions import has_permission
from app.roles import AGENT, BACK_OFFICE, CREDIT_CHECK, MANAGER
from app.services.sync.outbox import after_delivery, enqueue
from app.services.core.unit_of_work import inside_caller, transactional

log = logging.getLogger(__name__)

S = ContractStatus
# States in which the contract's data may still change (the wizard).
EDITABLE = (S.DRAFT, S.PROCESSING)
# The wizard's steps that must be complete before a contract is submitted.
WIZARD_STEPS = ContractDraft.STEPS
# States holding the supply point: a second contract for the same PDR/POD is refused.
OPEN = (S.PROCESSING, S.VALIDATED, S.APPROVED, S.ACTIVATED, S.IN_BILLING)


class TransitionError(Exception):
    """The action is not allowed now or for this actor; `str()` is the translated message."""


# The permissions guarding the workflow, on the pseudo-view `ContractWorkflow` (admins grant
# them to any role in the security views; Admin holds them all).
WORKFLOW = "ContractWorkflow"
ENTER = "can_enter"  # enter contracts, change and submit one's own (an agent)
EDIT_ANY = "can_edit_any"  # enter contracts for anyone, change and submit any (back office)
VALIDATE = "can_validate"  # check the paperwork: validate or reject
APPROVE_CREDIT = "can_approve_credit"  # decide on solvency: approve or reject
ACTIVATE = "can_activate"
WITHDRAW = "can_withdraw"  # cancel one's own contract while it is processing
CANCEL = "can_cancel"  # cancel any contract, in any open state
# These act only on the holder's own contracts (the ones their agent record entered).
OWN_ONLY = frozenset((ENTER, WITHDRAW))

# The built-in roles' defaults, collected into the role matrix (Admin has every permission).
ROLE_GRANTS = {
    AGENT: {WORKFLOW: (ENTER, WITHDRAW)},
    BACK_OFFICE: {WORKFLOW: (EDIT_ANY, VALIDATE, ACTIVATE, CANCEL)},
    CREDIT_CHECK: {WORKFLOW: (APPROVE_CREDIT,)},
    MANAGER: {WORKFLOW: (CANCEL,)},
}


@dataclass(frozen=True)
class Rule:
    to: ContractStatus
    permissions: frozenset[str]  # any one of them allows the step (none: the system's step)
    reason_required: bool = False


def _rules(froms, action, to, permissions, reason_required=False):
    return {(f, action): Rule(to, frozenset(permissions), reason_required) for f in froms}


TRANSITIONS: dict[tuple[ContractStatus, str], Rule] = {
    # The agent (or a back-office operator) finishes the wizard.
    **_rules((S.DRAFT,), "submit", S.PROCESSING, (ENTER, EDIT_ANY)),
    **_rules((S.DRAFT,), "discard", S.CANCELLED, (ENTER, EDIT_ANY)),
    # Back office checks the paperwork; credit check decides on the customer's solvency.
    **_rules((S.PROCESSING,), "validate", S.VALIDATED, (VALIDATE,)),
    **_rules((S.PROCESSING,), "reject", S.REJECTED, (VALIDATE,), True),
    **_rules((S.VALIDATED,), "approve", S.APPROVED, (APPROVE_CREDIT,)),
    **_rules((S.VALIDATED,), "reject", S.REJECTED, (APPROVE_CREDIT,), True),
    **_rules((S.APPROVED,), "activate", S.ACTIVATED, (ACTIVATE,)),
    # Billing's answers, applied by the system only.
    **_rules((S.ACTIVATED,), "export", S.IN_BILLING, ()),
    **_rules((S.IN_BILLING,), "invoiceable", S.INVOICEABLE, ()),
    # The agent may withdraw a contract still in processing; staff cancel later ones.
    **_rules((S.PROCESSING,), "cancel", S.CANCELLED, (WITHDRAW, CANCEL), True),
    **_rules((S.VALIDATED, S.APPROVED, S.ACTIVATED, S.IN_BILLING, S.INVOICEABLE), "cancel",
             S.CANCELLED, (CANCEL,), True),
}

ACTION_LABELS = {
    "create": _l("Contract created"), "submit": _l("Submitted"), "discard": _l("Draft discarded"),
    "validate": _l("Validate"), "approve": _l("Approve credit"), "activate": _l("Activate"),
    "reject": _l("Reject"), "cancel": _l("Cancel contract"), "export": _l("Created in billing"),
    "invoiceable": _l("Invoiceable"), "edit": _l("Edited"),
}


def agent_of(user) -> Agent | None:
    """The sales-network member a user logs in as, if any."""
    if user is None or not getattr(user, "id", None):
        return None
    return db.session.scalar(sa.select(Agent).where(Agent.user_id == user.id))


def is_owner(contract: Contract, actor) -> bool:
    agent = agent_of(actor)
    return agent is not None and contract.agent_id == agent.id


def _permitted(rule: Rule, contract: Contract, actor) -> bool:
    if not rule.permissions:
        return actor is None  # billing's answers are not for people to fake
    return any(has_permission(actor, permission, WORKFLOW)
               and (permission not in OWN_ONLY or is_owner(contract, actor))
               for permission in rule.permissions)


def may(actor, permission: str) -> bool:
    """True when `actor` holds `permission` on the contract workflow."""
    return has_permission(actor, permission, WORKFLOW)


def allowed_actions(contract: Contract, actor) -> list[str]:
    """The actions `actor` may take on `contract` now (for buttons)."""
    return [action for (state, action), rule in TRANSITIONS.items()
            if state == contract.status and _permitted(rule, contract, actor)]


def needs_reason(contract: Contract, action: str) -> bool:
    rule = TRANSITIONS.get((contract.status, action))
    return bool(rule and rule.reason_required)


@transactional
def transition(contract: Contract, action: str, actor=None, reason: str = "") -> Contract:
    """Apply `action` if the table allows it for `actor`; history, audit, side effects (one unit of work)."""
    rule = TRANSITIONS.get((contract.status, action))
    if rule is None:
        raise TransitionError(_l("This action is not possible in the contract's current state (%(state)s).",
                                 state=contract.status.label))
    if not _permitted(rule, contract, actor):
        raise TransitionError(_l("You are not allowed to do this on this contract."))
    if action == "submit" and contract.draft.missing():
        raise TransitionError(_l("Complete every step of the contract first."))
    reason = (reason or "").strip()
    if rule.reason_required and not reason:
        raise TransitionError(_l("Please give a reason."))
    before = contract.status
    # Conditional update: of two people pressing a button at once, only the first one moves it.
    moved = db.session.execute(sa.update(Contract).where(Contract.id == contract.id, Contract.status == before)
                               .values(status=rule.to).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise TransitionError(_l("The contract was changed meanwhile: reload the page."))
    contract.status = rule.to
    now = utcnow()
    if rule.to in (S.REJECTED, S.CANCELLED):
        contract.rejection_reason = reason
    # `signed_on` is set when the signed copy is uploaded (signed.py), never on submitting.
    db.session.add(ContractHistory(contract_id=contract.id, from_status=before, to_status=rule.to,
                                   action=action, reason=reason, actor_id=getattr(actor, "id", None),
                                   created_at=now))
    from app.services.core.audit import record

    record("contract", contract.id, action, {"status": [before.value, rule.to.value]}, actor)
    _side_effects(contract, action, before, now)
    return contract


def _side_effects(contract: Contract, action: str, before: ContractStatus, now: dt.datetime) -> None:
    from app.services.sales import commissions

    if action == "activate":
        contract.activated_at = now
        if shared_customer_code(contract) is not None:  # else sent once billing holds the customer
            _export(contract)
        commissions.earn(contract, "activation", now)
    elif action == "invoiceable":
        contract.invoiceable_at = now
        commissions.earn(contract, "invoiceable", now)
    elif action == "cancel":
        commissions.reverse(contract, now)
    if contract.status in (S.REJECTED, S.CANCELLED):
        _release_waiting(contract)


# --- a customer shared by two contracts (dual fuel) --------------------------------------------

def shared_customer_code(contract: Contract) -> str | None:
    """Billing's number of the customer this contract shares with the contract that brought
    them: "" when it shares none (or that contract will never reach billing), None while
    billing has not created the customer yet (the export waits)."""
    source = contract.customer_contract
    if source is None or contract.draft.customer.get("mode") != "contract":
        return ""
    code = source.draft.billing.get("customer_code") or (source.customer.code if source.customer else "")
    if code:
        return code
    if source.status in (S.REJECTED, S.CANCELLED):
        return ""
    return None


def _export(contract: Contract) -> None:
    enqueue("create_contract", export_payload(contract), key=f"create_contract-{contract.number}")


def _waiting_for(source: Contract) -> list[Contract]:
    """Activated contracts sharing `source`'s customer whose export waits for it."""
    waiting = db.session.scalars(sa.select(Contract).where(
        Contract.customer_contract_id == source.id, Contract.status == S.ACTIVATED).order_by(Contract.id)).all()
    sent = set(db.session.scalars(sa.select(OutboxMessage.idempotency_key).where(
        OutboxMessage.idempotency_key.in_([f"create_contract-{c.number}" for c in waiting])))) if waiting else set()
    return [c for c in waiting if f"create_contract-{c.number}" not in sent]


def _release_waiting(source: Contract) -> None:
    """`source` will never reach billing: the first contract sharing its customer brings the
    customer itself, the others now share that one's."""
    followers = db.session.scalars(sa.select(Contract).where(
        Contract.customer_contract_id == source.id, Contract.status.in_((S.DRAFT, *OPEN))).order_by(Contract.id)).all()
    if not followers:
        return
    first, rest = followers[0], followers[1:]
    first.customer_contract_id = None
    first.draft = first.draft.with_step("customer", {**first.draft.customer, "mode": "new"}, complete=True)
    for other in rest:
        other.customer_contract_id = first.id
    if first.status == S.ACTIVATED:
        _export(first)


def record_created(contract: Contract, actor) -> None:
    """The first history step of a new draft (no commit)."""
    db.session.add(ContractHistory(contract_id=contract.id, from_status=None, to_status=contract.status,
                                   action="create", actor_id=getattr(actor, "id", None)))


def history_of(contract: Contract) -> list[ContractHistory]:
    return list(db.session.scalars(sa.select(ContractHistory).where(
        ContractHistory.contract_id == contract.id).order_by(ContractHistory.created_at, ContractHistory.id)))


# --- the hand-over to billing ------------------------------------------------------------------

def export_payload(contract: Contract) -> dict:
    """The `create_contract` outbox payload (ContractExport fields) from the wizard's data."""
    d = contract.draft
    cust, supply, pay, mail = d.customer, d.supply, d.payment, d.mailing
    existing = cust.get("mode") == "existing"
    customer_code = cust.get("customer_code", "") if existing else (shared_customer_code(contract) or "")
    existing = existing or bool(customer_code)
    customer = {"customer_code": customer_code}
    if not existing:
        customer.update({k: cust.get(k, "") or "" for k in (
            "last_name", "first_name", "company_name", "tax_code", "vat_number", "address",
            "post_code", "city", "province", "phone", "email")})
        customer["birth_date"] = cust.get("birth_date") or None
    sdd = pay.get("method") == "sdd"
    payload = {
        "contract_number": contract.number, "customer_code": customer_code, "customer": customer,
        "service": supply.get("service", ""), "pdr": contract.pdr or "", "pod": contract.pod or "",
        "address": supply.get("address", ""), "post_code": supply.get("post_code", ""),
        "city": supply.get("city", ""), "province": supply.get("province", ""),
        "use_type": supply.get("use_type", ""), "withdrawal_class": supply.get("withdrawal_class", ""),
        "tariff_option": supply.get("tariff_option", ""),
        "annual_consumption": int(supply.get("annual_consumption") or 0),
        "payment_method": pay.get("method", "postal_slip"),
        "iban": pay.get("iban", "") if sdd else "", "account_holder": pay.get("holder", "") if sdd else "",
        "language": contract.language or "it",
    }
    if mail and not mail.get("same_as_supply"):  # otherwise bills go to the supply address
        payload["mailing"] = {"supply_point_code": "", "name": mail.get("name", ""),
                              "address": mail.get("address", ""), "post_code": mail.get("post_code", ""),
                              "city": mail.get("city", ""), "province": mail.get("province", "")}
    return payload


@after_delivery("create_contract")
def _contract_created_in_billing(msg: OutboxMessage) -> None:
    """Billing accepted the contract: store its numbers, move to *in billing, not invoiceable*."""
    contract = db.session.scalar(sa.select(Contract).where(
        Contract.number == msg.payload.get("contract_number")))
    if contract is None or contract.status != S.ACTIVATED:
        return
    result = msg.result or {}
    contract.reservation_number = result.get("reservation_number", "")[:30]
    contract.draft = contract.draft.with_billing(customer_code=result.get("customer_code", ""),
                                                 supply_point_code=result.get("supply_point_code", ""))
    transition(contract, "export", None, result.get("reservation_number", ""))
    for follower in _waiting_for(contract):  # contracts for the same new customer: now theirs
        _export(follower)


@transactional
def check_invoiceable() -> dict:
    """Link contracts in billing to the aligned records, move invoiceable ones on (the job; the
    alignment hook below does the same for the supply points each alignment brings)."""
    contracts = db.session.scalars(sa.select(Contract).where(Contract.status == S.IN_BILLING)).all()
    return _link(contracts)


def _link(contracts) -> dict:
    counts = {"linked": 0, "invoiceable": 0}
    for contract in contracts:
        billing = contract.draft.billing
        sp = db.session.scalar(sa.select(SupplyPoint).where(
            SupplyPoint.code == billing.get("supply_point_code", "")))
        if sp is None:
            continue  # not aligned yet
        if contract.supply_point_id != sp.id:
            contract.supply_point_id = sp.id
            contract.customer_id = sp.customer_id
            counts["linked"] += 1
        if sp.status == SupplyStatus.ACTIVE:
            transition(contract, "invoiceable", None, sp.code)
            counts["invoiceable"] += 1
    return counts


def _point_filter(column, key: str):
    """Rows whose code may be `key` (a LIKE on the code without spaces, upper-cased); the
    caller keeps those whose `point_key` equals it (the POD's check character is optional)."""
    compact = sa.func.upper(sa.func.replace(column, " ", ""))
    return compact.like(key + "%")


def _point_keys(pdr: str, pod: str) -> tuple[str, str]:
    return validators.point_key(pdr), validators.point_key(pod)


def point_active(pdr: str = "", pod: str = "") -> bool:
    """True when the PDR/POD, however written, is a supply point already active with us."""
    pdr_key, pod_key = _point_keys(pdr, pod)
    if not (pdr_key or pod_key):
        return False
    column, key = (SupplyPoint.pdr, pdr_key) if pdr_key else (SupplyPoint.pod, pod_key)
    codes = db.session.scalars(sa.select(column).where(_point_filter(column, key), SupplyPoint.status.in_(
        (SupplyStatus.ACTIVE, SupplyStatus.NOT_INVOICEABLE, SupplyStatus.SUSPENDED)))).all()
    return any(validators.point_key(code) == key for code in codes)
def follow_alignment(records: list) -> None:
    """Alignment hook: the contracts whose supply point this page brought are linked to their
    billing customer and supply point (portfolio, timeline) in the same run, inside the page's
    transaction; those billing reports active become invoiceable."""
    codes = {r.code for r in records}
    if not codes:
        return
    waiting = [c for c in db.session.scalars(sa.select(Contract).where(Contract.status == S.IN_BILLING))
               if c.draft.billing.get("supply_point_code") in codes]
    if waiting:
        with inside_caller():
            _link(waiting)


def register_hooks() -> None:
    """Follow each alignment's supply points (called once by `create_app`)."""
    from app.services.sync.alignment import on_supply_points

    on_supply_points("sales_contracts", follow_alignment)


def point_in_use(pdr: str = "", pod: str = "", *, exclude_contract_id: int | None = None) -> str | None:
    """Why a PDR/POD can't be contracted (already active with us), else None.

    Another open contract for the same point is not a refusal: `open_contracts_with` flags it."""
    if point_active(pdr=pdr, pod=pod):
        return str(_l("This supply point is already active with us."))
    return None


def open_contracts_with(*, pdr: str = "", pod: str = "", tax_code: str = "", vat_number: str = "",
                        exclude_contract_id: int | None = None) -> list[Contract]:
    """Other open contracts (draft included) for the same supply point or the same customer."""
    pdr_key, pod_key = _point_keys(pdr, pod)
    conditions = []
    if pdr_key:
        conditions.append(_point_filter(Contract.pdr, pdr_key))
    if pod_key:
        conditions.append(_point_filter(Contract.pod, pod_key))
    tax_code, vat_number = (tax_code or "").strip().upper(), (vat_number or "").strip()
    if tax_code:
        conditions.append(Contract.tax_code == tax_code)
    if vat_number:
        conditions.append(Contract.vat_number == vat_number)
    if not conditions:
        return []
    stmt = sa.select(Contract).where(sa.or_(*conditions), Contract.status.in_((S.DRAFT, *OPEN)))
    if exclude_contract_id:
        stmt = stmt.where(Contract.id != exclude_contract_id)
    found = []
    for other in db.session.scalars(stmt.order_by(Contract.id)):
        same_point = ((pdr_key and validators.point_key(other.pdr) == pdr_key)
                      or (pod_key and validators.point_key(other.pod) == pod_key))
        same_customer = (tax_code and other.tax_code == tax_code) or (vat_number and other.vat_number == vat_number)
        if same_point or same_customer:
            found.append(other)
    return found
