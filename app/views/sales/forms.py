"""The contract wizard's step forms (F-11): each validates its own step; `form_values` turns a
form into the plain values the wizard service stores in the draft."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from flask_babel import get_locale

from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, HiddenField, IntegerField, RadioField, SelectField,
                     StringField)
from wtforms.validators import (DataRequired, Email, InputRequired, Length, NumberRange, Optional,
                                Regexp)

from app import validators as v
from app.i18n import lazy_gettext as _l
from app.models import Contract, ContractDraft, CustomerKind, PaymentMethod, Service, UseType
from app.services.sales import contracts as wf
from app.services.catalog import offers as catalog
from app.services.sales.regulated import ELECTRICITY_USES, GAS_USE_CATEGORIES, VOLTAGES, WITHDRAWAL_CLASSES
from app.services.sales.wizard import attach_values

REQUIRED = _l("Please fill in this field.")
_post_code = Regexp(r"^\d{5}$", message=_l("The post code has 5 digits."))
_province = Regexp(r"^[A-Za-z]{2}$", message=_l("The province is two letters (e.g. RM)."))


class CustomerForm(FlaskForm):
    mode = RadioField(_l("Customer"), choices=[("new", _l("New customer")), ("existing", _l("Existing customer")),
                                               ("contract", _l("Customer of another contract"))], default="new")
    customer_code = HiddenField()
    identifier = HiddenField()  # the tax code / VAT number an exact search found the customer by
    contract_ref = HiddenField()  # the contract whose new customer is chosen
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

    def __init__(self, *args, user=None, contract_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.contract_id, self._attached = user, contract_id, None

    def validate(self, extra_validators=None):
        if self.mode.data in ("existing", "contract"):
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
        if not self.validate_csrf_token_only():
            return False
        self._attached = attach_values(
            self.user, customer_code=self.customer_code.data or "", identifier=self.identifier.data or "",
            contract_id=(self.contract_ref.data or "") if self.mode.data == "contract" else "",
            exclude_contract_id=self.contract_id)
        if self._attached is None:
            self.customer_code.errors = [str(_l("Choose a customer from the search results."))]
            return False
        return True

    def validate_csrf_token_only(self) -> bool:
        field = self._fields.get("csrf_token")
        return field is None or field.validate(self)

    def values(self) -> dict:
        if self.mode.data in ("existing", "contract"):
            return self._attached
        out = form_values(self, exclude=("mode", "customer_code", "identifier", "contract_ref"))
        out["mode"] = "new"
        out["province"] = (out.get("province") or "").upper()
        if out["kind"] == "company":
            out["last_name"] = out["first_name"] = ""
            out["birth_date"] = ""
        else:
            out["company_name"] = ""
        return out


class ExactSearchForm(FlaskForm):
    """An existing customer outside the user's own, by customer code and tax code / VAT number."""

    class Meta:
        csrf = False  # a GET search: it changes nothing

    customer_code = StringField(_l("Customer code"), [Optional(), Length(max=20)])
    identifier = StringField(_l("Tax code or VAT number"), [Optional(), Length(max=16)])


# Which fields each service has (the others are hidden in the page and ignored by the server).
SERVICE_FIELDS = {"gas": ("pdr", "gas_use_category", "withdrawal_class"),
                  "electricity": ("pod", "electricity_use", "voltage", "committed_power")}
NO_CONSUMPTION = ("telecom",)


class KilowattField(StringField):
    """A power in kW written the user's way ("3,0" in Italian); `data` is the Decimal."""

    def process_formdata(self, valuelist):
        self.raw = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not self.raw:
            return
        try:
            self.data = parse_decimal(self.raw, locale=str(get_locale() or "it"), strict=True)
        except NumberFormatError:
            self.data = None
            raise ValueError(str(_l("Enter the power in kW as a number, e.g. %(example)s.",
                                    example=self.example(3))))

    @staticmethod
    def example(number) -> str:
        """`number` kW as the user writes it ("3,0" in Italian)."""
        return format_decimal(Decimal(str(number)), format="0.0#", locale=str(get_locale() or "it"))

    def process_data(self, value):
        try:
            self.data = Decimal(str(value)) if value not in (None, "") else None
        except ArithmeticError:
            self.data = None

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return format_decimal(self.data, format="0.0##", locale=str(get_locale() or "it"))


