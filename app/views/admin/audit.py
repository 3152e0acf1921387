"""Audit log (F-27): who changed what and when — customer data, bank data, contracts and
activities; visible to Admin and Manager only. Values of bank data and tax codes are stored
masked by `app/services/audit.record`."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from app.models import AuditLog
from app.roles import MANAGER, READ

from .base import ReadOnlyView
from .crm import datetime_formatter

ROLE_GRANTS = {MANAGER: {"AuditLogView": READ}}


def changes_formatter(value):
    if not value:
        return ""
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape('' if v[0] is None else v[0])}</td>"
                   f"<td>→ {escape('' if v[1] is None else v[1])}</td></tr>"
                   for k, v in sorted(value.items()) if isinstance(v, (list, tuple)) and len(v) == 2)
    return Markup(f'<table class="table table-condensed audit-changes">{rows}</table>')


class AuditLogView(ReadOnlyView):
    datamodel = SQLAInterface(AuditLog)
    list_title = show_title = _l("Audit log")
    list_columns = ["created_at", "actor_label", "entity_type", "entity_id", "action", "changes"]
    show_columns = ["created_at", "actor_label", "actor", "entity_type", "entity_id", "action",
                    "changes", "ip_address"]
    search_columns = ["entity_type", "entity_id", "action", "actor_label", "created_at"]
    order_columns = ["created_at", "entity_type"]
    base_order = ("created_at", "desc")
    label_columns = {"created_at": _l("When"), "actor_label": _l("Who"), "actor": _l("User"),
                     "entity_type": _l("Data"), "entity_id": _l("Record"), "action": _l("Change"),
                     "changes": _l("Values (before → after)"), "ip_address": _l("IP address")}
    formatters_columns = {"created_at": datetime_formatter, "changes": changes_formatter}


def register(appbuilder) -> None:
    appbuilder.add_view(AuditLogView, "Audit log", label=_l("Audit log"), icon="fa-user-secret",
                        category="CRM", category_label=_l("CRM"), category_icon="fa-tasks")
