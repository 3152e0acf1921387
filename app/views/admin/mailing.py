"""Back-office views of invoice delivery by e-mail (F-08, F-31): the customers' settings and
the send log (every invoice e-mail per address, with outcome and message id). Read-only."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from app.models import InvoiceDeliverySetting, InvoiceEmailLog
from app.roles import BACK_OFFICE, MANAGER, READ

from .base import ReadOnlyView

_VIEWS = ("InvoiceDeliverySettingView", "InvoiceEmailLogView")
ROLE_GRANTS = {MANAGER: {v: READ for v in _VIEWS}, BACK_OFFICE: {v: READ for v in _VIEWS}}


def _recipients(value) -> str:
    return ", ".join(r.email for r in value or [])


def _short(value) -> str:
    value = value or ""
    return value if len(value) <= 80 else value[:77] + "…"


class InvoiceDeliverySettingView(ReadOnlyView):
    datamodel = SQLAInterface(InvoiceDeliverySetting)
    list_title = show_title = _l("Invoice by e-mail: settings")
    list_columns = ["supply_point", "supply_point.customer", "enabled", "mode", "recipients",
                    "active_since", "updated_at"]
    show_columns = list_columns
    search_columns = ["enabled", "mode", "active_since", "supply_point"]
    base_order = ("updated_at", "desc")
    formatters_columns = {"recipients": _recipients}
    label_columns = {"supply_point": _l("Supply point"), "supply_point.customer": _l("Customer"),
                     "enabled": _l("E-mail delivery on"), "mode": _l("Mode"),
                     "recipients": _l("Addresses"), "active_since": _l("Invoices from"),
                     "updated_at": _l("Changed")}


class InvoiceEmailLogView(ReadOnlyView):
    datamodel = SQLAInterface(InvoiceEmailLog)
    list_title = show_title = _l("Invoice e-mails: send log")
    list_columns = ["invoice", "invoice.customer", "email", "mode", "outcome", "attempts", "sent_at", "error"]
    show_columns = ["invoice", "email", "mode", "outcome", "attempts", "created_at", "sent_at",
                    "next_attempt_at", "claimed_by", "message_id", "error"]
    search_columns = ["invoice", "email", "outcome", "mode", "sent_at", "created_at"]
    base_order = ("created_at", "desc")
    formatters_columns = {"error": _short}
    label_columns = {"invoice": _l("Invoice"), "invoice.customer": _l("Customer"), "email": _l("Address"), "mode": _l("Mode"),
                     "outcome": _l("Outcome"), "attempts": _l("Attempts"), "created_at": _l("Queued"),
                     "sent_at": _l("Sent"), "next_attempt_at": _l("Next attempt"),
                     "claimed_by": _l("Process"), "message_id": _l("Message-ID"), "error": _l("Error")}


def register(appbuilder) -> None:
    category = "Invoice e-mails"
    appbuilder.add_view(InvoiceEmailLogView, "Send log", label=_l("Send log"), icon="fa-envelope",
                        category=category, category_label=_l("Invoice e-mails"), category_icon="fa-envelope-o")
    appbuilder.add_view(InvoiceDeliverySettingView, "Delivery settings", label=_l("Delivery settings"),
                        icon="fa-sliders", category=category)
