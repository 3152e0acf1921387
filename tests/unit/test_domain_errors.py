"""Every refusal a service raises for people is a DomainError: a translated message and a field."""
import pytest

from app.services.core.errors import DomainError
from app.services.crm.contacts import ContactError
from app.services.portal.accounts import AccountError
from app.services.portal.direct_debit import MandateError
from app.services.portal.invoice_delivery import DeliveryError, parse_addresses
from app.services.portal.readings import ReadingError
from app.services.portal.requests import RequestError


@pytest.mark.parametrize("cls,field", [(AccountError, None), (RequestError, None), (MandateError, None),
                                       (ContactError, None), (DeliveryError, "addresses"), (ReadingError, "value")])
def test_service_refusals_share_one_base_with_their_default_field(cls, field):
    err = cls("Messaggio")
    assert isinstance(err, DomainError) and str(err) == "Messaggio" and err.field == field
    assert cls("x", "other").field == "other"


def test_a_refusal_carries_the_translated_message(app):
    with app.test_request_context(headers={"Accept-Language": "it"}):
        with pytest.raises(DomainError) as caught:
            parse_addresses("not-an-address")
    assert caught.value.field == "addresses" and "non è un indirizzo e-mail valido" in str(caught.value)
