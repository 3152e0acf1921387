"""Back-office views of e-mail (F-08, F-31): the customers' invoice delivery settings, the
invoice send log (every invoice e-mail per address, with outcome and message id), and every
other message sent (customer notices, staff e-mails, invitations) with the ones refused for
good as the back office's queue. Read-only; a message's text is shown with its link secrets
hidden."""
from __future__ import annotations

import sqlalchemy as sa
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.models.sqla.interface import SQLAInterface
from markupsafe import Markup
from wtforms import SelectField

from app.i18n import lazy_gettext as _l
from app.models import Invoice, InvoiceDeliverySetting, InvoiceEmailLog, OutgoingMail, SupplyPoint
from app.roles import BACK_OFFICE, MANAGER, READ
from app.services.mailing import mail, sent_mail
from app.services.mailing.templates import STATUS_TITLES, title
from app.services.core.masking import mask_tokens
from app.views.display import EMPTY, choice, language_name

from .base import CustomerTextSearch, ReadOnlyView

_VIEWS = ("InvoiceDeliverySettingView", "InvoiceEmailLogView")
_MAIL_VIEWS = ("OutgoingMailView", "RefusedMailView")
ROLE_GRANTS = {MANAGER: {v: READ for v in _VIEWS},
               BACK_OFFICE: {**{v: READ for v in _VIEWS}, **{v: READ for v in _MAIL_VIEWS}}}


def _recipients(value) -> str:
    return ", ".join(r.email for r in value or [])


def _short(value) -> str:
    value = value or ""
    return value if len(value) <= 80 else value[:77] + "…"


class InvoiceDeliverySettingView(CustomerTextSearch, ReadOnlyView):
    datamodel = SQLAInterface(InvoiceDeliverySetting)
    list_title = show_title = _l("Invoice by e-mail: settings")
    list_columns = ["supply_point", "supply_point.customer", "enabled", "mode", "recipients",
                    "active_since", "updated_at"]
    show_columns = list_columns
    search_columns = ["customer", "enabled", "mode", "active_since"]
    base_order = ("updated_at", "desc")
    formatters_columns = {"recipients": _recipients}
    label_columns = {"supply_point": _l("Supply point"), "supply_point.customer": _l("Customer"),
                     "enabled": _l("E-mail delivery on"), "mode": _l("Mode"),
                     "recipients": _l("Addresses"), "active_since": _l("Invoices from"),
                     "updated_at": _l("Changed"), "customer": _l("Customer")}

    @staticmethod
    def customer_rows(ids):
        return InvoiceDeliverySetting.supply_point_id.in_(
            sa.select(SupplyPoint.id).where(SupplyPoint.customer_id.in_(ids)))


class InvoiceEmailLogView(CustomerTextSearch, ReadOnlyView):
    datamodel = SQLAInterface(InvoiceEmailLog)
    list_title = show_title = _l("Invoice e-mails: send log")
    list_columns = ["invoice", "invoice.customer", "email", "mode", "outcome", "attempts", "sent_at", "error"]
    show_columns = ["invoice", "email", "mode", "outcome", "attempts", "created_at", "sent_at",
                    "next_attempt_at", "claimed_by", "message_id", "error"]
    # The customer is typed: a select of every invoice or supply point would load them all.
    search_columns = ["customer", "email", "outcome", "mode", "sent_at", "created_at"]
    base_order = ("created_at", "desc")
    formatters_columns = {"error": _short}
    label_columns = {"invoice": _l("Invoice"), "invoice.customer": _l("Customer"), "email": _l("Address"), "mode": _l("Mode"),
                     "outcome": _l("Outcome"), "attempts": _l("Attempts"), "created_at": _l("Queued"),
                     "sent_at": _l("Sent"), "next_attempt_at": _l("Next attempt"),
                     "claimed_by": _l("Process"), "message_id": _l("Message-ID"), "error": _l("Error"),
                     "customer": _l("Customer")}

    @staticmethod
    def customer_rows(ids):
        return InvoiceEmailLog.invoice_id.in_(sa.select(Invoice.id).where(Invoice.customer_id.in_(ids)))


