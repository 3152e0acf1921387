"""Back-office views of the billing data (local copy): list, search, show."""
from __future__ import annotations

from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from markupsafe import Markup
from wtforms import SelectField

from app.i18n import lazy_gettext as _l
from app.models import (ApiToken, Customer, Invoice, InvoiceLine, Meter, MeterReading, Payment,
                        SupplyPoint)

from app.roles import BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER, READ

from app.formatting import format_moment

from .base import ReadOnlyView, money_formatter

_ALL = ("CustomerView", "SupplyPointView", "MeterView", "MeterReadingView", "InvoiceView",
        "PaymentView", "ApiTokenView")
ROLE_GRANTS = {
    MANAGER: {v: READ for v in _ALL},
    BACK_OFFICE: {v: READ for v in _ALL},
    CREDIT_CHECK: {v: READ for v in ("CustomerView", "SupplyPointView", "InvoiceView", "PaymentView")},
    CALL_CENTER: {v: READ for v in _ALL},
}


class InvoiceLineView(ReadOnlyView):
    datamodel = SQLAInterface(InvoiceLine)
    list_columns = ["line_no", "description", "quantity", "unit_price", "vat_percent", "amount"]
    label_columns = {"line_no": _l("Line"), "description": _l("Description"),
                     "quantity": _l("Quantity"), "unit_price": _l("Unit price"),
                     "vat_percent": _l("VAT %"), "amount": _l("Amount")}
    formatters_columns = {"amount": money_formatter}


class PaymentView(ReadOnlyView):
    datamodel = SQLAInterface(Payment)
    list_title = show_title = _l("Payments")
    list_columns = ["payment_date", "invoice", "customer", "amount", "method", "paid_at"]
    show_columns = ["billing_entry_no", "payment_date", "invoice", "customer", "amount", "method", "paid_at"]
    search_columns = ["payment_date", "method", "paid_at"]
    base_order = ("payment_date", "desc")
    label_columns = {"billing_entry_no": _l("Billing entry"), "payment_date": _l("Date"),
                     "invoice": _l("Invoice"), "customer": _l("Customer"), "amount": _l("Amount"),
                     "method": _l("Method"), "paid_at": _l("Where paid")}
    formatters_columns = {"amount": money_formatter}


class InvoiceView(ReadOnlyView):
    datamodel = SQLAInterface(Invoice)
    list_title = show_title = _l("Invoices")
    list_columns = ["number", "invoice_date", "customer", "supply_point", "invoice_type", "amount",
                    "amount_paid", "due_date", "status"]
    show_columns = ["number", "invoice_date", "due_date", "customer", "supply_point", "invoice_type",
                    "period_from", "period_to", "consumption", "unit", "amount", "amount_paid", "status",
                    "synced_at"]
    search_columns = ["number", "invoice_date", "due_date", "status", "invoice_type"]
    base_order = ("invoice_date", "desc")
    related_views = [InvoiceLineView, PaymentView]
    label_columns = {"number": _l("Number"), "invoice_date": _l("Date"), "due_date": _l("Due date"),
                     "customer": _l("Customer"), "supply_point": _l("Supply point"),
                     "invoice_type": _l("Type"), "period_from": _l("Period from"),
                     "period_to": _l("Period to"), "consumption": _l("Consumption"),
                     "unit": _l("Unit"), "amount": _l("Amount"), "amount_paid": _l("Amount paid"),
                     "status": _l("Status"), "synced_at": _l("Aligned at")}
    formatters_columns = {"amount": money_formatter, "amount_paid": money_formatter}


