"""The contract wizard's step forms (F-11): each validates its own step; `form_values` turns a
form into the plain values the wizard service stores in the draft."""
from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, HiddenField, IntegerField, RadioField, SelectField,
                     StringField)
from wtforms.validators import (DataRequired, Email, InputRequired, Length, NumberRange, Optional,
                                Regexp)

from app import validators as v
from app.models import Contract, CustomerKind, PaymentMethod, Service, UseType
from app.services.sales import contracts as wf
from app.services.sales.wizard import TARIFFS, existing_customer_values

REQUIRED = _l("Please fill in this field.")
_post_code = Regexp(r"^\d{5}$", message=_l("The post code has 5 digits."))
_province = Regexp(r"^[A-Za-z]{2}$", message=_l("The province is two letters (e.g. RM)."))


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
        if existing_customer_values(self.customer_code.data or "") is None:
            self.customer_code.errors = [str(_l("Choose a customer from the search results."))]
            return False
        return True

    def values(self) -> dict:
        if self.mode.data == "existing":
            return existing_customer_values(self.customer_code.data)
        out = form_values(self, exclude=("mode", "customer_code"))
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
        out = form_values(self)
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
        out = form_values(self)
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
        out = form_values(self)
        out["province"] = (out.get("province") or "").upper()
        return out


FORMS = {"customer": CustomerForm, "supply": SupplyForm, "payment": PaymentForm, "mailing": MailingForm}


def form_values(form, exclude=()) -> dict:
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
    saved = contract.draft.step(step)
    if step == "customer" and saved.get("birth_date"):
        try:
            saved["birth_date"] = dt.date.fromisoformat(saved["birth_date"])
        except ValueError:
            saved["birth_date"] = None
    kwargs = {"contract_id": contract.id} if step == "supply" else {}
    if step == "mailing" and not saved:
        saved = {"same_as_supply": True}
    return cls(formdata=formdata, data=saved, **kwargs)
