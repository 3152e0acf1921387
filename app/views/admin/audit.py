"""Audit log (F-27): who changed what and when — customer data, bank data, contracts and
activities; visible to Admin and Manager only. Values of bank data and tax codes are stored
masked by `app/services/audit.record`."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from markupsafe import Markup, escape

from app.i18n import lazy_gettext as _l
from app.models import AuditLog
from app.models.base import LabeledEnum
from app.roles import MANAGER, READ
from app.services.core.audit import ERASED
from app.services.crm import activities as activity_steps
from app.services.sales import contracts as contract_steps
from app.services.sales import prospects as prospect_steps

from app.views.display import EMPTY, choice, label_of, readable

from .base import ReadOnlyView
from .crm import datetime_formatter

ROLE_GRANTS = {MANAGER: {"AuditLogView": READ}}


ENTITY_LABELS = {"activity": _l("Request"), "contact": _l("Contact"), "contract": _l("Contract"),
                 "customer": _l("Customer"), "supply_point": _l("Supply point"),
                 "commission_export": _l("Commissions export"), "message_template": _l("Message template"),
                 "setting": _l("Setting"), "prospect": _l("Prospect")}
ACTION_LABELS = {**prospect_steps.AUDIT_ACTION_LABELS, **contract_steps.ACTION_LABELS, **activity_steps.ACTION_LABELS, "assignment": _l("Assignment"), "deadline": _l("Deadline"), "export": _l("Export"),
                 "cancel": _l("Cancellation"), "create": _l("Creation"), "reschedule": _l("New date"),
                 "edit": _l("Change"), "update": _l("Change"), "reset": _l("Default restored"),
                 "portal_registration": _l("Portal registration"), "invoice_email": _l("Invoice by e-mail"),
                 "mailing_address": _l("Mailing address"), "mandate_request": _l("Direct debit request"),
                 "mandate_revoke": _l("Direct debit revocation")}


def _audited_enums() -> dict[str, list]:
    """Field name -> the enums of the audited models' columns of that name (stored values are
    the members' values)."""
    from app.models import Activity, Contact, Contract, Customer, Prospect, ProspectConsent, SupplyPoint

    out: dict[str, list] = {}
    for model in (Contract, Activity, Customer, SupplyPoint, Contact, Prospect, ProspectConsent):
        for column in model.__table__.columns:
            enum_cls = getattr(column.type, "enum_class", None)
            if enum_cls is not None and issubclass(enum_cls, LabeledEnum):
                out.setdefault(column.key, []).append(enum_cls)
    return out


_ENUMS = _audited_enums()


def _value(field: str, value):
    """A stored value as it reads: a state by its label, a date by locale, nothing as "—"."""
    if value == ERASED:  # personal data erased after the record was written
        return str(_l("Erased personal data"))
    for enum_cls in _ENUMS.get(field, ()):
        if value in {m.value for m in enum_cls}:
            return str(enum_cls(value).label)
    return readable(value, key=field)


def changes_formatter(value):
    """Each field changed, its label, before → after (values as stored: sensitive ones masked)."""
    if not value:
        return EMPTY
    rows = "".join(f"<tr><th scope=\"row\">{escape(label_of(k))}</th><td>{escape(_value(k, v[0]))}</td>"
                   f"<td>→ {escape(_value(k, v[1]))}</td></tr>"
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
    formatters_columns = {"created_at": datetime_formatter, "changes": changes_formatter,
                          "entity_type": choice(ENTITY_LABELS), "action": choice(ACTION_LABELS)}


def register(appbuilder) -> None:
    appbuilder.add_view(AuditLogView, "Audit log", label=_l("Audit log"), icon="fa-user-secret",
                        category="CRM", category_label=_l("CRM"), category_icon="fa-tasks")
