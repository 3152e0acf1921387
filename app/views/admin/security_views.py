"""FAB's security views (users, roles, groups, permissions) with readable values (F-40).

Same class names as FAB's, so permission and endpoint names do not change; each column is
formatted like every other back-office view (app.views.display). Permissions read as what they
allow, grouped by area: "Billing data · Customers: list, detail" instead of "can list on
CustomerView"; the role form offers them with the same names.
"""
from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import Select2ManyWidget
from flask_appbuilder.widgets import ListWidget, ShowWidget
from flask_appbuilder.security.views import (PermissionModelView as _PermissionModelView,
                                             PermissionViewModelView as _PermissionViewModelView,
                                             RoleModelView as _RoleModelView,
                                             UserDBModelView as _UserDBModelView,
                                             UserGroupModelView as _UserGroupModelView,
                                             ViewMenuModelView as _ViewMenuModelView)
from markupsafe import Markup, escape

from app.i18n import gettext as _, lazy_gettext as _l
from app.views.display import EMPTY

from .auth import contact_confirmation_fields
from .base import ReadableColumns

# What each permission allows, in words.
PERMISSION_LABELS = {
    "can_list": _l("list"), "can_show": _l("detail"), "can_add": _l("add"), "can_edit": _l("edit"),
    "can_delete": _l("delete"), "can_download": _l("download"), "menu_access": _l("menu entry"),
    "can_this_form_get": _l("open the form"), "can_this_form_post": _l("save the form"),
    "can_userinfo": _l("own profile"), "can_chart": _l("chart"), "can_get": _l("read"),
    "can_work": _l("work on it"), "can_document": _l("documents"), "can_reschedule": _l("move appointments"),
    "can_search": _l("search"), "can_record": _l("record calls and contacts"), "can_export": _l("export"),
    "can_run": _l("run now"), "can_clear": _l("delete messages"), "can_test": _l("test connections"),
    "can_access": _l("open the pages"), "can_see": _l("see in clear"), "can_see_all": _l("see every agent's"),
    "can_reconcile": _l("reconcile with billing"),
    "can_validate": _l("validate"), "can_approve_credit": _l("approve credit"), "can_activate": _l("activate"),
    "can_cancel": _l("cancel"), "can_edit_any": _l("edit any contract"), "can_enter": _l("enter contracts"),
    "can_withdraw": _l("withdraw own drafts"), "can_assign": _l("assign"), "can_handle": _l("handle own"),
    "can_handle_any": _l("handle any"), "can_reject": _l("reject"), "can_reopen": _l("reopen"),
    "validate": _l("validate (list)"), "approve": _l("approve credit (list)"), "activate": _l("activate (list)"),
    "retry": _l("send again"), "export": _l("export to billing"), "discard": _l("discard drafts"),
    "take_in_charge": _l("take in charge"), "cancel_appointment": _l("cancel appointments"),
    "copyrole": _l("copy role"), "resetmypassword": _l("change own password"),
    "resetpasswords": _l("set passwords"), "userinfoedit": _l("edit own profile"),
}

# Views without a menu entry of their own, and the guards of the workflows and sensitive data.
VIEW_LABELS = {
    "BankData": (_l("Sensitive data"), _l("Bank data (IBAN)")),
    "TaxCode": (_l("Sensitive data"), _l("Tax code")),
    "ContractWorkflow": (_l("Sales network"), _l("Contract workflow")),
    "Sales": (_l("Sales network"), _l("Sales pages")),
    "Portfolio": (_l("Sales network"), _l("Portfolio")),
    "CommissionStatement": (_l("Sales network"), _l("Commission statements")),
    "Prospects": (_l("Sales network"), _l("Prospects")),
    "ActivityWorkflow": (_l("CRM"), _l("Request workflow")),
    "CustomerTimelineView": (_l("CRM"), _l("Customer timeline")),
    "InvoiceLineView": (_l("Billing data"), _l("Invoice lines")),
    "UserInfoEditView": (_l("Security"), _l("Own profile")),
    "ResetMyPasswordView": (_l("Security"), _l("Own password")),
    "ResetPasswordView": (_l("Security"), _l("Passwords of users")),
    "AuthDBView": (_l("Security"), _l("Login")),
    "LocaleView": (_l("Security"), _l("Language")),
    "UtilView": (_l("Security"), _l("Navigation")),
    "IndexView": (_l("Security"), _l("Start page")),
}
OTHER = _l("Other")


