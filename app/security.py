"""Security: the FAB security manager subclass and the role matrix, declared as code.

Built-in roles are created and updated by `flask sportello init` (`sync_roles`): an upgrade adds
the default permissions a built-in role lacks and never takes away what an admin granted;
`flask sportello reset-role NAME` restores one role to exactly its defaults.
"""
from __future__ import annotations

import logging
from functools import lru_cache

import sqlalchemy as sa
from flask import current_app, has_request_context, request, session
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_login import LoginManager, user_logged_in, user_logged_out

from app import permissions
from app.i18n import gettext
from app.models import SportelloUser
from app.roles import (ADMIN, AGENT, BACK_OFFICE, BANK_DATA, BUILTIN_ROLES, CALL_CENTER, CREDIT_CHECK, SEE,
                       STAFF_ROLES, TAX_CODE)
from app.services.core import login_policy, settings
from app.services.core.sessions import end_other_sessions
from app.services.sync import freshness
from app.views.admin import security_views
from app.views.admin.auth import AuthDBView, ResetMyPasswordView, ResetPasswordView

# The session's user, read on every request: a prebuilt statement costs under two thirds of
# the ORM's get(), which builds its query anew each time. The settings' stamp comes along, so
# the request's settings check needs no statement of its own.
_USER_BY_ID = sa.select(SportelloUser, settings.STAMP_COLUMN).where(SportelloUser.id == sa.bindparam("id"))


@lru_cache(maxsize=None)
def _customer_by_id():
    """A portal page also shows how old the customer's copy of billing's data is: that comes
    along too (built on first use: it names the alignment's entities)."""
    return sa.select(SportelloUser, settings.STAMP_COLUMN,
                     *freshness.as_of_columns(SportelloUser.customer_id)).where(SportelloUser.id == sa.bindparam("id"))


log = logging.getLogger(__name__)

# Each back-office area (app.views.AREAS) may declare ROLE_GRANTS = {role: {view class name:
# permissions}} next to its views; the matrix is their union. Admin has every permission;
# Customer none in FAB.

# Guards outside FAB's views (workflow steps, the /sales/ pages) are permissions on
# pseudo-views (`ContractWorkflow`, `Sales`, ...), declared with their ROLE_GRANTS next to the
# code that checks them through app.permissions.
GUARD_MODULES = (
    "app.views.sales",
    "app.services.sales.contracts",
    "app.services.sales.portfolio",
    "app.services.sales.commissions",
    "app.services.sales.prospects",
    "app.services.crm.activities",
)

# What a role may see unmasked, wherever it appears.
SENSITIVE_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    BACK_OFFICE: {BANK_DATA: (SEE,), TAX_CODE: (SEE,)},
    CREDIT_CHECK: {BANK_DATA: (SEE,), TAX_CODE: (SEE,)},
    CALL_CENTER: {TAX_CODE: (SEE,)},
    # Agents check with the customer the bank account and tax code they enter (own contracts).
    AGENT: {BANK_DATA: (SEE,), TAX_CODE: (SEE,)},
}

# Every staff member may see and edit their own profile and password.
# The profile page's two buttons are FAB actions on the user view (permissions named as the
# actions, without can_); both lead to the signed-in user's own forms, whatever the item.
SELF_SERVICE = {"UserDBModelView": ("can_userinfo", "resetmypassword", "userinfoedit"),
                "ResetMyPasswordView": ("can_this_form_get", "can_this_form_post"),
                "UserInfoEditView": ("can_this_form_get", "can_this_form_post")}


def _grants(modules) -> list[dict]:
    import importlib

    return [getattr(importlib.import_module(m), "ROLE_GRANTS", {}) for m in modules]


def role_matrix() -> dict[str, dict[str, set[str]]]:
    """The default permissions of every built-in role but Admin: the union of the areas."""
    from app.views import AREAS

    matrix: dict[str, dict[str, set[str]]] = {r: {} for r in BUILTIN_ROLES if r != ADMIN}
    fragments = [SENSITIVE_GRANTS, *_grants(AREAS + GUARD_MODULES)]
    fragments.append({r: SELF_SERVICE for r in STAFF_ROLES + (AGENT,) if r != ADMIN})
    for fragment in fragments:
        for role, views in fragment.items():
            for view, perms in views.items():
                matrix[role].setdefault(view, set()).update(perms)
    return matrix


