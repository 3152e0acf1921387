"""Base classes and formatters shared by the back-office (FAB) views."""
from __future__ import annotations

from flask import abort, request
from flask_appbuilder import ModelView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access

from app.formatting import format_currency
from app.models.base import LabeledEnum
from app.permissions import can_see
from app.roles import BANK_DATA, TAX_CODE


def mask(value: str, keep: int = 4) -> str:
    """Hide all but the last `keep` characters."""
    if not value:
        return ""
    return "•" * max(len(value) - keep, 0) + value[-keep:]


def iban_formatter(value):
    return value if can_see(BANK_DATA) else mask(value or "")


def tax_code_formatter(value):
    return value if can_see(TAX_CODE) else mask(value or "", 3)


def money_formatter(value):
    return "" if value is None else format_currency(value, "EUR")


def _enum_label_formatter(enum_cls):
    def fmt(value):
        if value in (None, ""):
            return ""
        try:
            return enum_cls(value).label
        except ValueError:
            return value
    return fmt


class SecureModelView(ModelView):
    """A ModelView whose actions only ever touch rows the view itself would show.

    FAB hands `action` / `action_post` rows hidden by `base_filters`; here every pk is loaded
    again through the view's filters (404 when absent) and GET never runs an action.
    """

    page_size = 25

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # FAB prints an enum's value; show the translated label of our enums instead.
        formatters = dict(self.formatters_columns or {})
        for column in self.datamodel.obj.__table__.columns:
            enum_cls = getattr(column.type, "enum_class", None)
            if enum_cls and issubclass(enum_cls, LabeledEnum) and column.key not in formatters:
                formatters[column.key] = _enum_label_formatter(enum_cls)
        self.formatters_columns = formatters

    def _get_visible_or_404(self, pk):
        item = self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters)
        if item is None:
            abort(404)
        return item

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        if request.method != "POST":
            abort(405)
        action = self.actions.get(name)
        if action is None:
            abort(404)
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            abort(403)
        return action.func(self._get_visible_or_404(pk))

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        name = request.form.get("action", "")
        action = self.actions.get(name)
        if action is None:
            abort(404)
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            abort(403)
        items = [self._get_visible_or_404(pk) for pk in request.form.getlist("rowid")]
        return action.func(items)


class ReadOnlyView(SecureModelView):
    """Billing data is billing's: staff list and show it; changes go through services."""

    base_permissions = ["can_list", "can_show"]


__all__ = ["SecureModelView", "ReadOnlyView", "iban_formatter", "tax_code_formatter",
           "money_formatter", "mask", "has_access"]
