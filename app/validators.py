"""Validation of Italian and SEPA identifiers, by libraries (python-stdnum, schwifty).

Plain functions return the normalised value or raise `InvalidValue` with a translated message;
the WTForms validators below wrap them for forms (the field's data is replaced by the
normalised value). PDR and POD have no library: their formats are checked here by hand.
"""
from __future__ import annotations

import re

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.eu import at_02
from stdnum.it import codicefiscale, iva
from wtforms.validators import ValidationError

from app.clock import local_today
from app.i18n import lazy_gettext as _l


class InvalidValue(ValueError):
    """A value that fails its check; `str()` is the message for the user."""


def tax_code(value: str) -> str:
    """An Italian codice fiscale (16 characters, check letter) or, for companies, 11 digits."""
    compact = codicefiscale.compact(value or "")
    try:
        if len(compact) == 11:
            return iva.validate(compact)
        return codicefiscale.validate(compact)
    except StdnumError:
        raise InvalidValue(_l("This tax code is not valid: check the characters and the final check letter.")) from None


def vat_number(value: str) -> str:
    """An Italian partita IVA (11 digits with check digit)."""
    try:
        return iva.validate(value or "")
    except StdnumError:
        raise InvalidValue(_l("This VAT number is not valid: it has 11 digits and a check digit.")) from None


def sepa_creditor_id(value: str) -> str:
    """A SEPA creditor identifier (country, check digits, business code, national id)."""
    try:
        return at_02.validate(value or "")
    except StdnumError:
        raise InvalidValue(_l("This SEPA creditor identifier is not valid: it starts with the country code "
                              "and two check digits, e.g. IT66ZZZA1B2C3D4E5F6G7H8.")) from None


def iban(value: str) -> str:
    """An IBAN of the SEPA zone (check digits, national format, country in the SEPA scheme).

    Any SEPA country is accepted: a payee may not demand an account in a given country
    (Regulation (EU) 260/2012, art. 9)."""
    try:
        parsed = IBAN(value or "")
    except SchwiftyException:
        raise InvalidValue(_l("This IBAN is not valid: check the digits.")) from None
    if not parsed.in_sepa_zone:
        raise InvalidValue(_l("This IBAN is of a bank outside the SEPA area: direct debit needs an account "
                              "in a SEPA country."))
    return str(parsed.compact)


def bic(value: str) -> str:
    """A bank's BIC (SWIFT code): 8 or 11 characters with a real country code."""
    try:
        return str(BIC(value or "").compact)
    except SchwiftyException:
        raise InvalidValue(_l("This BIC is not valid: it has 8 or 11 letters and digits, e.g. BPMOIT22.")) from None


_PDR = re.compile(r"^\d{14}$")
# IT + 3-digit distributor code + E + 8 digits, optionally one check character.
_POD = re.compile(r"^IT\d{3}E\d{8}[0-9A-Z]?$")


def pdr(value: str) -> str:
    """A gas supply point code: exactly 14 digits."""
    compact = re.sub(r"\s", "", value or "")
    if not _PDR.match(compact):
        raise InvalidValue(_l("The PDR has exactly 14 digits."))
    return compact


def pod(value: str) -> str:
    """An electricity supply point code: IT, 3-digit distributor, E, 8 digits (+ check char)."""
    compact = re.sub(r"\s", "", value or "").upper()
    if not _POD.match(compact):
        raise InvalidValue(_l("The POD is IT, the 3-digit distributor code, E and 8 digits (e.g. IT001E12345678)."))
    return compact


def point_key(value: str) -> str:
    """A supply point code as it is compared, however it was written: no spaces, upper case,
    and a POD without its optional check character ("it001e 12345678a" -> "IT001E12345678").
    Used on both sides of a comparison: what is typed and what billing holds."""
    compact = re.sub(r"\s", "", value or "").upper()
    if _POD.match(compact):
        return compact[:14]
    return compact