class MeterReadingView(ReadOnlyView):
    datamodel = SQLAInterface(MeterReading)
    list_title = show_title = _l("Meter readings")
    list_columns = ["reading_date", "supply_point", "meter", "value", "corrector_value",
                    "reading_type", "source", "status", "consumption", "flagged"]
    show_columns = list_columns + ["billing_entry_no", "created_at"]
    search_columns = ["reading_date", "reading_type", "source", "status", "flagged"]
    base_order = ("reading_date", "desc")
    label_columns = {"reading_date": _l("Date"), "supply_point": _l("Supply point"),
                     "meter": _l("Meter"), "value": _l("Reading"), "corrector_value": _l("Corrector"),
                     "reading_type": _l("Type"), "source": _l("Source"), "status": _l("Status"),
                     "consumption": _l("Consumption"), "flagged": _l("To check"),
                     "billing_entry_no": _l("Billing entry"), "created_at": _l("Received at")}


class MeterView(ReadOnlyView):
    datamodel = SQLAInterface(Meter)
    list_title = show_title = _l("Meters")
    list_columns = ["serial", "supply_point", "digits", "has_corrector", "corrector_serial",
                    "installed_on", "removed_on"]
    show_columns = list_columns
    search_columns = ["serial", "has_corrector"]
    related_views = [MeterReadingView]
    label_columns = {"serial": _l("Serial number"), "supply_point": _l("Supply point"),
                     "digits": _l("Digits"), "has_corrector": _l("Volume corrector"),
                     "corrector_serial": _l("Corrector serial"), "installed_on": _l("Installed on"),
                     "removed_on": _l("Removed on")}


def archived_mark(value) -> Markup | str:
    """The "Archived" mark of a customer or supply point billing deleted (F-53), with when."""
    if not value:
        return ""
    return Markup('<span class="label label-warning archived-mark">%s</span> <small>%s</small>') % (
        _l("Archived"), format_moment(value))


class ArchivedFilter(BaseFilter):
    """Archived (deleted or merged in billing) or not: the search form's yes/no choice."""

    name = _l("is")
    arg_name = "arc"

    def apply(self, query, value):
        column = getattr(self.model, self.column_name)
        if value == "yes":
            return query.filter(column.isnot(None))
        if value == "no":
            return query.filter(column.is_(None))
        return query


def _archived_choice():
    return SelectField(_l("Archived"), choices=[("yes", _l("Archived")), ("no", _l("Not archived"))])


class _ArchivedSearch:
    """`archived_at` searched by the yes/no ArchivedFilter instead of FAB's date filters."""

    def _init_properties(self):
        super()._init_properties()
        only = [ArchivedFilter("archived_at", self.datamodel)]
        self._filters._search_filters["archived_at"] = self._filters._all_filters["archived_at"] = only


class SupplyPointView(_ArchivedSearch, ReadOnlyView):
    datamodel = SQLAInterface(SupplyPoint)
    list_title = show_title = _l("Supply points")
    list_columns = ["code", "customer", "service", "pdr", "pod", "city", "use_type", "status",
                    "archived_at"]
    show_columns = ["code", "customer", "service", "pdr", "pod", "address", "post_code", "city",
                    "province", "use_type", "withdrawal_class", "tariff_option",
                    "annual_consumption", "status", "activation_date", "payment_method", "iban",
                    "account_holder", "mandate_reference", "mailing_address", "synced_at",
                    "archived_at"]
    search_columns = ["code", "pdr", "pod", "service", "status", "city", "use_type", "archived_at"]
    search_form_extra_fields = {"archived_at": _archived_choice()}
    formatters_columns = {"archived_at": archived_mark}
    base_order = ("code", "asc")
    related_views = [MeterView, MeterReadingView, InvoiceView]
    label_columns = {"code": _l("Code"), "customer": _l("Customer"), "service": _l("Service"),
                     "pdr": _l("PDR"), "pod": _l("POD"), "address": _l("Address"),
                     "post_code": _l("Post code"), "city": _l("City"), "province": _l("Province"),
                     "use_type": _l("Use type"), "withdrawal_class": _l("Withdrawal class"),
                     "tariff_option": _l("Tariff option"),
                     "annual_consumption": _l("Annual consumption"), "status": _l("Status"),
                     "activation_date": _l("Activation date"), "payment_method": _l("Payment"),
                     "iban": _l("IBAN"), "account_holder": _l("Account holder"),
                     "mandate_reference": _l("Mandate reference"),
                     "mailing_address": _l("Mailing address"), "synced_at": _l("Aligned at"),
                     "archived_at": _l("Archived")}