def pseudo_permissions() -> set[tuple[str, str]]:
    """Every (permission, pseudo-view) a guard outside FAB's views checks: no FAB view creates
    these, so `sync_roles` does."""
    return {(perm, view) for fragment in [SENSITIVE_GRANTS, *_grants(GUARD_MODULES)]
            for views in fragment.values() for view, perms in views.items() for perm in perms}


class SportelloSecurityManager(SecurityManager):
    user_model = SportelloUser
    # FAB's security views with readable values and permissions named by area (same names).
    userdbmodelview = security_views.UserDBModelView
    rolemodelview = security_views.RoleModelView
    groupmodelview = security_views.UserGroupModelView
    permissionmodelview = security_views.PermissionModelView
    viewmenumodelview = security_views.ViewMenuModelView
    permissionviewmodelview = security_views.PermissionViewModelView
    authdbview = AuthDBView
    resetmypasswordview = ResetMyPasswordView
    resetpasswordview = ResetPasswordView

    def register_views(self):
        """FAB's views without its security API (`/api/v1/security/login` and `refresh`): no
        feature uses it, and its login would bypass the sign-in policy and the second factor."""
        appbuilder = self.appbuilder
        add_api = appbuilder.add_api
        appbuilder.add_api = lambda view: None if view is self.security_api else add_api(view)
        try:
            super().register_views()
        finally:
            del appbuilder.add_api

    def create_login_manager(self, app) -> LoginManager:
        lm = LoginManager(app)
        lm.login_view = "AuthDBView.login"
        lm.localize_callback = gettext  # "Please log in to access this page." in the user's language
        lm.blueprint_login_views = {"portal": "portal.login"}
        lm.blueprint_login_views["sales"] = "AuthDBView.login"  # sales network: staff login
        lm.user_loader(self.load_user)
        user_logged_in.connect(_remember_session_version)
        user_logged_out.connect(_end_sessions)
        return lm

    def create_limiter(self, app):
        from app.extensions import limiter

        limiter.init_app(app)
        return limiter

    def load_user(self, pk):
        """Load the session's user, if active; a session older than the user's last logout (or
        password change) is void."""
        portal = has_request_context() and request.blueprint == "portal"
        row = self.session.execute(_customer_by_id() if portal else _USER_BY_ID, {"id": int(pk)}).one_or_none()
        if row is None:
            return None
        user, stamp = row[0], row[1]
        settings.note_stamp(stamp)
        if portal:
            freshness.note_as_of(user.customer_id, *row[2:])
        if not user.is_active:
            return None
        if session.get("sv", 0) != (user.session_version or 0):
            return None
        return user

    def reset_password(self, userid, password):
        """A new password, chosen by the user or set by an admin, ends the account's other
        sessions; the session that changed its own password goes on."""
        user = self.get_user_by_id(userid)
        end_other_sessions(user)
        login_policy.lift(user.username, user.email)
        super().reset_password(userid, password)  # hashes and saves

    # FAB asks the database once per check (menus, buttons, masked cells: 20 to 35 statements a
    # page); these answer from the roles' sets cached per process (app.permissions), read with
    # the roles' stamp in one statement per request. FAB_ROLES (roles in the config) are FAB's.
    def _has_view_access(self, user, permission_name: str, view_name: str) -> bool:
        if self.builtin_roles:
            return super()._has_view_access(user, permission_name, view_name)
        return (permission_name, view_name) in permissions.granted(user)

    def _get_user_permission_view_menus(self, user, permission_name: str, view_menus_name):
        if self.builtin_roles:
            return super()._get_user_permission_view_menus(user, permission_name, view_menus_name)
        pairs = self._public_pairs() if user is None else permissions.granted(user)
        return {view for perm, view in pairs if perm == permission_name}

    def is_item_public(self, permission_name, view_name):
        if self.builtin_roles:
            return super().is_item_public(permission_name, view_name)
        return (permission_name, view_name) in self._public_pairs()

    def _public_pairs(self):
        return permissions.role_granted(self.auth_role_public)

    def auth_user_db(self, username, password):
        """Staff login: customer accounts sign in only on the portal."""
        user = super().auth_user_db(username, password)
        if user is not None and user.customer_id is not None:
            log.info("Refused a customer account at the staff login")
            return None
        return user


