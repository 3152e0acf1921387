"""Writes waiting for billing (F-33, F-53): what is pending, what billing refused, retry."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.models.sqla.interface import SQLAInterface
from markupsafe import Markup

from app.i18n import lazy_gettext as _l, ngettext
from app.models import OutboxMessage, OutboxStatus
from app.roles import BACK_OFFICE, MANAGER, READ
from app.services.sync.outbox import retry, waiting_too_long
from app.services.sync.refusals import explain

from app.views.display import EMPTY, OPERATION_LABELS, choice

from .base import SecureModelView

ROLE_GRANTS = {
    MANAGER: {"OutboxView": READ + ("retry",)},
    BACK_OFFICE: {"OutboxView": READ + ("retry",)},
}


def billing_answer(result) -> Markup | str:
    """What billing answered a delivered write: its numbers, and its warnings (SAP W messages)
    as a list staff can read."""
    if not result:
        return EMPTY
    warnings = list(result.get("billing_warnings") or [])
    values = [Markup("<code>%s</code>") % v for k, v in result.items()
              if k != "billing_warnings" and v not in (None, "", [], {})]
    out = Markup(", ").join(values) if values else Markup("")
    if warnings:
        items = Markup("").join(Markup("<li>%s</li>") % w for w in warnings)
        out += Markup('<p class="mb-0">%s</p><ul class="mb-0">%s</ul>') % (
            _l("Billing accepted it with warnings:"), items)
    return out or EMPTY


def billing_error(value) -> Markup | str:
    """Billing's refusal: what it means when the message is known (translated), and billing's
    own words with its message id, kept as billing wrote them."""
    refusal = explain(value)
    if refusal is None:
        return EMPTY
    original = Markup('<span class="billing-original">%s</span>') % refusal.original
    if not refusal.known:
        return original
    return Markup('<strong class="billing-meaning">%s</strong><br><small>%s %s</small>') % (
        refusal.meaning, _l("Billing's message:"), original)


class OutboxView(SecureModelView):
    datamodel = SQLAInterface(OutboxMessage)
    base_permissions = ["can_list", "can_show"]
    list_title = show_title = _l("Writes to billing")
    list_columns = ["created_at", "operation", "customer_label", "status", "attempts", "next_attempt_at",
                    "activity", "last_error"]
    show_columns = ["created_at", "operation", "idempotency_key", "status", "attempts",
                    "next_attempt_at", "delivered_at", "activity", "last_error", "result"]
    search_columns = ["status", "operation", "created_at"]
    base_order = ("created_at", "desc")
    label_columns = {"created_at": _l("Created"), "operation": _l("Operation"), "customer_label": _l("Customer"),
                     "status": _l("Status"),
                     "attempts": _l("Attempts"), "next_attempt_at": _l("Next attempt"),
                     "activity": _l("Request"), "last_error": _l("Last error"),
                     "idempotency_key": _l("Idempotency key"), "delivered_at": _l("Delivered"),
                     "result": _l("Billing's answer")}
    formatters_columns = {"operation": choice(OPERATION_LABELS), "result": billing_answer,
                          "last_error": billing_error,
                          "idempotency_key": lambda v: Markup("<code>%s</code>") % v if v else ""}

    @action("retry", _l("Send again"), _l("Send the selected writes to billing again?"), "fa-repeat")
    def retry_action(self, items):
        single = not isinstance(items, list)
        items = [items] if single else items
        count = retry([i for i in items if i.status == OutboxStatus.FAILED])
        flash(ngettext("%(num)d write queued again for billing.", "%(num)d writes queued again for billing.",
                       count), "success" if count else "info")
        if single:  # from the write's page: the write in its new state
            return redirect(self.landing_url(items[0], "OutboxView"))
        return redirect(url_for(f"{self.endpoint}.list"))

    def show_action_allowed(self, name, item) -> bool:
        return name != "retry" or item.status == OutboxStatus.FAILED


class FailedOutboxView(OutboxView):
    """Only what billing refused: the back office's work queue."""

    list_title = _l("Writes refused by billing")
    base_filters = [["status", FilterEqual, OutboxStatus.FAILED]]


class _WaitingTooLong(BaseFilter):
    name = _l("Waiting too long")
    arg_name = "wtl"

    def apply(self, query, value):
        return query.filter(waiting_too_long())


class WaitingOutboxView(OutboxView):
    """Writes still being retried after the alert age (setting `queue_alert_hours`)."""

    list_title = _l("Writes waiting for billing too long")
    base_filters = [["created_at", _WaitingTooLong, None]]


ROLE_GRANTS[MANAGER]["FailedOutboxView"] = READ + ("retry",)
ROLE_GRANTS[BACK_OFFICE]["FailedOutboxView"] = READ + ("retry",)
ROLE_GRANTS[MANAGER]["WaitingOutboxView"] = READ
ROLE_GRANTS[BACK_OFFICE]["WaitingOutboxView"] = READ


def register(appbuilder) -> None:
    category = "Alignment"
    appbuilder.add_view(FailedOutboxView, "Refused writes", label=_l("Writes refused by billing"),
                        icon="fa-exclamation-triangle", category=category)
    appbuilder.add_view(WaitingOutboxView, "Waiting writes",
                        label=_l("Writes waiting for billing too long"), icon="fa-clock-o",
                        category=category)
    appbuilder.add_view(OutboxView, "Writes to billing", label=_l("Writes to billing"),
                        icon="fa-upload", category=category)