def _menu_places(appbuilder) -> dict[str, tuple]:
    """(area, label) of every view and menu entry, from the menu itself."""
    places: dict[str, tuple] = {}
    for category in appbuilder.menu.get_list():
        area = category.label or category.name
        places.setdefault(category.name, (area, _l("Area menu")))
        for child in category.childs or []:
            if child.name == "-":
                continue
            places[child.name] = (area, child.label or child.name)
            if child.baseview is not None:
                name = getattr(child.baseview, "class_permission_name", None) or type(child.baseview).__name__
                places.setdefault(name, (area, child.label or child.name))
    return places


def place_of(view_name: str) -> tuple[str, str]:
    """The area and the readable name of a view or menu entry."""
    places = g.get("sportello_menu_places")  # built once per request: a role holds hundreds
    if places is None:
        places = g.sportello_menu_places = _menu_places(current_app.appbuilder)
    area, label = places.get(view_name) or VIEW_LABELS.get(view_name) or (OTHER, view_name)
    return str(area), str(label)


def permission_label(name: str) -> str:
    label = PERMISSION_LABELS.get(name)
    return str(label) if label is not None else name.removeprefix("can_").replace("_", " ")


def permission_view_label(pv) -> str:
    """"Billing data · Customers: list"."""
    area, label = place_of(pv.view_menu.name)
    return f"{area} · {label}: {permission_label(pv.permission.name)}"


def grouped(pvs) -> dict[str, dict[str, list[str]]]:
    """{area: {view: [permissions]}}, sorted for reading."""
    out: dict[str, dict[str, list[str]]] = {}
    for pv in pvs or []:
        area, label = place_of(pv.view_menu.name)
        out.setdefault(area, {}).setdefault(label, []).append(permission_label(pv.permission.name))
    return {a: {v: sorted(p) for v, p in sorted(views.items())} for a, views in sorted(out.items())}


def permissions_table(pvs) -> Markup:
    """A role's permissions grouped by area, one line per screen."""
    groups = grouped(pvs)
    if not groups:
        return Markup(EMPTY)
    rows = []
    for area, views in groups.items():
        rows.append(f'<tr class="permission-area"><th colspan="2" scope="rowgroup">{escape(area)}</th></tr>')
        rows += [f'<tr><th scope="row">{escape(view)}</th><td>{escape(", ".join(perms))}</td></tr>'
                 for view, perms in views.items()]
    return Markup('<table class="table table-condensed role-permissions">' + "".join(rows) + "</table>")


def permissions_summary(pvs) -> str:
    """On the roles list: the areas a role reaches, with how many permissions in each."""
    groups = grouped(pvs)
    if not groups:
        return EMPTY
    return "; ".join(f"{area} ({sum(len(p) for p in views.values())})" for area, views in groups.items())


def _permission_query():
    sm = current_app.appbuilder.sm
    return sorted(sm.session.query(sm.permissionview_model), key=permission_view_label)


def _permissions_field():
    return QuerySelectMultipleField(_l("Permissions"), query_func=_permission_query,
                                    get_pk_func=lambda pv: pv.id, get_label=permission_view_label,
                                    widget=Select2ManyWidget())