class SupplyForm(FlaskForm):
    service = SelectField(_l("Service"), choices=Service.choices, default="gas")
    pdr = StringField(_l("PDR"), [v.Checked(v.pdr, optional=True)])
    pod = StringField(_l("POD"), [v.Checked(v.pod, optional=True)])
    address = StringField(_l("Supply address"), [DataRequired(REQUIRED), Length(max=160)])
    post_code = StringField(_l("Post code"), [DataRequired(REQUIRED), _post_code])
    city = StringField(_l("City"), [DataRequired(REQUIRED), Length(max=80)])
    province = StringField(_l("Province"), [DataRequired(REQUIRED), _province])
    use_type = SelectField(_l("Use type"), choices=UseType.choices, default="domestic")
    gas_use_category = SelectField(_l("Gas use category"), choices=GAS_USE_CATEGORIES, default="C3")
    withdrawal_class = SelectField(_l("Withdrawal class"), choices=WITHDRAWAL_CLASSES, default="1")
    electricity_use = SelectField(_l("Electricity use"), choices=ELECTRICITY_USES, default="domestic_resident")
    voltage = SelectField(_l("Supply voltage"), choices=VOLTAGES, default="230")
    committed_power = KilowattField(_l("Committed power (kW)"))
    tariff_option = SelectField(_l("Offer"), choices=[])
    annual_consumption = IntegerField(_l("Estimated annual consumption"),
                                      [Optional(), NumberRange(min=1, max=100_000_000,
                                                               message=_l("Enter a positive number."))])
    previous_supplier = StringField(_l("Previous supplier"), [Optional(), Length(max=120)])

    def __init__(self, *args, contract_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.contract_id = contract_id
        # The offers on sale today, grouped by service (the catalogue, F-18).
        self.offers = catalog.names_by_service()
        labels = self.service_labels = {k: str(v) for k, v in Service.choices()}
        self.tariff_option.choices = {labels[s]: [(n, n) for n in names]
                                      for s, names in self.offers.items() if names}
        self.service_fields = SERVICE_FIELDS

    def _not_for_service(self) -> list:
        """The fields of other services than the chosen one."""
        own = SERVICE_FIELDS.get(self.service.data, ())
        return [self[name] for fields in SERVICE_FIELDS.values() for name in fields if name not in own]

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        service = self.service.data
        for field in self._not_for_service():  # hidden in the page: what they hold doesn't count
            field.errors = []
        ok = not any(f.errors for f in self)
        if service == "gas" and not self.pdr.errors and not self.pdr.data:
            self.pdr.errors.append(str(_l("Gas supplies need the PDR.")))
        if service == "electricity" and not self.pod.errors and not self.pod.data:
            self.pod.errors.append(str(_l("Electricity supplies need the POD.")))
        if service == "electricity" and not self.committed_power.errors:
            power = self.committed_power.data
            if power is None:
                self.committed_power.errors.append(str(REQUIRED))
            elif not Decimal("0.5") <= power <= Decimal("10000"):
                self.committed_power.errors.append(str(_l("The committed power is between 0.5 and 10,000 kW.")))
        if service not in NO_CONSUMPTION and self.annual_consumption.data is None \
                and not self.annual_consumption.errors:
            self.annual_consumption.errors.append(str(REQUIRED))
        if self.tariff_option.data not in self.offers.get(service, ()):
            self.tariff_option.errors.append(str(_l("This offer is not on sale for the chosen service.")))
        field = self.pdr if service == "gas" else self.pod if service == "electricity" else None
        if field is not None and field.data and not field.errors:
            problem = wf.point_in_use(pdr=field.data if service == "gas" else "",
                                      pod=field.data if service == "electricity" else "",
                                      exclude_contract_id=self.contract_id)
            if problem:
                field.errors.append(problem)
        return ok and not any(f.errors for f in self)

    def values(self) -> dict:
        out = form_values(self)
        out["province"] = out["province"].upper()
        for field in self._not_for_service():
            out[field.short_name] = ""
        if out["service"] in NO_CONSUMPTION:
            out["annual_consumption"] = ""
        return out


class PaymentForm(FlaskForm):
    method = RadioField(_l("Payment method"), choices=PaymentMethod.choices, default="sdd")
    iban = StringField(_l("IBAN"), [v.Checked(v.iban, optional=True)])
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
    ADDRESS = ("name", "address", "post_code", "city", "province")

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if self.same_as_supply.data:  # the other address is hidden and not used
            for name in self.ADDRESS:
                self[name].errors = []
            return not any(f.errors for f in self)
        for name in self.ADDRESS:
            field = self[name]
            if not (field.data or "").strip() and not field.errors:
                field.errors.append(str(REQUIRED))
                ok = False
        return ok

    def values(self) -> dict:
        out = form_values(self)
        if out.get("same_as_supply"):
            out.update({name: "" for name in self.ADDRESS})
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
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, str):
            value = value.strip()
        out[name] = "" if value is None else value
    return out


_ADDRESS = ("address", "post_code", "city", "province")


def form_for(contract: Contract | None, step: str, formdata=None, *, user=None):
    """The step's form, filled from the request or else from the saved draft (a contract not
    created yet has only its customer step)."""
    cls = FORMS[step]
    draft = contract.draft if contract is not None else ContractDraft()
    saved = draft.step(step)
    if step == "customer" and saved.get("birth_date"):
        try:
            saved["birth_date"] = dt.date.fromisoformat(saved["birth_date"])
        except ValueError:
            saved["birth_date"] = None
    contract_id = contract.id if contract is not None else None
    kwargs = {"contract_id": contract_id} if step == "supply" else {}
    if step == "customer":
        kwargs = {"contract_id": contract_id, "user": user}
    if step == "supply" and not saved.get("address"):
        # The supply is usually where the customer lives (also when a converted prospect's
        # service and consumption are already there).
        customer = draft.customer
        saved = {**saved, **{k: customer.get(k, "") for k in _ADDRESS}}
    if step == "mailing" and not saved:
        saved = {"same_as_supply": True}
    return cls(formdata=formdata, data=saved, **kwargs)
