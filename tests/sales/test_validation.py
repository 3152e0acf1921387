"""F-11: identifiers are validated by libraries (PDR/POD by their format), good and bad values."""
import pytest

from app import validators as v
from app.services.sales import wizard as wiz
from app.views.sales import forms
from tests.sales.helpers import IBAN, TAX_CODE, VAT, customer_step, supply_step


@pytest.mark.parametrize("value,expected", [
    ("IT001E12345678", "IT001E12345678"),
    ("IT012E00123456", "IT012E00123456"),  # another distributor
    ("it020e12345678a", "IT020E12345678A"),  # with check character, lower case typed
    ("IT 204 E 87654321", "IT204E87654321"),
])
def test_F11_pod_good(value, expected):
    assert v.pod(value) == expected


@pytest.mark.parametrize("value", ["IT01E12345678", "IT0012E12345678", "FR001E12345678", "IT001X12345678",
                                   "IT001E1234567", "IT001E12345678AB", "IT001E12345678-", ""])
def test_F11_pod_bad(value):
    with pytest.raises(v.InvalidValue):
        v.pod(value)


@pytest.mark.parametrize("value", ["00881234567890", "0088 1234 5678 90"])
def test_F11_pdr_good(value):
    assert v.pdr(value) == "00881234567890"


@pytest.mark.parametrize("value", ["0088123456789", "008812345678901", "0088123456789A", ""])
def test_F11_pdr_bad(value):
    with pytest.raises(v.InvalidValue):
        v.pdr(value)


def test_F11_tax_code_vat_iban_good():
    assert v.tax_code("rssmra80a01h501u") == TAX_CODE
    assert v.tax_code("BNCLRA85M41F205C") == "BNCLRA85M41F205C"
    assert v.vat_number(VAT) == VAT
    assert v.iban("IT60 X054 2811 1010 0000 0123 456") == IBAN


@pytest.mark.parametrize("fn,value", [(v.tax_code, "RSSMRA80A01H501X"), (v.tax_code, "RSSMRA80A01H50"),
                                      (v.vat_number, "02114560011"), (v.vat_number, "0211456001"),
                                      (v.iban, "IT60X0542811101000000123457"), (v.iban, "IT60X05428")])
def test_F11_tax_code_vat_iban_bad(fn, value):
    with pytest.raises(v.InvalidValue):
        fn(value)


def _form(cls, data, app, **kw):
    from werkzeug.datastructures import MultiDict

    with app.test_request_context("/", method="POST", headers={"Accept-Language": "it"}):
        app.config["WTF_CSRF_ENABLED"] = False
        try:
            form = cls(formdata=MultiDict(data), **kw)
            ok = form.validate()
        finally:
            app.config["WTF_CSRF_ENABLED"] = True
        return ok, {k: [str(e) for e in f.errors] for k, f in form._fields.items() if f.errors}


def test_F11_customer_form_person_and_company(app, db):
    ok, errors = _form(forms.CustomerForm, customer_step(), app)
    assert ok, errors
    ok, errors = _form(forms.CustomerForm, customer_step(tax_code="RSSMRA80A01H501X"), app)
    assert not ok and list(errors) == ["tax_code"]
    ok, errors = _form(forms.CustomerForm, customer_step(kind="company", company_name="Acme Srl",
                                                       last_name="", first_name="", tax_code="",
                                                       vat_number="02114560011"), app)
    assert not ok and list(errors) == ["vat_number"]
    ok, errors = _form(forms.CustomerForm, customer_step(kind="company", company_name="", tax_code="",
                                                       vat_number=VAT), app)
    assert not ok and list(errors) == ["company_name"]


@pytest.mark.parametrize("values,field", [
    ({"service": "gas", "pdr": "123"}, "pdr"),
    ({"service": "gas", "pdr": ""}, "pdr"),
    ({"service": "electricity", "pdr": "", "pod": "IT001E1234", "tariff_option": "Luce Casa Monoraria"}, "pod"),
    ({"service": "electricity", "pdr": "", "pod": "", "tariff_option": "Luce Casa Monoraria"}, "pod"),
    ({"service": "gas", "tariff_option": "Luce Business"}, "tariff_option"),
    ({"annual_consumption": "-5"}, "annual_consumption"),
    ({"post_code": "001"}, "post_code"),
])
def test_F11_supply_form_errors_next_to_the_field(values, field, app, db):
    ok, errors = _form(forms.SupplyForm, supply_step(**values), app)
    assert not ok and list(errors) == [field], errors


def test_F11_supply_form_pod_of_other_distributors(app, db):
    for pod in ("IT012E00123456", "IT020E12345678A"):
        ok, errors = _form(forms.SupplyForm, supply_step(service="electricity", pdr="", pod=pod,
                                                       tariff_option="Luce Casa Bioraria"), app)
        assert ok, errors


def test_F11_payment_form(app, db):
    from tests.sales.helpers import payment_step

    assert _form(forms.PaymentForm, payment_step(), app)[0]
    assert _form(forms.PaymentForm, payment_step(method="postal_slip", iban="", holder=""), app)[0]
    ok, errors = _form(forms.PaymentForm, payment_step(iban="IT60X0542811101000000123457"), app)
    assert not ok and "IBAN" in errors["iban"][0]
    # Any SEPA-zone account (F-06): a German IBAN is accepted, one outside SEPA refused.
    ok, errors = _form(forms.PaymentForm, payment_step(iban="DE89 3704 0044 0532 0130 00"), app)
    assert ok, errors
    ok, errors = _form(forms.PaymentForm, payment_step(iban="BR1500000000000010932840814P2"), app)
    assert not ok
    assert list(errors) == ["iban"]
    assert "SEPA" in errors["iban"][0]
    ok, errors = _form(forms.PaymentForm, payment_step(holder=""), app)
    assert not ok and list(errors) == ["holder"]


def test_F11_supply_point_already_active_is_refused(app, db):
    from tests import factories

    cust = factories.customer()
    factories.supply_point(cust, pdr="00881234567890")
    factories.supply_point(cust, service=__import__("app.models", fromlist=["Service"]).Service.ELECTRICITY,
                           pdr="", pod="IT012E00123456")
    db.session.commit()
    ok, errors = _form(forms.SupplyForm, supply_step(pdr="00881234567890"), app)
    assert not ok and list(errors) == ["pdr"]
    ok, errors = _form(forms.SupplyForm, supply_step(service="electricity", pdr="", pod="IT012E00123456",
                                                   tariff_option="Luce Business"), app)
    assert not ok and list(errors) == ["pod"]
