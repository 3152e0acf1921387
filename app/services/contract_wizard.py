"""Contract entry (F-11): the wizard's steps, their validation, drafts and the final submit.

Steps: 1 customer (an existing one found by name, tax code, VAT number or customer code, else
a new one checked with python-stdnum), 2 supply point (PDR/POD rules, not already active with
us), 3 payment (SEPA direct debit with IBAN and holder, or postal slip), 4 mailing address,
5 summary. Each step's form validates on its own; "save draft" keeps incomplete input without
validating it, so nothing typed is lost. The data lives in `Contract.data`; the columns the
workflow and searches need (service, use type, PDR, POD, payment, language) are copied out.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, HiddenField, IntegerField, RadioField, SelectField,
                     StringField)
from wtforms.validators import (DataRequired, Email, InputRequired, Length, NumberRange, Optional,
                                Regexp)

from app import validators as v
from app.extensions import db
from app.models import (Contract, ContractHistory, ContractStatus, Customer, CustomerKind,
                        PaymentMethod, Service, UseType)
from app.security import ADMIN, BACK_OFFICE
from app.services import contracts as wf

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

REQUIRED = _l("Please fill in this field.")
_post_code = Regexp(r"^\d{5}$", message=_l("The post code has 5 digits."))
_province = Regexp(r"^[A-Za-z]{2}$", message=_l("The province is two letters (e.g. RM)."))


class EditRefused(wf.TransitionError):
    """The contract can't be changed (state or owner); `str()` is the translated message."""


# --- forms ---------------------------------------------------------------------------------------

class CustomerForm(FlaskForm):
    mode = RadioField(_l("Customer"), choices=[("new", _l("New customer")), ("existing", _l("Existing customer"))],
                      default="new")
    customer_code = HiddenField()
    kind = RadioField(_l("Kind"), choices=CustomerKind.choices, default="person")
    last_name = StringField(_l("Last name"), [Optional(), Length(max=80)])
    first_name = StringField(_l("First name"), [Optional(), Length(max=80)])
    company_name = StringField(_l("Company name"), [Optional(), Length(max=160)])
    tax_code = StringField(_l("Tax code"), [v.Checked(v.tax_code, optional=True)])
    vat_number = StringField(_l("VAT number"), [v.Checked(v.vat_number, optional=True)])
    birth_date = DateField(_l("Date of birth"), [Optional()])
    address = StringField(_l("Address"), [DataRequired(REQUIRED), Length(max=160)])
    post_code = StringField(_l("Post code"), [DataRequired(REQUIRED), _post_code])
    city = StringField(_l("City"), [DataRequired(REQUIRED), Length(max=80)])
    province = StringField(_l("Province"), [DataRequired(REQUIRED), _province])
    phone = StringField(_l("Phone"), [Optional(), Regexp(r"^[+\d][\d ]{5,20}$", message=_l("Only digits, spaces and a leading +."))])
    email = StringField(_l("E-mail"), [Optional(), Email(message=_l("This e-mail address is not valid."))])
    language = SelectField(_l("Customer's language"), choices=[("it", "Italiano"), ("en", "English")], default="it")

    def validate(self, extra_validators=None):
        if self.mode.data == "existing":
            return self._validate_existing()
        ok = super().validate(extra_validators)
        required = ((self.last_name, self.first_name, self.tax_code) if self.kind.data == "person"
                    else (self.company_name, self.vat_number))
        for field in required:
            if not (field.data or "").strip() and not field.errors:
                field.errors.append(str(REQUIRED))
                ok = False
        if self.kind.data == "person" and self.tax_code.data and len(self.tax_code.data) != 16 \
                and not self.tax_code.errors:
            self.tax_code.errors.append(str(_l("A person's tax code has 16 characters.")))
            ok = False
        return ok

    def _validate_existing(self) -> bool:
        code = (self.customer_code.data or "").strip()
        if not code or db.session.scalar(sa.select(Customer.id).where(Customer.code == code)) is None:
            self.customer_code.errors = [str(_l("Choose a customer from the search results."))]
            return False
        return True

    def values(self) -> dict:
        if self.mode.data == "existing":
            c = db.session.scalar(sa.select(Customer).where(Customer.code == self.customer_code.data.strip()))
            return {"mode": "existing", "customer_id": c.id, "customer_code": c.code,
                    "kind": c.kind.value, "last_name": c.last_name, "first_name": c.first_name,
                    "company_name": c.company_name, "tax_code": c.tax_code, "vat_number": c.vat_number,
                    "birth_date": c.birth_date.isoformat() if c.birth_date else "",
                    "address": c.address, "post_code": c.post_code, "city": c.city,
                    "province": c.province, "phone": c.phone, "email": c.email,
                    "language": c.language or "it"}
        out = _plain(self, exclude=("mode", "customer_code"))
        out["mode"] = "new"
        out["province"] = (out.get("province") or "").upper()
        if out["kind"] == "company":
            out["last_name"] = out["first_name"] = ""
            out["birth_date"] = ""
        else:
            out["company_name"] = ""
        return out


