"""How a stored value reads on a staff page (back office and /sales/), whatever its type.

`readable(value)` turns any value into text a person reads: nothing → "—", booleans → Sì/No,
date-times in Europe/Rome in one format per locale, dates by locale, amounts in the locale's
currency format, enum members by their translated label, mappings as label/value lines with
translated key labels (sensitive ones masked), lists joined. `column_formatter(model, column)`
picks the right one for a model column (an enum column gives FAB its value: the label is looked
up from the column's enum class). Key and value labels live here, in one place, so a page never
prints a raw key: outbox operations, run outcomes, payload keys (e-mail kinds have their titles
in app.services.mailing.templates).
"""
from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, has_app_context
from markupsafe import Markup, escape

from app.formatting import format_currency, format_date, format_decimal, format_moment
from app.i18n import gettext as _, lazy_gettext as _l
from app.models.base import LabeledEnum, Money
from app.permissions import can_see
from app.services.core.masking import mask, sensitive_kind

EMPTY = "—"

# Keys of stored mappings (request data, run counts, billing's answers) and raw words, by name.
KEY_LABELS = {
    "action": _l("Action"), "address": _l("Address"), "amount": _l("Amount"), "bank": _l("Bank"),
    "branch": _l("Branch"), "branch_address": _l("Branch address"), "change": _l("Change"),
    "city": _l("City"), "code": _l("Code"), "confirmed": _l("Confirmed"), "consumption": _l("Consumption"),
    "corrector_value": _l("Corrector reading"), "email": _l("E-mail"), "emails": _l("E-mail addresses"),
    "enabled": _l("E-mail delivery on"), "entry_no": _l("Billing entry"), "error": _l("Error"),
    "fields": _l("Fields changed"), "holder": _l("Account holder"), "holder_tax_code": _l("Holder's tax code"),
    "iban": _l("IBAN"), "invoice": _l("Invoice"), "invoice_number": _l("Invoice number"), "lines": _l("Lines"),
    "mandate_reference": _l("Mandate reference"), "meter": _l("Meter"), "mode": _l("Mode"),
    "name": _l("Name"), "number": _l("Number"), "phone": _l("Phone"), "postal_address": _l("Postal address"),
    "post_code": _l("Post code"), "previous": _l("Previous value"), "province": _l("Province"),
    "question": _l("Question"), "reading_date": _l("Reading date"), "reason": _l("Reason"),
    "recipients": _l("Addresses"), "supply_point_code": _l("Supply point"), "tax_code": _l("Tax code"),
    "username": _l("Username"), "value": _l("Reading"), "vat_number": _l("VAT number"),
    "web_code_invoice": _l("Invoice of the web code"), "when": _l("When"), "accepted": _l("Accepted"),
    "status": _l("Status"), "kind": _l("Kind"), "subject": _l("Subject"), "assignee": _l("Assignee"),
    "deadline": _l("Deadline"), "starts_at": _l("When"), "ends_at": _l("Until"), "location": _l("Where"),
    "cancelled": _l("Cancelled"), "notes": _l("Notes"), "note": _l("Note"),
    "first_name": _l("First name"), "last_name": _l("Last name"), "company_name": _l("Company name"),
    "birth_date": _l("Date of birth"), "customer_code": _l("Customer code"), "reservation_number": _l("Billing reservation"),
    # run counts (alignment, jobs, e-mails)
    "customers": _l("Customers"), "supply_points": _l("Supply points"), "meters": _l("Meters"),
    "readings": _l("Readings"), "invoices": _l("Invoices"), "payments": _l("Payments"),
    "sent": _l("Sent"), "failed": _l("Failed"), "retry": _l("To retry"), "messages": _l("Messages"),
    "delivered": _l("Delivered"), "refused": _l("Refused"), "recovered": _l("Recovered"),
    "overdue": _l("Overdue"), "reclaimed": _l("Taken back"), "uncertain": _l("Uncertain"),
    "already_sent": _l("Sent before"), "reminder": _l("Reminders"),
    "linked": _l("Linked"), "invoiceable": _l("Invoiceable"), "queued": _l("Queued"),
    "skipped": _l("Skipped"), "total": _l("Total"), "created": _l("Created"), "updated": _l("Updated"),
    "processed": _l("Processed"), "left": _l("Left"), "pending": _l("Waiting"),
    "purged": _l("Contents deleted"),
    # prospects (F-17)
    "town": _l("Town"), "source": _l("Source"), "lost_reason": _l("Why it was lost"),
    "lost_note": _l("Note on the loss"), "consent_phone": _l("Consent to phone calls"),
    "consent_email": _l("Consent to e-mails"), "consent_sms": _l("Consent to SMS"),
}

# Outbox operations (what is written to billing).
OPERATION_LABELS = {
    "create_contract": _l("New contract"), "update_customer": _l("Customer data change"),
    "update_mailing_address": _l("Mailing address change"), "set_invoice_delivery": _l("Invoice by e-mail"),
    "request_mandate": _l("Direct debit request"), "revoke_mandate": _l("Direct debit revocation"),
    "submit_reading": _l("Self-reading"), "export_commissions": _l("Commissions export"),
}