def email_address(value: str, *, smtputf8: bool | None = None) -> str:
    """An e-mail address, checked by email-validator (IDNA 2008 domains, no DNS lookup);
    returns it normalised (domain lower-cased). A non-ASCII local part is accepted only when
    `smtputf8` is true (the mail server advertises SMTPUTF8); None leaves that to the caller."""
    from email_validator import EmailNotValidError, validate_email

    text = (value or "").strip()
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        raise InvalidValue(_l("%(address)s is not a valid e-mail address.", address=text)) from None
    if result.ascii_email is None and smtputf8 is False:
        raise InvalidValue(_l("%(address)s has accented or non-Latin letters before the @, which our mail "
                              "server cannot deliver: please give another address.", address=text))
    return result.normalized


def ascii_address(value: str) -> str | None:
    """The address as it goes on the wire without SMTPUTF8 (domain IDNA-encoded), or None when
    its local part is not ASCII."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False, allow_smtputf8=True).ascii_email
    except EmailNotValidError:
        return None


class Checked:
    """WTForms validator running one of the functions above and keeping its normalised value."""

    def __init__(self, check, optional: bool = False, **kwargs):
        self.check, self.optional, self.kwargs = check, optional, kwargs

    def __call__(self, form, field):
        if self.optional and not (field.data or "").strip():
            field.data = ""
            return
        try:
            field.data = self.check(field.data, **self.kwargs)
        except InvalidValue as exc:
            raise ValidationError(str(exc)) from None


# --- Italian addresses and people: post code, province, date of birth ----------------------------

_CAP = re.compile(r"^\d{5}$")

# The official two-letter codes (sigle) of Italy's 107 provinces and metropolitan cities, as on
# ISTAT's list; the Sardinian codes in use again since the 2025 reorganisation are accepted too.
PROVINCES = frozenset("""
AG AL AN AO AP AQ AR AT AV BA BG BI BL BN BO BR BS BT BZ CA CB CE CH CL CN CO CR CS CT CZ EN FC
FE FG FI FM FR GE GO GR IM IS KR LC LE LI LO LT LU MB MC ME MI MN MO MS MT NA NO NU OR PA PC PD
PE PG PI PN PO PR PT PU PV PZ RA RC RE RG RI RM RN RO SA SI SO SP SR SS SU SV TA TE TN TO TP TR
TS TV UD VA VB VC VE VI VR VT VV
""".split())
SARDINIA_2025 = frozenset({"CI", "OG", "OT", "VS"})

ADULT_AGE = 18
OLDEST_AGE = 120


def post_code(value: str) -> str:
    """An Italian post code (CAP): exactly five digits."""
    compact = re.sub(r"\s", "", value or "")
    if not _CAP.match(compact):
        raise InvalidValue(_l("The post code (CAP) has exactly 5 digits, e.g. 00184."))
    return compact


def province(value: str) -> str:
    """An Italian province by its official two-letter code (RM, MI, TO …), upper-cased."""
    code = (value or "").strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise InvalidValue(_l("Write the province as its two-letter code, e.g. RM for Rome or MI for Milan."))
    if code not in PROVINCES and code not in SARDINIA_2025:
        raise InvalidValue(_l("%(code)s is not the code of an Italian province: write its two letters, "
                              "e.g. RM for Rome or MI for Milan.", code=code))
    return code


def birth_date(value, *, today=None):
    """A plausible date of birth for a customer: an adult (18 or older), not over 120 years."""
    import datetime as dt

    if value is None:
        return None
    today = today or local_today()
    if value > today:
        raise InvalidValue(_l("The date of birth cannot be in the future."))
    age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
    if age < ADULT_AGE:
        raise InvalidValue(_l("The account holder must be of age: the date of birth gives less than 18 years."))
    if age > OLDEST_AGE:
        raise InvalidValue(_l("Please check the date of birth: it gives more than 120 years."))
    return value

