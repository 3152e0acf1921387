"""Billing's refusals as staff read them (F-52): known messages translated, the original kept.

A refusal is stored as billing answered it (`OutboxMessage.last_error`, the `BillingError` text:
`[fault] Service.Operation: <billing's message>`, SAP's ending in `(CLASS NUMBER)`). When the
message is one we know — by SAP message class and number, or by the text NAV uses for the same
refusal — staff also read what it means in their language.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from app.i18n import lazy_gettext as _l


# name -> what it means for staff. SAP IS-U message ids and NAV fault texts map onto these names.
MEANINGS = {
    "customer_missing": _l("Billing does not know this customer (deleted or merged there?)."),
    "supply_point_missing": _l("Billing does not know this supply point."),
    "meter_missing": _l("Billing has no such meter installed at this supply point."),
    "reading_digits": _l("The reading has more digits than the meter's dial."),
    "reading_incomplete": _l("Billing wants both a reading date and a reading value."),
    "iban_invalid": _l("Billing found the IBAN not valid."),
    "mandate_state": _l("Billing cannot change this direct-debit mandate in its current state."),
    "key_reused": _l("The write's reference was already used by billing for another write."),
    "tax_number": _l("Billing found the tax code or VAT number not valid."),
    "delivery_mode": _l("Billing accepts invoices by e-mail only as a link or a PDF."),
    "too_many_addresses": _l("Billing accepts at most four e-mail addresses per supply point."),
    "commission_amount": _l("Billing found a commission amount not valid."),
}

# SAP message class and number -> meaning
SAP_MESSAGES = {
    ("R1", "140"): "customer_missing",
    ("R1", "210"): "tax_number",
    ("AH", "398"): "supply_point_missing",
    ("EL", "012"): "meter_missing",
    ("EL", "305"): "reading_digits",
    ("EL", "150"): "reading_incomplete",
    ("FKK_SEPA", "025"): "iban_invalid",
    ("FKK_SEPA", "040"): "mandate_state",
    ("ZPORTAL", "002"): "key_reused",
}

# NAV fault text -> meaning
NAV_MESSAGES = [
    (re.compile(r"The Customer does not exist", re.I), "customer_missing"),
    (re.compile(r"The Supply Point does not exist", re.I), "supply_point_missing"),
    (re.compile(r"The Meter does not exist", re.I), "meter_missing"),
    (re.compile(r"does not fit a meter", re.I), "reading_digits"),
    (re.compile(r"readingDate and readingValue must have a value", re.I), "reading_incomplete"),
    (re.compile(r"IBAN is not valid", re.I), "iban_invalid"),
    (re.compile(r"Mandate does not exist|only a pending mandate", re.I), "mandate_state"),
    (re.compile(r"idempotency key .* already used", re.I), "key_reused"),
    (re.compile(r"Invoice delivery mode must be", re.I), "delivery_mode"),
    (re.compile(r"At most four e-mail addresses", re.I), "too_many_addresses"),
    (re.compile(r"commission amount is not valid", re.I), "commission_amount"),
]

_STORED = re.compile(r"^\[(?P<kind>[a-z]+)\] (?P<where>[^:]*): (?P<message>.*)$", re.S)
_SAP_ID = re.compile(r"\((?P<cls>[A-Z0-9_/]+) (?P<number>\d{3})\)\s*$")


@dataclass(frozen=True, slots=True)
class Refusal:
    original: str  # billing's own words
    code: str = ""  # SAP "CLASS NUMBER", when billing gave one
    meaning: object | None = None  # the translated text (lazy), when the message is known

    @property
    def known(self) -> bool:
        return self.meaning is not None


def explain(stored: str | None) -> Refusal | None:
    """A stored billing error read back: billing's message, its id, its meaning if known."""
    if not stored:
        return None
    m = _STORED.match(stored.strip())
    message = m.group("message") if m else stored.strip()
    code, name = "", None
    sap = _SAP_ID.search(message)
    if sap:
        code = f"{sap.group('cls')} {sap.group('number')}"
        name = SAP_MESSAGES.get((sap.group("cls"), sap.group("number")))
    if name is None:
        name = next((n for pattern, n in NAV_MESSAGES if pattern.search(message)), None)
    return Refusal(message, code, MEANINGS.get(name) if name else None)
