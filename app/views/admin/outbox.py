"""Writes waiting for billing (F-33, F-53): what is pending, what billing refused, retry."""
from __future__ import annotations

from flask import flash, redirect
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from app.models import OutboxMessage, OutboxStatus
from app.roles import BACK_OFFICE, MANAGER, READ
from app.services.sync.outbox import retry

from .base import SecureModelView

ROLE_GRANTS = {
    MANAGER: {"OutboxView": READ + ("retry",)},
    BACK_OFFICE: {"OutboxView": READ + ("retry",)},
}


class OutboxView(SecureModelView):
    datamodel = SQLAInterface(OutboxMessage)
    base_permissions = ["can_list", "can_show"]
    list_title = show_title = _l("Writes to billing")
    list_columns = ["created_at", "operation", "status", "attempts", "next_attempt_at", "activity",
                    "last_error"]
    show_columns = ["created_at", "operation", "idempotency_key", "status", "attempts",
                    "next_attempt_at", "delivered_at", "activity", "last_error", "result"]
    search_columns = ["status", "operation", "created_at"]
    base_order = ("created_at", "desc")
    label_columns = {"created_at": _l("Created"), "operation": _l("Operation"), "status": _l("Status"),
                     "attempts": _l("Attempts"), "next_attempt_at": _l("Next attempt"),
                     "activity": _l("Request"), "last_error": _l("Last error"),
                     "idempotency_key": _l("Idempotency key"), "delivered_at": _l("Delivered"),
                     "result": _l("Billing's answer")}

    @action("retry", _l("Send again"), _l("Send the selected writes to billing again?"), "fa-repeat")
    def retry_action(self, items):
        items = items if isinstance(items, list) else [items]
        count = retry([i for i in items if i.status == OutboxStatus.FAILED])
        flash(_l("%(n)d write(s) queued again.", n=count), "success")
        return redirect(self.get_redirect())


class FailedOutboxView(OutboxView):
    """Only what billing refused: the back office's work queue."""

    list_title = _l("Writes refused by billing")
    base_filters = [["status", FilterEqual, OutboxStatus.FAILED]]


ROLE_GRANTS[MANAGER]["FailedOutboxView"] = READ + ("retry",)
ROLE_GRANTS[BACK_OFFICE]["FailedOutboxView"] = READ + ("retry",)


def register(appbuilder) -> None:
    category = "Alignment"
    appbuilder.add_view(FailedOutboxView, "Refused writes", label=_l("Writes refused by billing"),
                        icon="fa-exclamation-triangle", category=category)
    appbuilder.add_view(OutboxView, "Writes to billing", label=_l("Writes to billing"),
                        icon="fa-upload", category=category)