# Plain status words of runs, e-mails and jobs (not enums).
STATUS_LABELS = {
    "ok": _l("Completed"), "failed": _l("Failed"), "running": _l("Running"), "interrupted": _l("Interrupted"),
    "pending": _l("Queued"), "sending": _l("Sending"), "sent": _l("Sent"),
}
TRIGGER_LABELS = {"job": _l("Scheduler"), "cli": _l("Command line"), "login": _l("Customer login"),
                  "manual": _l("By hand")}


def label_of(key: str, labels: dict | None = None) -> str:
    """The translated label of a stored key (a humanised key when none is registered)."""
    table = labels if labels is not None else KEY_LABELS
    if key in table:
        return str(table[key])
    return str(key).replace("_", " ").capitalize()


def language_name(code) -> str:
    if not code:
        return EMPTY
    languages = current_app.config.get("LANGUAGES", {}) if has_app_context() else {}
    return languages.get(code, {}).get("name", code)


def yes_no(value) -> str:
    if value is None:
        return EMPTY
    return _("Yes") if value else _("No")


def readable(value, *, clear: bool = False, key: str = ""):
    """Any value as text for a staff page; `key` names the field (masking, languages); sensitive
    values are masked unless `clear` and the user holds the permission of their kind."""
    if value is None or value == "" or (isinstance(value, (list, tuple, dict, set)) and not value):
        return EMPTY
    kind = sensitive_kind(key) if key else None
    if kind and isinstance(value, str):
        return value if clear and can_see(kind) else mask(value)
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, LabeledEnum):
        return str(value.label)
    if isinstance(value, enum.Enum):
        return label_of(str(value.value))
    if isinstance(value, dt.datetime):
        return format_moment(value)
    if isinstance(value, dt.date):
        return format_date(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, float):
        return format_decimal(Decimal(str(value)))
    if isinstance(value, dict):
        return mapping(value, clear=clear)
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(readable(v, clear=clear, key=key)) for v in value)
    if key == "language":
        return language_name(value)
    if isinstance(value, str) and key:
        return _iso_text(value)
    return value if isinstance(value, (int, str, Markup)) else str(value)


def _iso_text(value: str) -> str:
    """A date or date-time kept as ISO text inside stored data, read back by locale."""
    if len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-" and value[:4].isdigit():
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if len(value) == 10:
            return format_date(moment.date())
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return format_moment(moment)
    return value


def mapping(value: dict, *, clear: bool = False, labels: dict | None = None) -> Markup:
    """A stored mapping as label/value lines, keys translated, sensitive values masked."""
    rows = []
    for key, item in value.items():
        shown = readable(item, clear=clear, key=str(key))
        rows.append(f"<tr><th scope=\"row\">{escape(label_of(str(key), labels))}</th>"
                    f"<td>{escape(shown)}</td></tr>")
    return Markup('<table class="table table-condensed readable-data">' + "".join(rows) + "</table>")


def choice(labels: dict):
    """A formatter for a column of plain stored words (run outcomes, operations, e-mail kinds)."""
    def fmt(value):
        if value in (None, ""):
            return EMPTY
        return str(labels[value]) if value in labels else label_of(str(value))
    return fmt


def money(value):
    return EMPTY if value is None else format_currency(value, "EUR")


def _column(model, name: str):
    """The SQLAlchemy column (or None) behind a view column, following dotted relations."""
    mapper = sa.inspect(model)
    parts = name.split(".")
    for part in parts[:-1]:
        rel = mapper.relationships.get(part)
        if rel is None:
            return None
        mapper = rel.mapper
    attr = mapper.attrs.get(parts[-1])
    if attr is None or not hasattr(attr, "columns"):
        return None
    return attr.columns[0]


def column_formatter(model, name: str, *, clear: bool):
    """The formatter of one view column by its type: on lists (`clear` False) sensitive values
    are always masked; on a detail page shown in clear to holders of the permission."""
    column = _column(model, name)
    key = name.split(".")[-1]
    if column is not None:
        type_ = column.type
        enum_cls = getattr(type_, "enum_class", None)
        if enum_cls is not None and issubclass(enum_cls, LabeledEnum):
            def enum_label(value):
                if value in (None, ""):
                    return EMPTY
                try:
                    return str(enum_cls(value).label)
                except ValueError:
                    return label_of(str(value))
            return enum_label
        if isinstance(type_, sa.Numeric) and (type_ is Money or (type_.precision, type_.scale) == (12, 2)):
            return money
    return lambda value: readable(value, clear=clear, key=key)


def wrap(formatter):
    """A view's own formatter, with nothing shown as "—"."""
    def fmt(value):
        shown = formatter(value)
        return EMPTY if shown is None or shown == "" else shown
    return fmt


__all__ = ["readable", "mapping", "choice", "money", "yes_no", "label_of", "language_name",
           "column_formatter", "wrap", "EMPTY", "KEY_LABELS", "OPERATION_LABELS",
           "STATUS_LABELS", "TRIGGER_LABELS", "mask"]