def _remember_session_version(sender, user, **extra) -> None:
    session["sv"] = user.session_version or 0


def _end_sessions(sender, user, **extra) -> None:
    """Logout ends every session of the user, also copies of the cookie."""
    if user is None or not getattr(user, "id", None):
        return
    sm = current_app.appbuilder.sm
    user.end_sessions()
    sm.session.commit()
    session.pop("sv", None)


def default_permissions(appbuilder, role: str) -> set[tuple[str, str]]:
    """Every (permission, view) the role has by default, menus included."""
    if role == ADMIN:
        return {(pv.permission.name, pv.view_menu.name)
                for pv in appbuilder.sm.session.query(appbuilder.sm.permissionview_model)}
    grants = role_matrix().get(role, {})
    wanted: set[tuple[str, str]] = set()
    for view, perms in grants.items():
        wanted.update((p, view) for p in perms)
    # A menu entry for every screen the role may open (its default page's permission: a list,
    # a search page, a report), and the categories holding them and the links it is given.
    for item in appbuilder.baseviews:
        name = getattr(item, "class_permission_name", None) or item.__class__.__name__
        if opening_permission(item) in grants.get(name, ()):
            for menu in _menu_names_for(appbuilder, item):
                wanted.add(("menu_access", menu))
    for category in appbuilder.menu.get_list():
        for child in category.childs or []:
            if child.baseview is None and "menu_access" in grants.get(child.name, ()):
                wanted.add(("menu_access", category.name))
    return wanted


def opening_permission(view) -> str:
    """The permission a view's default page (the one its menu entry opens) needs."""
    default = getattr(view, "default_view", "") or ""
    method = getattr(view, default, None)
    name = (getattr(view, "method_permission_name", None) or {}).get(default) \
        or getattr(method, "_permission_name", None) or default
    return f"can_{name}"


def _menu_names_for(appbuilder, view) -> list[str]:
    """The menu entry (and its category) that open `view`."""
    names = []
    for category in appbuilder.menu.get_list():
        for child in category.childs or []:
            if child.baseview is view:
                names.extend([child.name, category.name])
        if category.baseview is view:
            names.append(category.name)
    return names


def _applied_key(role: str) -> str:
    return f"roles.defaults.{role}"


def sync_roles(appbuilder, reset: tuple[str, ...] = ()) -> dict[str, int]:
    """Create built-in roles and grant their defaults; reset the named ones to exactly those.

    The defaults already granted once are remembered (a Setting per role), so an upgrade adds
    only defaults that are new (new views) and never re-adds what an admin took away, nor
    removes what an admin granted.
    """
    import json

    from app.models import Setting

    sm = appbuilder.sm
    session = sm.session
    # Pseudo-views first: Admin's defaults are every pair that exists.
    for perm, view in sorted(pseudo_permissions()):
        sm.add_permission_view_menu(perm, view)
    added: dict[str, int] = {}
    for name in BUILTIN_ROLES:
        role = sm.find_role(name) or sm.add_role(name)
        wanted = default_permissions(appbuilder, name)
        setting = session.get(Setting, _applied_key(name))
        applied = {tuple(p) for p in json.loads(setting.value)} if setting and name not in reset else set()
        if name in reset:
            role.permissions = []
        have = {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}
        count = 0
        for perm, view in sorted(wanted - applied - have):
            pv = sm.find_permission_view_menu(perm, view) or sm.add_permission_view_menu(perm, view)
            role.permissions.append(pv)
            count += 1
        value = json.dumps(sorted(applied | wanted))
        if setting is None:
            session.add(Setting(key=_applied_key(name), value=value))
        else:
            setting.value = value
        added[name] = count
    session.commit()
    return added


def init_security(appbuilder, reset: tuple[str, ...] = ()) -> dict[str, int]:
    """Create the built-in roles, every view's permissions, then the roles' defaults."""
    sm = appbuilder.sm
    for name in (*BUILTIN_ROLES, current_app.config.get("AUTH_ROLE_PUBLIC", "Public")):
        if sm.find_role(name) is None:
            sm.add_role(name)
    appbuilder.add_permissions(update_perms=True)
    added = sync_roles(appbuilder, reset=reset)
    # Whatever the run found (a migration may have changed roles in SQL): running processes
    # reload their roles' permissions at their next request.
    permissions.renew_stamp(sm.session)
    sm.session.commit()
    return added