class SupplyForm(FlaskForm):
    service = SelectField(_l("Service"), choices=Service.choices, default="gas")
    pdr = StringField(_l("PDR"), [v.Checked(v.pdr, optional=True)])
    pod = StringField(_l("POD"), [v.Checked(v.pod, optional=True)])
    address = StringField(_l("Supply address"), [DataRequired(REQUIRED), Length(max=160)])
    post_code = StringField(_l("Post code"), [DataRequired(REQUIRED), _post_code])
    city = StringField(_l("City"), [DataRequired(REQUIRED), Length(max=80)])
    province = StringField(_l("Province"), [DataRequired(REQUIRED), _province])
    use_type = SelectField(_l("Use type"), choices=UseType.choices, default="domestic")
    withdrawal_class = StringField(_l("Withdrawal class"), [Optional(), Length(max=10)])
    tariff_option = SelectField(_l("Tariff option"), choices=[(t, t) for ts in TARIFFS.values() for t in ts])
    annual_consumption = IntegerField(_l("Estimated annual consumption"),
                                      [InputRequired(REQUIRED), NumberRange(min=1, max=100_000_000,
                                                                            message=_l("Enter a positive number."))])
    previous_supplier = StringField(_l("Previous supplier"), [Optional(), Length(max=120)])

    def __init__(self, *args, contract_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.contract_id = contract_id

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        service = self.service.data
        if service == "gas" and not self.pdr.errors and not self.pdr.data:
            self.pdr.errors.append(str(_l("Gas supplies need the PDR.")))
            ok = False
        if service == "electricity" and not self.pod.errors and not self.pod.data:
            self.pod.errors.append(str(_l("Electricity supplies need the POD.")))
            ok = False
        if self.tariff_option.data not in TARIFFS.get(service, ()):
            self.tariff_option.errors.append(str(_l("This tariff is not offered for the chosen service.")))
            ok = False
        field = self.pdr if service == "gas" else self.pod if service == "electricity" else None
        if field is not None and field.data and not field.errors:
            problem = wf.point_in_use(pdr=field.data if service == "gas" else "",
                                      pod=field.data if service == "electricity" else "",
                                      exclude_contract_id=self.contract_id)
            if problem:
                field.errors.append(problem)
                ok = False
        return ok

    def values(self) -> dict:
        out = _plain(self)
        out["province"] = out["province"].upper()
        if out["service"] != "gas":
            out["pdr"] = ""
        if out["service"] != "electricity":
            out["pod"] = ""
        return out


class PaymentForm(FlaskForm):
    method = RadioField(_l("Payment method"), choices=PaymentMethod.choices, default="sdd")
    iban = StringField(_l("IBAN"), [v.Checked(v.iban, optional=True, country="IT")])
    holder = StringField(_l("Account holder"), [Optional(), Length(max=160)])

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if self.method.data == "sdd":
            for field in (self.iban, self.holder):
                if not (field.data or "").strip() and not field.errors:
                    field.errors.append(str(REQUIRED))
                    ok = False
        return ok

    def values(self) -> dict:
        out = _plain(self)
        if out["method"] != "sdd":
            out["iban"] = out["holder"] = ""
        return out


class MailingForm(FlaskForm):
    same_as_supply = BooleanField(_l("Send bills to the supply address"), default=True)
    name = StringField(_l("Name on the envelope"), [Optional(), Length(max=160)])
    address = StringField(_l("Address"), [Optional(), Length(max=160)])
    post_code = StringField(_l("Post code"), [Optional(), _post_code])
    city = StringField(_l("City"), [Optional(), Length(max=80)])
    province = StringField(_l("Province"), [Optional(), _province])

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if not self.same_as_supply.data:
            for field in (self.name, self.address, self.post_code, self.city, self.province):
                if not (field.data or "").strip() and not field.errors:
                    field.errors.append(str(REQUIRED))
                    ok = False
        return ok

    def values(self) -> dict:
        out = _plain(self)
        out["province"] = (out.get("province") or "").upper()
        return out


FORMS = {"customer": CustomerForm, "supply": SupplyForm, "payment": PaymentForm, "mailing": MailingForm}


def _plain(form, exclude=()) -> dict:
    out = {}
    for name, field in form._fields.items():
        if name in ("csrf_token", *exclude):
            continue
        value = field.data
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, str):
            value = value.strip()
        out[name] = "" if value is None else value
    return out