class ApiTokenView(ReadOnlyView):
    """Customers' personal API tokens (F-61): names, scopes and dates; never the secret."""

    datamodel = SQLAInterface(ApiToken)
    list_title = show_title = _l("Personal API tokens")
    list_columns = ["customer", "name", "prefix", "scope", "created_at", "expires_at", "last_used_at",
                    "revoked_at"]
    show_columns = ["customer", "user", "name", "prefix", "scope", "created_at", "expires_at",
                    "last_used_at", "revoked_at"]
    search_columns = ["name", "prefix", "scope", "created_at", "expires_at", "revoked_at"]
    base_order = ("created_at", "desc")
    label_columns = {"customer": _l("Customer"), "user": _l("Account"), "name": _l("Name"),
                     "prefix": _l("Begins with"), "scope": _l("Allows"), "created_at": _l("Created"),
                     "expires_at": _l("Expires"), "last_used_at": _l("Last used"),
                     "revoked_at": _l("Revoked")}


class CustomerView(_ArchivedSearch, ReadOnlyView):
    datamodel = SQLAInterface(Customer)
    list_title = show_title = _l("Customers")
    list_columns = ["code", "display_name", "tax_code", "vat_number", "city", "phone", "email",
                    "archived_at"]
    show_columns = ["code", "kind", "last_name", "first_name", "company_name", "tax_code",
                    "vat_number", "birth_date", "address", "post_code", "city", "province",
                    "phone", "email", "language", "synced_at", "archived_at", "merged_into_code"]
    search_columns = ["code", "search_name", "tax_code", "vat_number", "email", "phone", "city",
                      "archived_at"]
    search_form_extra_fields = {"archived_at": _archived_choice()}
    formatters_columns = {"archived_at": archived_mark}
    order_columns = ["code", "city"]
    base_order = ("code", "asc")
    related_views = [SupplyPointView, InvoiceView, PaymentView, ApiTokenView]
    label_columns = {"code": _l("Customer code"), "display_name": _l("Name"), "kind": _l("Kind"),
                     "last_name": _l("Last name"), "first_name": _l("First name"),
                     "company_name": _l("Company name"), "search_name": _l("Name"),
                     "tax_code": _l("Tax code"), "vat_number": _l("VAT number"),
                     "birth_date": _l("Date of birth"), "address": _l("Address"),
                     "post_code": _l("Post code"), "city": _l("City"), "province": _l("Province"),
                     "phone": _l("Phone"), "email": _l("E-mail"), "language": _l("Language"),
                     "synced_at": _l("Aligned at"), "archived_at": _l("Archived"),
                     "merged_into_code": _l("Merged in billing into")}


def register(appbuilder) -> None:
    billing = "Billing data"  # menu and permission names stay fixed; labels are translated
    label = _l("Billing data")
    appbuilder.add_view(CustomerView, "Customers", label=_l("Customers"), icon="fa-users",
                        category=billing, category_label=label, category_icon="fa-database")
    appbuilder.add_view(SupplyPointView, "Supply points", label=_l("Supply points"), icon="fa-plug",
                        category=billing)
    appbuilder.add_view(MeterView, "Meters", label=_l("Meters"), icon="fa-tachometer", category=billing)
    appbuilder.add_view(MeterReadingView, "Readings", label=_l("Readings"), icon="fa-list-ol",
                        category=billing)
    appbuilder.add_view(InvoiceView, "Invoices", label=_l("Invoices"), icon="fa-file-text-o",
                        category=billing)
    appbuilder.add_view(PaymentView, "Payments", label=_l("Payments"), icon="fa-eur", category=billing)
    appbuilder.add_view_no_menu(InvoiceLineView)
    appbuilder.add_view(ApiTokenView, "Personal API tokens", label=_l("Personal API tokens"), icon="fa-key",
                        category=billing)