class UserDBModelView(ReadableColumns, _UserDBModelView):
    edit_columns = [*_UserDBModelView.edit_columns, "current_password", "current_code"]
    edit_form_extra_fields = contact_confirmation_fields()

    def process_form(self, form, is_created):
        """The confirmation is checked by the form; it is not a column of the user."""
        for name in ("current_password", "current_code"):
            if name in form:
                del form[name]
        super().process_form(form, is_created)

    def post_update(self, item):
        from app.services.core import security_log

        security_log.event("user_edited_by_admin", item.username, area="staff", by=g.user.username)
        super().post_update(item)

    @action("lift_signin_lock", _l("Lift sign-in locks"), confirmation=None, icon="fa-unlock",
            multiple=False, single=True)
    def lift_signin_lock(self, item):
        """After wrong passwords an address is locked out of the account for a while: lift it."""
        from flask_login import current_user

        from app.services.core import login_policy

        login_policy.lift_for(item, current_user)
        flash(_("Sign-in locks lifted for %(username)s.", username=item.username), "success")
        return redirect(url_for(f"{self.endpoint}.show", pk=item.id))

    @action("reset_two_factor", _l("Reset two-factor sign-in"),
            _l("Remove this user's second factor? They will sign in with the password alone and, "
               "if their role requires it, set up a new authenticator app."),
            icon="fa-mobile", multiple=False, single=True)
    def reset_two_factor(self, item):
        """A lost phone: the user signs in with the password and enrols again (audited)."""
        from flask_login import current_user

        from app.services.core import two_factor

        two_factor.reset_by_admin(item, current_user)
        flash(_("Two-factor sign-in reset for %(username)s.", username=item.username), "success")
        return redirect(url_for(f"{self.endpoint}.show", pk=item.id))

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        if request.method != "POST":
            abort(405)
        return super().action(name, pk)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """FAB's user page, offering the sign-in unlock next to the password reset."""
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        actions = {name: self.actions[name] for name in ("resetpasswords", "lift_signin_lock", "reset_two_factor")
                   if name in self.actions}
        widgets = self._get_show_widget(pk, item, actions=actions)
        self.update_redirect()
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=widgets,
                                    appbuilder=self.appbuilder, related_views=self._related_views)


class RoleModelView(ReadableColumns, _RoleModelView):
    # FAB's role widgets print raw values: the standard ones apply the formatters. The list
    # gives the reach of each role; its page the permissions grouped by area.
    list_widget = ListWidget
    show_widget = ShowWidget
    formatters_columns = {"permissions": permissions_table}
    list_formatters_columns = {"permissions": permissions_summary}
    add_form_extra_fields = {"permissions": _permissions_field()}
    edit_form_extra_fields = {"permissions": _permissions_field()}


class UserGroupModelView(ReadableColumns, _UserGroupModelView):
    pass


class PermissionModelView(ReadableColumns, _PermissionModelView):
    formatters_columns = {"name": lambda name: Markup("%s <code>%s</code>") % (permission_label(name), name)
                          if name else EMPTY}


class ViewMenuModelView(ReadableColumns, _ViewMenuModelView):
    formatters_columns = {"name": lambda name: " · ".join(place_of(name)) if name else EMPTY}


class PermissionViewModelView(ReadableColumns, _PermissionViewModelView):
    formatters_columns = {"permission": lambda p: permission_label(p.name) if p else EMPTY,
                          "view_menu": lambda v: " · ".join(place_of(v.name)) if v else EMPTY}


# FAB's own texts our screens show, where FAB's Italian catalogue lacks them or gets them wrong:
# listed here so that they are extracted into ours (which wins).
FAB_TEXTS = (
    _l("Please log in to access this page."), _l("No records found"), _l("Record Count"), _l("Refresh"),
    _l("Add"), _l("Edit"), _l("Delete"), _l("Groups"), _l("Add Group"), _l("Edit Group"), _l("Show Group"),
    _l("Are you sure you want to delete this item?"), _l("Either select a role or a group"),
    _l("User(s) exists in the role, cannot delete"), _l("User(s) exists in the group, cannot delete"),
    _l("Database Error"), _l("In"), _l("Not In"),
)

__all__ = ["UserDBModelView", "RoleModelView", "UserGroupModelView", "PermissionModelView",
           "ViewMenuModelView", "PermissionViewModelView", "permission_label", "grouped"]