class _MailInterface(SQLAInterface):
    """OutgoingMail with two columns read off the row: the customers it went to, its text."""

    def get_values(self, lst, list_columns):
        if "customer" in list_columns:  # the page's customers in one query, not one per row
            lst = list(lst)
            names = sent_mail.customer_names_for([item.recipients for item in lst])
            self._names = {id(item): name for item, name in zip(lst, names)}
        try:
            yield from super().get_values(lst, list_columns)
        finally:
            self._names = {}

    def _get_attr_value(self, item, col):
        if col == "customer":
            names = getattr(self, "_names", None) or {}
            return names[id(item)] if id(item) in names else sent_mail.customer_names(item.recipients)
        if col == "text":
            return sent_mail.masked_copy(item)
        return super()._get_attr_value(item, col)


def _copy(rendered) -> Markup | str:
    if rendered is None:
        return EMPTY
    return Markup('<p class="mail-subject"><strong>{}</strong></p><pre class="mail-text">{}</pre>').format(
        rendered.subject, rendered.text)


def _addresses(value) -> str:
    return ", ".join(value or []) or EMPTY


def _error(value) -> str:
    return _short(mask_tokens(value or ""))


def _kinds():
    return [(name, title(name)) for name in mail.template_names()]


class OutgoingMailView(CustomerTextSearch, ReadOnlyView):
    """Every e-mail but invoices, newest first: kind, recipients, customer, state, attempts."""

    datamodel = _MailInterface(OutgoingMail)
    list_title = show_title = _l("Sent e-mails")
    list_columns = ["template", "customer", "recipients", "status", "attempts", "created_at", "sent_at", "error"]
    show_columns = ["template", "customer", "recipients", "language", "status", "attempts", "created_at",
                    "next_attempt_at", "sent_at", "message_id", "error", "text"]
    search_columns = ["customer", "status", "template", "recipients", "created_at", "sent_at"]
    order_columns = ["template", "status", "attempts", "created_at", "sent_at"]
    base_order = ("created_at", "desc")
    search_form_extra_fields = {
        "status": SelectField(_l("State"), choices=[(k, v) for k, v in STATUS_TITLES.items()]),
        "template": SelectField(_l("Kind"), choices=_kinds),
    }
    formatters_columns = {"template": title, "status": choice(STATUS_TITLES), "recipients": _addresses,
                          "language": language_name, "error": _error, "text": _copy}
    label_columns = {"template": _l("Kind"), "customer": _l("Customer"), "recipients": _l("Recipients"),
                     "language": _l("Language"), "status": _l("State"), "attempts": _l("Attempts"),
                     "created_at": _l("Queued"), "next_attempt_at": _l("Next attempt"), "sent_at": _l("Sent"),
                     "message_id": _l("Message-ID"), "error": _l("Error"),
                     "text": _l("Text (links' secrets hidden)")}


    @staticmethod
    def customer_rows(ids):
        return sent_mail.sent_to_customers(ids)


class RefusedMailView(OutgoingMailView):
    """The messages the mail server refused for good: the back office's queue."""

    list_title = _l("Refused e-mails")
    base_filters = [["status", FilterEqual, sent_mail.REFUSED]]
    search_columns = ["customer", "template", "recipients", "created_at"]


def register(appbuilder) -> None:
    category = "Invoice e-mails"
    appbuilder.add_view(InvoiceEmailLogView, "Send log", label=_l("Send log"), icon="fa-envelope",
                        category=category, category_label=_l("Invoice e-mails"), category_icon="fa-envelope-o")
    appbuilder.add_view(InvoiceDeliverySettingView, "Delivery settings", label=_l("Delivery settings"),
                        icon="fa-sliders", category=category)
    category = "E-mails"
    appbuilder.add_view(RefusedMailView, "Refused e-mails", label=_l("Refused e-mails"),
                        icon="fa-exclamation-triangle", category=category, category_label=_l("E-mails"),
                        category_icon="fa-paper-plane")
    appbuilder.add_view(OutgoingMailView, "Sent e-mails", label=_l("Sent e-mails"), icon="fa-paper-plane-o",
                        category=category)
