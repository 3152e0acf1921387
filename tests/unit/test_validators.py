"""Identifier checks used by the portal (F-04, F-06) and contract entry (F-11)."""
import pytest

from app import validators as v


@pytest.mark.parametrize("value", ["RSSMRA80A01H501U", "rssmra80a01h501u", "01234567890"[:0] + "00743110157"])
def test_valid_tax_codes(value, app):
    with app.test_request_context():
        assert v.tax_code(value)


@pytest.mark.parametrize("value", ["RSSMRA80A01H501X", "RSSMRA80A01H50", "", "00743110158"])
def test_invalid_tax_codes(value, app):
    with app.test_request_context(), pytest.raises(v.InvalidValue):
        v.tax_code(value)


def test_vat_number(app):
    with app.test_request_context():
        assert v.vat_number("00743110157") == "00743110157"
        with pytest.raises(v.InvalidValue):
            v.vat_number("00743110158")


def test_iban(app):
    with app.test_request_context():
        assert v.iban("it60 x054 2811 1010 0000 0123 456") == "IT60X0542811101000000123456"
        with pytest.raises(v.InvalidValue):
            v.iban("IT61X0542811101000000123456")
        # Any SEPA country; a valid IBAN outside the SEPA area is refused.
        assert v.iban("DE89 3704 0044 0532 0130 00") == "DE89370400440532013000"
        with pytest.raises(v.InvalidValue, match="SEPA"):
            v.iban("BR1500000000000010932840814P2")


@pytest.mark.parametrize("value", ["IT001E12345678", "IT012E00000001", "IT255E87654321A", "it020e12345678"])
def test_valid_pods_of_several_distributors(value, app):
    with app.test_request_context():
        assert v.pod(value).startswith("IT")


@pytest.mark.parametrize("value", ["IT01E12345678", "IT001X12345678", "IT001E1234567", "FR001E12345678"])
def test_invalid_pods(value, app):
    with app.test_request_context(), pytest.raises(v.InvalidValue):
        v.pod(value)


def test_pdr(app):
    with app.test_request_context():
        assert v.pdr("0012 3456 7890 12") == "00123456789012"
        for bad in ("1234567890123", "123456789012345", "1234567890123A"):
            with pytest.raises(v.InvalidValue):
                v.pdr(bad)


def test_bar_chart_is_plain_svg():
    from app.views.charts import bar_chart

    svg = str(bar_chart(["gen", "feb"], [10, 20], unit="Smc", title="Consumi <x>"))
    assert svg.startswith("<svg") and svg.count("<rect") == 2 and "&lt;x&gt;" in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")
