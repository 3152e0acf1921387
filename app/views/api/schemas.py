"""The API's documents as marshmallow schemas: they dump every answer and describe it in the
OpenAPI document (apispec's marshmallow plugin), so the two cannot drift apart."""
from __future__ import annotations

import datetime as dt

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.i18n import lazy_gettext as _l
from app.models import ExportStatus, InvoiceStatus, InvoiceType, Service, TokenScope


class UtcDateTime(fields.DateTime):
    """A moment in ISO 8601 with its zone: the database's naive UTC values are UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def Money(**kw):  # noqa: N802 - a field factory, used like a field class
    """An amount in euros as a decimal string ("12.50"): exact, unlike a JSON number."""
    return fields.Decimal(as_string=True, places=2, metadata={"type": "string", "format": "decimal",
                                                              "example": "12.50"}, **kw)


class Problem(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True, metadata={"description": "In the language of Accept-Language"})
    instance = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.String(),
                         metadata={"description": "Field name -> message, for invalid input"})


class Links(Schema):
    self = fields.String(required=True)
    first = fields.String(required=True)
    last = fields.String(required=True)
    next = fields.String()
    prev = fields.String()


class PageMeta(Schema):
    page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    links = fields.Nested(Links, required=True)


class Status(Schema):
    portal = fields.String(required=True, validate=validate.OneOf(["ok"]))
    billing = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    data_aligned_at = UtcDateTime(required=True, allow_none=True,
                                      metadata={"description": "When the data shown last agreed with billing (UTC)"})


# No control characters anywhere in JSON (app.views.input_guard refuses them with a 400): the
# document says so with patterns, the same in marshmallow (match) and JSON Schema (search).
_CC = "\\u0000-\\u001f\\u007f-\\u009f"
_PLAIN = rf"^[^{_CC}]*$"
# ... and with a visible character somewhere.
_SOMETHING = rf"^[^{_CC}]*[^\s{_CC}][^{_CC}]*$"
# An address as people type it.
_EMAIL = rf"^[^@\s{_CC}]+@[^@\s{_CC}]+\.[^@\s{_CC}]+$"
# At least one way to reach the visitor (the service's rule, in the document too).
CONTACT_REQUIRED = {"anyOf": [{"required": ["email"]}, {"required": ["phone"]},
                              {"required": ["postal_address"]}]}


class InformationRequestIn(Schema):
    name = fields.String(required=True, validate=[validate.Length(min=2, max=160), validate.Regexp(_SOMETHING)])
    question = fields.String(required=True, validate=[validate.Length(min=10, max=4000), validate.Regexp(_SOMETHING)])
    email = fields.String(validate=[validate.Length(max=254), validate.Regexp(_EMAIL)],
                          metadata={"example": "giulia@example.com"})
    phone = fields.String(validate=[validate.Length(max=30), validate.Regexp(_SOMETHING)])
    postal_address = fields.String(validate=[validate.Length(max=300), validate.Regexp(_SOMETHING)])
    website = fields.String(load_default="", validate=validate.Regexp(_PLAIN),
                            metadata={"description": "Leave empty (a trap for robots)"})


class InformationRequestOut(Schema):
    reference = fields.String(required=True, metadata={"description": "Empty when not stored"})
    detail = fields.String(required=True)


class Profile(Schema):
    code = fields.String(required=True)
    kind = fields.String(required=True)
    name = fields.String(required=True)
    tax_code = fields.String(required=True)
    vat_number = fields.String(required=True)
    address = fields.String(required=True)
    post_code = fields.String(required=True)
    city = fields.String(required=True)
    province = fields.String(required=True)
    phone = fields.String(required=True)
    email = fields.String(required=True)
    language = fields.String(required=True)
    data_as_of = UtcDateTime(required=True, allow_none=True)


class Balance(Schema):
    amount_due = Money(required=True)
    currency = fields.String(required=True, validate=validate.OneOf(["EUR"]))


class Meter(Schema):
    id = fields.Integer(required=True)
    serial = fields.String(required=True)
    digits = fields.Integer(required=True)
    has_corrector = fields.Boolean(required=True)


class SupplyPoint(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    service = fields.String(required=True, validate=validate.OneOf([s.value for s in Service]))
    point_code = fields.String(required=True, metadata={"description": "PDR (gas) or POD (electricity)"})
    address = fields.String(required=True)
    city = fields.String(required=True)
    status = fields.String(required=True)
    reading_unit = fields.String(required=True)
    consumption_unit = fields.String(required=True)
    meters = fields.List(fields.Nested(Meter), required=True)


class SupplyPointList(Schema):
    items = fields.List(fields.Nested(SupplyPoint), required=True)


class Invoice(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    invoice_date = fields.Date(required=True)
    due_date = fields.Date(required=True)
    invoice_type = fields.String(required=True, validate=validate.OneOf([t.value for t in InvoiceType]))
    amount = Money(required=True)
    amount_paid = Money(required=True)
    amount_due = Money(required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in InvoiceStatus]))
    consumption = fields.Integer(required=True, allow_none=True)
    unit = fields.String(required=True)
    pdf = fields.String(required=True, metadata={"description": "Address of the PDF"})


class InvoiceDetail(Invoice):
    supply_point_id = fields.Integer(required=True, allow_none=True)
    period_from = fields.Date(required=True, allow_none=True)
    period_to = fields.Date(required=True, allow_none=True)


class InvoicePage(PageMeta):
    items = fields.List(fields.Nested(Invoice), required=True)
    years = fields.List(fields.Integer(), required=True)
    balance = Money(required=True)
    due = Money(required=True)  # left to pay on the invoices matching the filter


ZIP_CHOICE_MAX = 1000  # a larger choice is "all"


class InvoiceZipIn(Schema):
    invoices = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)),
                           validate=validate.Length(min=1, max=ZIP_CHOICE_MAX),
                           metadata={"description": "The invoices' ids. Up to 24: the ZIP at once (200); "
                                                    "more: prepared in the background (202)"})
    all = fields.Boolean(load_default=False, metadata={
        "description": "true: all the customer's invoices, prepared in the background (202); "
                       "`invoices` is then ignored"})

    @validates_schema
    def _something_chosen(self, data, **_kw):
        if not data.get("all") and not data.get("invoices"):
            raise ValidationError(_l("Choose at least one invoice."), "invoices")


# The document says the same as `_something_chosen`.
ZIP_CHOICE_REQUIRED = {"anyOf": [{"required": ["invoices"]},
                                 {"required": ["all"], "properties": {"all": {"const": True}}}]}


class ExportLinks(Schema):
    self = fields.String(required=True)
    zip = fields.String(metadata={"description": "The ZIP's address, while it can be downloaded"})


class Export(Schema):
    """An invoice ZIP prepared in the background, with its progress."""

    id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in ExportStatus]))
    status_label = fields.String(required=True, metadata={"description": "In the language of Accept-Language"})
    total = fields.Integer(required=True, metadata={"description": "Invoices in the ZIP"})
    done = fields.Integer(required=True, metadata={"description": "Invoices already added"})
    size = fields.Integer(required=True, metadata={"description": "The ZIP's size in bytes (0 until ready)"})
    created_at = UtcDateTime(required=True)
    ready_at = UtcDateTime(required=True, allow_none=True)
    expires_at = UtcDateTime(required=True, allow_none=True,
                             metadata={"description": "Until when the ZIP can be downloaded"})
    links = fields.Nested(ExportLinks, required=True)


class Reading(Schema):
    id = fields.Integer(required=True)
    date = fields.Date(required=True)
    meter = fields.String(required=True)
    value = fields.Integer(required=True)
    corrector_value = fields.Integer(required=True, allow_none=True)
    unit = fields.String(required=True)
    type = fields.String(required=True)
    source = fields.String(required=True)
    status = fields.String(required=True)
    consumption = fields.Integer(required=True, allow_none=True)
    consumption_unit = fields.String(required=True)


class ReadingPage(PageMeta):
    items = fields.List(fields.Nested(Reading), required=True)


class ReadingIn(Schema):
    meter_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    reading_date = fields.Date(required=True)
    value = fields.Integer(required=True, validate=validate.Range(min=0, max=10**12))
    corrector_value = fields.Integer(load_default=None, allow_none=True,
                                     validate=validate.Range(min=0, max=10**12))
    confirm_implausible = fields.Boolean(load_default=False, metadata={
        "description": "Confirm a consumption far above the usual one"})
    confirm_rollover = fields.Boolean(load_default=False, metadata={
        "description": "Confirm that the meter or the corrector passed zero"})


class ReadingAccepted(Schema):
    reading = fields.Nested(Reading, required=True)
    request_reference = fields.String(required=True)
    flagged = fields.Boolean(required=True, metadata={"description": "Staff will check the consumption"})


class ConsumptionPoint(Schema):
    date_from = fields.Date(required=True, data_key="from")
    date_to = fields.Date(required=True, data_key="to")
    days = fields.Integer(required=True)
    consumption = fields.Integer(required=True)
    unit = fields.String(required=True)
    daily = fields.Float(required=True, allow_none=True)


class ConsumptionSeries(Schema):
    supply_point = fields.String(required=True)
    items = fields.List(fields.Nested(ConsumptionPoint), required=True)


class Request(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    kind = fields.String(required=True)
    kind_label = fields.String(required=True)
    subject = fields.String(required=True)
    status = fields.String(required=True)
    status_label = fields.String(required=True)
    waiting_for_billing = fields.Boolean(required=True)
    created_at = UtcDateTime(required=True)


class RequestPage(PageMeta):
    items = fields.List(fields.Nested(Request), required=True)


class TokenInfo(Schema):
    """Documented for completeness: the token that made the call."""

    name = fields.String(required=True)
    scope = fields.String(required=True, validate=validate.OneOf([s.value for s in TokenScope]))
    expires_at = UtcDateTime(required=True)