def form_for(contract: Contract, step: str, formdata=None):
    """The step's form, filled from the request or else from the saved draft."""
    cls = FORMS[step]
    saved = dict((contract.data or {}).get(step) or {})
    if step == "customer" and saved.get("birth_date"):
        try:
            saved["birth_date"] = dt.date.fromisoformat(saved["birth_date"])
        except ValueError:
            saved["birth_date"] = None
    kwargs = {"contract_id": contract.id} if step == "supply" else {}
    if step == "mailing" and not saved:
        saved = {"same_as_supply": True}
    return cls(formdata=formdata, data=saved, **kwargs)


# --- rules ---------------------------------------------------------------------------------------

def check_editable(contract: Contract, actor) -> None:
    """Raise EditRefused unless `actor` may change the contract's data now."""
    roles = wf.actor_roles(actor)
    if contract.status not in wf.EDITABLE:
        raise EditRefused(_l("This contract is %(state)s: it can be changed only while it is being processed.",
                             state=contract.status.label))
    if roles & {BACK_OFFICE, ADMIN}:
        return
    if not wf.is_owner(contract, actor):
        raise EditRefused(_l("You are not allowed to do this on this contract."))


def new_draft(actor) -> Contract:
    """A new contract in status draft, owned by the actor's agent record (if any); committed."""
    agent = wf.agent_of(actor)
    contract = Contract(number=f"TMP-{uuid.uuid4().hex[:24]}", status=ContractStatus.DRAFT,
                        agent_id=agent.id if agent else None, data={}, wizard_step=1,
                        created_by_id=getattr(actor, "id", None))
    db.session.add(contract)
    db.session.flush()
    contract.number = f"CT{contract.created_at.year}-{contract.id:06d}"
    wf.record_created(contract, actor)
    db.session.commit()
    return contract


def save_step(contract: Contract, step: str, values: dict, actor, *, complete: bool = True) -> Contract:
    """Store one step's data (complete = validated); copies key fields to columns; commits."""
    check_editable(contract, actor)
    data = dict(contract.data or {})
    old = data.get(step)
    data[step] = values
    done = set(data.get("done") or [])
    (done.add if complete else done.discard)(step)
    data["done"] = sorted(done, key=STEPS.index)
    contract.data = data
    if complete:
        _copy_columns(contract, step, values)
        contract.wizard_step = max(contract.wizard_step or 1, STEPS.index(step) + 2)
    if contract.status == ContractStatus.PROCESSING and old != values:
        db.session.add(ContractHistory(contract_id=contract.id, from_status=contract.status,
                                       to_status=contract.status, action="edit", reason=str(STEP_TITLES[step]),
                                       actor_id=getattr(actor, "id", None)))
        from app.services.audit import record

        record("contract", contract.id, "edit", _changes(old or {}, values), actor)
    db.session.commit()
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
    done = set((contract.data or {}).get("done") or [])
    return [s for s in STEPS[:-1] if s not in done]


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
    from app.services.contract_documents import build_documents

    if contract.status == ContractStatus.DRAFT:
        wf.transition(contract, "submit", actor, commit=False)
    build_documents(contract)
    db.session.commit()
    return contract


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
