"""Permission checks for code outside FAB's own views: one vocabulary, FAB permissions.

A guard asks whether a user, through any of their roles, holds a permission on a view
(`can_validate` on `ContractWorkflow`, `can_access` on `Sales`, ...). The answer is read from
FAB's models (user -> roles -> permission-view pairs), so a role an admin creates or changes in
the security views acts at once. Role names are never compared here; FAB's own views keep
using the security manager's `has_access`.
"""
from __future__ import annotations

from flask import g, has_request_context
from flask_login import current_user

from app.roles import SEE


def has_permission(user, permission: str, view: str) -> bool:
    """True when `user`, through any of their roles, holds `permission` on `view`."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if not has_request_context():
        return (permission, view) in _granted(user)
    # A page asks several times (guard, buttons, filters): read the roles once per request.
    memo = g.setdefault("_sportello_permissions", {})
    if user.id not in memo:
        memo[user.id] = _granted(user)
    return (permission, view) in memo[user.id]


def holders(user_model, permission: str, view: str):
    """A SQL condition on `user_model` (FAB's user table): holds `permission` on `view` through a
    role, for lists of people (who may be assigned a request); checks use `has_permission`."""
    import sqlalchemy as sa
    from flask_appbuilder.security.sqla.models import Group, Permission, PermissionView, Role, ViewMenu

    pair = Role.permissions.any(sa.and_(PermissionView.permission.has(Permission.name == permission),
                                        PermissionView.view_menu.has(ViewMenu.name == view)))
    return sa.or_(user_model.roles.any(pair), user_model.groups.any(Group.roles.any(pair)))


def _granted(user) -> frozenset[tuple[str, str]]:
    roles = [*user.roles, *(role for group in getattr(user, "groups", ()) for role in group.roles)]
    return frozenset((pv.permission.name, pv.view_menu.name) for role in roles for pv in role.permissions)


def can_see(permission_view: str) -> bool:
    """True when the current user's roles may see a sensitive field in clear."""
    return has_permission(current_user, SEE, permission_view)
