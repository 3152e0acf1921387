"""Contract entry (F-11): the wizard's steps, their validation, drafts and the final submit.

Steps: 1 customer (one of the user's own customers — portfolio, the new customers of their own
contracts before billing has them, prospects — or any customer by customer code plus tax code
/ VAT number, shown only once attached; else a new one checked with python-stdnum), 2 supply
point (the service's own fields, PDR/POD not already active with us however written), 3 payment
(SEPA direct debit with IBAN and holder, or postal slip), 4 mailing address, 5 summary. No
contract exists before the customer step is saved (`start`); `new_draft` + `save_step` remain
for callers that prefill a draft. Each step's form (`app/views/sales/forms.py`) validates on
its own; "save draft" keeps incomplete input without validating it, so nothing typed is lost.
The data lives in `Contract.data`; the columns the workflow and searches need (service, use
type, PDR, POD, payment, language, the customer's identifiers) are copied out. The same
customer or supply point in another open contract is flagged (`duplicates`), not refused.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import (Contract, ContractHistory, ContractStatus, Customer,
                        PaymentMethod, Service, UseType)
from app.permissions import has_permission
from app.services.sales import contracts as wf
from app.services.sales import portfolio
from app.services.core.unit_of_work import transactional

STEPS = (*wf.WIZARD_STEPS, "summary")
STEP_TITLES = {"customer": _l("Customer"), "supply": _l("Supply point"), "payment": _l("Payment"),
               "mailing": _l("Mailing address"), "summary": _l("Summary")}




class EditRefused(wf.TransitionError):
    """The contract can't be changed (state or owner); `str()` is the translated message."""


# --- rules ---------------------------------------------------------------------------------------

def check_editable(contract: Contract, actor) -> None:
    """Raise EditRefused unless `actor` may change the contract's data now."""
    if contract.status not in wf.EDITABLE:
        raise EditRefused(_l("This contract is %(state)s: it can be changed only while it is being processed.",
                             state=contract.status.label))
    if wf.may(actor, wf.EDIT_ANY):
        return
    if not (wf.may(actor, wf.ENTER) and wf.is_owner(contract, actor)):
        raise EditRefused(_l("You are not allowed to do this on this contract."))


def may_enter(actor) -> bool:
    """True when `actor` may start a new contract: anyone's (back office), or as an agent."""
    return wf.may(actor, wf.EDIT_ANY) or (wf.may(actor, wf.ENTER) and wf.agent_of(actor) is not None)


@transactional
def new_draft(actor) -> Contract:
    """A new contract in status draft, owned by the actor's agent record (if any); committed."""
    if not may_enter(actor):
        raise EditRefused(_l("You are not allowed to do this on this contract."))
    agent = wf.agent_of(actor)
    contract = Contract(number=f"TMP-{uuid.uuid4().hex[:24]}", status=ContractStatus.DRAFT,
                        agent_id=agent.id if agent else None, data={}, wizard_step=1,
                        created_by_id=getattr(actor, "id", None))
    db.session.add(contract)
    db.session.flush()
    contract.number = f"CT{contract.created_at.year}-{contract.id:06d}"
    wf.record_created(contract, actor)
    return contract


@transactional
def start(actor, values: dict, *, complete: bool = True) -> Contract:
    """A new contract from its first step, the customer: nothing is stored before that (one commit)."""
    contract = new_draft(actor)
    return save_step(contract, "customer", values, actor, complete=complete)


@transactional
def save_step(contract: Contract, step: str, values: dict, actor, *, complete: bool = True) -> Contract:
    """Store one step's data (complete = validated); copies key fields to columns; commits."""
    check_editable(contract, actor)
    draft = contract.draft
    old = draft.step(step)
    contract.draft = draft.with_step(step, values, complete=complete)
    if complete:
        _copy_columns(contract, step, values)
        contract.wizard_step = max(contract.wizard_step or 1, STEPS.index(step) + 2)
    if contract.status == ContractStatus.PROCESSING and old != values:
        db.session.add(ContractHistory(contract_id=contract.id, from_status=contract.status,
                                       to_status=contract.status, action="edit", reason=str(STEP_TITLES[step]),
                                       actor_id=getattr(actor, "id", None)))
        from app.services.core.audit import record

        record("contract", contract.id, "edit", _changes(old or {}, values), actor)
    return contract


