"""Contract entry (F-11): the wizard's steps, their validation, drafts and the final submit.

Steps: 1 customer (an existing one found by name, tax code, VAT number or customer code, else
a new one checked with python-stdnum), 2 supply point (PDR/POD rules, not already active with
us), 3 payment (SEPA direct debit with IBAN and holder, or postal slip), 4 mailing address,
5 summary. Each step's form (`app/views/sales/forms.py`) validates on its own; "save draft" keeps incomplete input without
validating it, so nothing typed is lost. The data lives in `Contract.data`; the columns the
workflow and searches need (service, use type, PDR, POD, payment, language) are copied out.
"""
from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from app.extensions import db
from app.models import (Contract, ContractHistory, ContractStatus, Customer,
                        PaymentMethod, Service, UseType)
from app.services.sales import contracts as wf
from app.services.core.unit_of_work import transactional

STEPS = (*wf.WIZARD_STEPS, "summary")
STEP_TITLES = {"customer": _l("Customer"), "supply": _l("Supply point"), "payment": _l("Payment"),
               "mailing": _l("Mailing address"), "summary": _l("Summary")}

# The company's offers per service (product names, not translated).
TARIFFS: dict[str, tuple[str, ...]] = {
    "gas": ("Gas Casa Fisso", "Gas Casa Variabile", "Gas Business"),
    "electricity": ("Luce Casa Monoraria", "Luce Casa Bioraria", "Luce Business"),
    "water": ("Acqua Standard",),
    "lpg": ("GPL Casa",),
    "telecom": ("Fibra Casa", "Fibra Business"),
}



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
        contract.language = values.get("language") or "it"
        contract.customer_id = values.get("customer_id") if values.get("mode") == "existing" else None
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


def existing_customer_values(code: str) -> dict | None:
    """The customer step's values for an existing customer, by customer code (None if unknown)."""
    c = db.session.scalar(sa.select(Customer).where(Customer.code == (code or "").strip()))
    if c is None:
        return None
    return {"mode": "existing", "customer_id": c.id, "customer_code": c.code,
            "kind": c.kind.value, "last_name": c.last_name, "first_name": c.first_name,
            "company_name": c.company_name, "tax_code": c.tax_code, "vat_number": c.vat_number,
            "birth_date": c.birth_date.isoformat() if c.birth_date else "",
            "address": c.address, "post_code": c.post_code, "city": c.city,
            "province": c.province, "phone": c.phone, "email": c.email,
            "language": c.language or "it"}


def search_customers(query: str, limit: int = 20) -> list[Customer]:
    """Existing customers by customer code, tax code, VAT number or name (prefix)."""
    q = (query or "").strip()
    if len(q) < 2:
        return []
    compact = re.sub(r"\s", "", q).upper()
    stmt = sa.select(Customer).where(sa.or_(
        Customer.code == compact, Customer.tax_code == compact, Customer.vat_number == compact,
        Customer.search_name.like(_like_prefix(q.lower())),
    )).order_by(Customer.search_name, Customer.code).limit(limit)
    return list(db.session.scalars(stmt))


def _like_prefix(text: str) -> str:
    return text.replace("\\", "").replace("%", "").replace("_", "") + "%"
