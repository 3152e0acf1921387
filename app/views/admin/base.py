"""Base classes and formatters shared by the back-office (FAB) views."""
from __future__ import annotations

from flask import abort, request, url_for
from flask_appbuilder import ModelView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access
from wtforms import StringField

from app.i18n import lazy_gettext as _l
from app.services.core.customer_text import customers_matching
from app.services.core.masking import mask, sensitive_kind
from app.views.display import column_formatter, money, wrap

money_formatter = money


class ReadableColumns:
    """Every column of a list or detail page formatted by its type (app.views.display): no
    `None`, enum value, boolean, dict or UTC time reaches the page. A view's own
    `formatters_columns` still apply (empty results shown as "—"), except on sensitive columns
    (IBAN, tax code): masked on every list, in clear on a detail page only for the roles
    holding the permission of their kind. `list_formatters_columns` apply to lists only."""

    list_formatters_columns: dict | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        shown = dict(self.formatters_columns or {})
        listed = {**shown, **(self.list_formatters_columns or {})}
        model = self.datamodel.obj

        def build(columns, own: dict, clear: bool) -> dict:
            out = {}
            for col in columns:
                if sensitive_kind(col.split(".")[-1]) or col not in own:
                    out[col] = column_formatter(model, col, clear=clear)
                else:
                    out[col] = wrap(own[col])
            return out

        list_formatters = build(self.list_columns, listed, clear=False)
        show_formatters = build(self.show_columns, shown, clear=True)
        self.formatters_columns = show_formatters
        self.list_widget = _with_formatters(self.list_widget, list_formatters)
        self.show_widget = _with_formatters(self.show_widget, show_formatters)


def _with_formatters(widget_cls, formatters: dict):
    """The widget class, rendering with `formatters` (lists and details differ in masking)."""
    def __init__(self, **kwargs):
        kwargs["formatters_columns"] = formatters
        widget_cls.__init__(self, **kwargs)
    return type(widget_cls.__name__, (widget_cls,), {"__init__": __init__})


class SecureModelView(ReadableColumns, ModelView):
    """A ModelView whose actions only ever touch rows the view itself would show.

    FAB hands `action` / `action_post` rows hidden by `base_filters`; here every pk is loaded
    again through the view's filters (404 when absent) and GET never runs an action.
    """

    page_size = 25

    def _get_visible_or_404(self, pk):
        item = self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters)
        if item is None:
            abort(404)
        return item

    def landing_url(self, item, *fallback_views: str) -> str:
        """Where a step taken on `item` lands: its page in this view while the view still shows
        it (a queue shows one state only), else its page in the first of `fallback_views` that
        shows it and the user may open, else this view's list."""
        pk = self.datamodel.get_pk_value(item)
        if self.datamodel.get(pk, self._base_filters) is not None:
            return url_for(f"{self.endpoint}.show", pk=pk)
        views = {v.__class__.__name__: v for v in self.appbuilder.baseviews}
        for name in fallback_views:
            view = views.get(name)
            if view is not None and self.appbuilder.sm.has_access("can_show", view.class_permission_name) \
                    and view.datamodel.get(pk, view._base_filters) is not None:
                return url_for(f"{view.endpoint}.show", pk=pk)
        return url_for(f"{self.endpoint}.list")

    def show_action_allowed(self, name: str, item) -> bool:
        """Whether the record's page offers action `name` for `item` now (its state)."""
        return True

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        widgets = super()._get_show_widget(pk, item, widgets, actions, show_fieldsets)
        # A record's page offers only the actions its state allows (FAB offers every one).
        offered = actions or self.actions
        widgets["show"].template_args["actions"] = {
            n: a for n, a in offered.items() if a.single and self.show_action_allowed(n, item)}
        return widgets

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


__all__ = ["SecureModelView", "ReadOnlyView", "ReadableColumns", "money_formatter", "mask",
           "has_access"]


class CustomerTextSearch:
    """A list whose "customer" search field is typed (name, code, tax code or VAT number), not
    picked from a list of every customer. `customer_rows(ids)` turns the matching customers'
    ids subquery into a condition on the view's own rows."""

    customer_search_label = _l("Customer (name, code, tax code or VAT number)")

    @staticmethod
    def customer_rows(ids):
        raise NotImplementedError

    def __init__(self, *args, **kwargs):
        self.search_form_extra_fields = {"customer": StringField(self.customer_search_label),
                                         **(self.search_form_extra_fields or {})}
        converter = self.datamodel.filter_converter_class
        if not getattr(converter, "customer_text", False):
            class Converter(converter):
                """FAB's filters, none for "customer": its one filter is set below."""
                customer_text = True

                def convert(self, col_name):
                    return [] if col_name == "customer" else super().convert(col_name)

            self.datamodel.filter_converter_class = Converter
        super().__init__(*args, **kwargs)

    def _init_properties(self):
        super()._init_properties()
        view = self

        class Matches(BaseFilter):
            name = _l("matches")
            arg_name = "cst"

            def apply(self, query, value):
                ids = customers_matching(value)
                return query if ids is None else query.filter(view.customer_rows(ids))

        matches = [Matches("customer", self.datamodel)]
        self._filters._search_filters["customer"] = self._filters._all_filters["customer"] = matches