def _changes(old: dict, new: dict) -> dict:
    return {k: [old.get(k), new.get(k)] for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def _copy_columns(contract: Contract, step: str, values: dict) -> None:
    if step == "customer":
        mode = values.get("mode")
        contract.language = values.get("language") or "it"
        contract.customer_id = values.get("customer_id") if mode == "existing" else None
        contract.customer_contract_id = values.get("contract_id") if mode == "contract" else None
        contract.tax_code = (values.get("tax_code") or "").upper()[:16]
        contract.vat_number = (values.get("vat_number") or "")[:11]
        contract.search_name = Customer.make_search_name(values.get("last_name", ""), values.get("first_name", ""),
                                                         values.get("company_name", ""))[:330]
    elif step == "supply":
        contract.service = Service(values["service"])
        contract.use_type = UseType(values["use_type"])
        contract.pdr = values.get("pdr", "")
        contract.pod = values.get("pod", "")
    elif step == "payment":
        contract.payment_method = PaymentMethod(values["method"])


def missing_steps(contract: Contract) -> list[str]:
    return contract.draft.missing()


@transactional
def finish(contract: Contract, actor) -> Contract:
    """Submit a complete draft (-> processing) or re-issue an edited one; build the documents."""
    check_editable(contract, actor)
    missing = missing_steps(contract)
    if missing:
        raise EditRefused(_l("Complete every step first: %(steps)s.",
                             steps=", ".join(str(STEP_TITLES[s]) for s in missing)))
    problem = wf.point_in_use(pdr=contract.pdr, pod=contract.pod, exclude_contract_id=contract.id)
    if problem:
        raise EditRefused(problem)
    from app.services.sales.documents import build_documents

    if contract.status == ContractStatus.DRAFT:
        wf.transition(contract, "submit", actor)
    build_documents(contract)
    return contract


# --- the customer search (F-11, F-15): an agent finds only their own customers -------------------

@dataclass(frozen=True)
class Match:
    """One search result. `kind`: "customer" (billing's record), "contract" (a new customer
    entered with one of the user's contracts, not yet in billing), "prospect", or "exact" (a
    customer found by an exact identifier: nothing of theirs is shown until attached)."""

    kind: str
    ref: str  # what choosing it posts: the customer code, the contract id, the prospect id
    name: str = ""
    city: str = ""
    code: str = ""  # shown: the customer code or the contract number


# Finders of the user's prospects matching a query: callables (user, query, limit) -> [Match],
# registered by the prospects' module; none until it exists.
PROSPECT_FINDERS: list = []


def prospect_matches(user, query: str, limit: int) -> list[Match]:
    """The user's prospects matching `query` (through the registered finders)."""
    found: list[Match] = []
    for finder in PROSPECT_FINDERS:
        found.extend(finder(user, query, limit))
    return found[:limit]


def sees_every_customer(user) -> bool:
    """Back office and whoever sees every portfolio search all customers."""
    return wf.may(user, wf.EDIT_ANY) or has_permission(user, portfolio.SEE_ALL, portfolio.PORTFOLIO)


def _own_contracts(user):
    """The condition on contracts whose customers `user` may find: their agent's, or everyone's."""
    if sees_every_customer(user):
        return sa.true()
    agent = wf.agent_of(user)
    return Contract.agent_id == (agent.id if agent else -1)


def _own_customer_ids(user):
    return sa.select(Contract.customer_id).where(_own_contracts(user), Contract.customer_id.is_not(None))


def search_customers(user, query: str, *, exclude_contract_id: int | None = None, limit: int = 20) -> list[Match]:
    """The customers `user` may attach to a contract, by name (prefix), tax code, VAT number or
    customer code: their portfolio's, the new customers of their own contracts (before billing
    has created them) and their prospects. Back office searches every customer."""
    q = (query or "").strip()
    if len(q) < 2:
        return []
    compact = re.sub(r"\s", "", q).upper()
    name_like = _like_prefix(q.lower())
    stmt = sa.select(Customer).where(sa.or_(
        Customer.code == compact, Customer.tax_code == compact, Customer.vat_number == compact,
        Customer.search_name.like(name_like)))
    if not sees_every_customer(user):
        stmt = stmt.where(Customer.id.in_(_own_customer_ids(user)))
    found = [Match("customer", c.code, c.display_name, c.city, c.code)
             for c in db.session.scalars(stmt.order_by(Customer.search_name, Customer.code).limit(limit))]
    entered = sa.select(Contract).where(
        _own_contracts(user), Contract.customer_id.is_(None),
        Contract.customer_contract_id.is_(None), Contract.search_name != "",
        Contract.status.not_in((ContractStatus.REJECTED, ContractStatus.CANCELLED)),
        sa.or_(Contract.tax_code == compact, Contract.vat_number == compact, Contract.search_name.like(name_like)))
    if exclude_contract_id:
        entered = entered.where(Contract.id != exclude_contract_id)
    billing_codes = {m.ref for m in found}
    seen: set[str] = set()
    for c in db.session.scalars(entered.order_by(Contract.search_name, Contract.id).limit(limit)):
        cust = c.draft.customer
        key = c.tax_code or c.vat_number
        if c.draft.billing.get("customer_code") in billing_codes or key in seen:
            continue
        seen.add(key)
        found.append(Match("contract", str(c.id), c.customer_name, cust.get("city", ""), c.number))
    found.extend(prospect_matches(user, q, limit))
    return found[:limit]


def exact_customer(customer_code: str, identifier: str) -> Match | None:
    """Any customer, by customer code together with their tax code or VAT number: a match
    carries nothing of theirs but the code typed."""
    code = re.sub(r"\s", "", customer_code or "").upper()
    ident = re.sub(r"\s", "", identifier or "").upper()
    if not code or not ident:
        return None
    found = db.session.scalar(sa.select(Customer.id).where(
        Customer.code == code, sa.or_(Customer.tax_code == ident, Customer.vat_number == ident)))
    return Match("exact", code, code=code) if found else None


def attach_values(user, *, customer_code: str = "", identifier: str = "", contract_id: str = "",
                  exclude_contract_id: int | None = None) -> dict | None:
    """The customer step's values for a customer `user` may attach (None when they may not):
    one of their own customers, one found by an exact identifier, or the new customer of one
    of their own contracts (the contracts then share them: billing creates them once)."""
    if contract_id:
        return _shared_customer_values(user, contract_id, exclude_contract_id)
    code = (customer_code or "").strip().upper()
    customer = db.session.scalar(sa.select(Customer).where(Customer.code == code)) if code else None
    if customer is None:
        return None
    allowed = (sees_every_customer(user) or exact_customer(code, identifier) is not None
               or db.session.scalar(sa.select(sa.func.count()).select_from(Contract).where(
                   _own_contracts(user), Contract.customer_id == customer.id)))
    if not allowed:
        return None
    return existing_values(customer)


def existing_values(c: Customer) -> dict:
    """What a contract keeps of an existing customer: who they are and where, not their contacts."""
    return {"mode": "existing", "customer_id": c.id, "customer_code": c.code,
            "kind": c.kind.value, "last_name": c.last_name, "first_name": c.first_name,
            "company_name": c.company_name, "tax_code": c.tax_code, "vat_number": c.vat_number,
            "address": c.address, "post_code": c.post_code, "city": c.city,
            "province": c.province, "language": c.language or "it"}


def _shared_customer_values(user, contract_id: str, exclude_contract_id: int | None) -> dict | None:
    try:
        cid = int(contract_id)
    except (TypeError, ValueError):
        return None
    source = db.session.scalar(sa.select(Contract).where(
        Contract.id == cid, _own_contracts(user), Contract.id != (exclude_contract_id or -1),
        Contract.status.not_in((ContractStatus.REJECTED, ContractStatus.CANCELLED))))
    if source is None or "customer" not in source.draft.done:
        return None
    if source.customer is not None:  # billing created them meanwhile: attach billing's record
        return existing_values(source.customer)
    values = source.draft.customer
    if values.get("mode") == "existing":
        return values
    if values.get("mode") == "contract" and source.customer_contract_id:  # share the first one's
        return _shared_customer_values(user, str(source.customer_contract_id), exclude_contract_id)
    return {**values, "mode": "contract", "contract_id": source.id, "contract_number": source.number}


def _like_prefix(text: str) -> str:
    return text.replace("\\", "").replace("%", "").replace("_", "") + "%"


# --- flags: the same customer or supply point in another open contract -----------------------------

@dataclass(frozen=True)
class Duplicate:
    """Another open contract with the same tax code / VAT number or PDR/POD; `visible`: the
    user may open it (a link), else only its existence is told."""

    what: str  # "customer" | "point"
    contract_id: int
    number: str
    visible: bool


def duplicates(contract: Contract, user) -> list[Duplicate]:
    """Other open contracts holding this contract's customer or supply point (flagged, not refused).
    The tax code is compared only among contracts the user may see; a contract sharing its
    customer on purpose (dual fuel) is not flagged."""
    every, agent = sees_every_customer(user), wf.agent_of(user)

    def mine(other: Contract) -> bool:
        return every or (agent is not None and other.agent_id == agent.id)

    out: list[Duplicate] = []
    group = contract.customer_contract_id or contract.id
    if contract.tax_code or contract.vat_number:
        for other in wf.open_contracts_with(tax_code=contract.tax_code, vat_number=contract.vat_number,
                                            exclude_contract_id=contract.id):
            if mine(other) and (other.customer_contract_id or other.id) != group:
                out.append(Duplicate("customer", other.id, other.number, True))
    if contract.pdr or contract.pod:
        for other in wf.open_contracts_with(pdr=contract.pdr, pod=contract.pod, exclude_contract_id=contract.id):
            out.append(Duplicate("point", other.id, other.number, mine(other)))
    return out
