"""Permission checks for code outside FAB's own views: one vocabulary, FAB permissions.

A guard asks whether a user, through any of their roles, holds a permission on a view
(`can_validate` on `ContractWorkflow`, `can_access` on `Sales`, ...). The answer is read from
FAB's models (user -> roles -> permission-view pairs); role names are never compared here.
FAB's own checks (views, menus, buttons) ask the same sets through the security manager.

Each role's set of (permission, view) pairs is loaded once per process and kept until the
roles' version stamp (the settings row `roles.version`) changes. A request reads the stamp
once, in the same statement as the signed-in user's role ids, so a request costs one
permission statement (two when the stamp changed and a role's pairs are loaded anew). Every
change to roles, permissions, views or groups' roles made through the ORM — FAB's security
views, `flask sportello init`, role sync, `reset-role`, any script — renews the stamp in the
same transaction (`_renew_on_role_change`); every migration run renews it too
(migrations/env.py). A user's roles are not cached: giving or taking a role acts at the user's
next request without a stamp.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app, g, has_app_context, has_request_context
from flask_login import current_user

from app.roles import SEE

ROLES_VERSION_KEY = "roles.version"
_CACHE_EXT = "sportello.role_permissions"
_UNSEEN = object()

Pairs = frozenset[tuple[str, str]]


def has_permission(user, permission: str, view: str) -> bool:
    """True when `user`, through any of their roles, holds `permission` on `view`."""
    return (permission, view) in granted(user)


def can_see(permission_view: str) -> bool:
    """True when the current user's roles may see a sensitive field in clear."""
    return has_permission(current_user, SEE, permission_view)


def granted(user) -> Pairs:
    """Every (permission, view) an active, signed-in `user` holds through their roles and their
    groups' roles; nothing for anyone else."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return frozenset()
    if not has_request_context():
        stamp, role_ids = _stamp_and_roles(user.id)  # jobs and commands: fresh at every call
        return _cache(stamp).union_of(role_ids)
    memo = g.setdefault("_sportello_granted", {})
    if user.id not in memo:
        stamp, role_ids = _stamp_and_roles(user.id)
        g._sportello_roles_stamp = stamp
        memo[user.id] = _cache(stamp).union_of(role_ids)
    return memo[user.id]


def role_granted(name: str) -> Pairs:
    """The pairs of the role called `name` (FAB's public role for anonymous visitors)."""
    return _cache(_request_stamp()).by_name(name)


def holders(user_model, permission: str, view: str):
    """A SQL condition on `user_model` (FAB's user table): holds `permission` on `view` through a
    role, for lists of people (who may be assigned a request); checks use `has_permission`."""
    from flask_appbuilder.security.sqla.models import Group, Permission, PermissionView, Role, ViewMenu

    pair = Role.permissions.any(sa.and_(PermissionView.permission.has(Permission.name == permission),
                                        PermissionView.view_menu.has(ViewMenu.name == view)))
    return sa.or_(user_model.roles.any(pair), user_model.groups.any(Group.roles.any(pair)))


# --- the process cache ------------------------------------------------------------------------

@dataclass
class _RoleCache:
    """The pairs of each role loaded under one stamp; a role is loaded the first time a request
    needs it. Pairs loaded later than the stamp was read are at least as new as the stamp."""

    stamp: str | None
    by_id: dict[int, Pairs] = field(default_factory=dict)
    names: dict[str, int | None] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def union_of(self, role_ids) -> Pairs:
        missing = [r for r in role_ids if r not in self.by_id]
        if missing:
            self._load(role_ids=missing)
        pairs: set[tuple[str, str]] = set()
        for role_id in role_ids:
            pairs |= self.by_id.get(role_id, frozenset())
        return frozenset(pairs)

    def by_name(self, name: str) -> Pairs:
        if name not in self.names:
            self._load(role_name=name)
        return self.by_id.get(self.names.get(name), frozenset())

    def _load(self, role_ids=None, role_name=None) -> None:
        from flask_appbuilder.security.sqla.models import (Permission, PermissionView, Role, ViewMenu,
                                                           assoc_permissionview_role as assoc)

        from app.extensions import db

        stmt = (sa.select(Role.id, Role.name, Permission.name, ViewMenu.name)
                .select_from(Role)
                .outerjoin(assoc, assoc.c.role_id == Role.id)
                .outerjoin(PermissionView, PermissionView.id == assoc.c.permission_view_id)
                .outerjoin(Permission, Permission.id == PermissionView.permission_id)
                .outerjoin(ViewMenu, ViewMenu.id == PermissionView.view_menu_id))
        stmt = stmt.where(Role.id.in_(role_ids)) if role_ids is not None else stmt.where(Role.name == role_name)
        loaded: dict[int, set[tuple[str, str]]] = {}
        names: dict[str, int] = {}
        for role_id, role_name, perm, view in db.session.execute(stmt):
            names[role_name] = role_id
            pairs = loaded.setdefault(role_id, set())
            if perm is not None and view is not None:
                pairs.add((perm, view))
        with self.lock:
            for role_id, pairs in loaded.items():
                self.by_id[role_id] = frozenset(pairs)
            self.names.update(names)
            if role_name is not None and role_name not in names:
                self.names[role_name] = None  # no such role: no pairs, asked once
            for role_id in role_ids or ():
                self.by_id.setdefault(role_id, frozenset())  # a role deleted meanwhile


def _cache(stamp: str | None) -> _RoleCache:
    """This process's cache for `stamp`: a new, empty one when the stamp moved."""
    app = current_app._get_current_object()
    cache = app.extensions.get(_CACHE_EXT)
    if cache is None or cache.stamp != stamp:
        cache = _RoleCache(stamp)
        app.extensions[_CACHE_EXT] = cache
    return cache


def forget() -> None:
    """Drop this process's cache (the next check loads anew)."""
    if has_app_context():
        current_app.extensions.pop(_CACHE_EXT, None)


def _stamp_statement():
    from app.models import Setting

    return sa.select(Setting.value).where(Setting.key == ROLES_VERSION_KEY)


def _request_stamp() -> str | None:
    """The stamp, read once per request (at every call outside requests)."""
    from app.extensions import db

    if has_request_context():
        stamp = g.get("_sportello_roles_stamp", _UNSEEN)
        if stamp is not _UNSEEN:
            return stamp
    stamp = db.session.scalar(_stamp_statement())
    if has_request_context():
        g._sportello_roles_stamp = stamp
    return stamp


_STAMP_AND_ROLES = None


def _stamp_and_roles_statement():
    """Built once per process (it runs on every staff request): the stamp and the role ids of
    the user :user_id."""
    global _STAMP_AND_ROLES
    if _STAMP_AND_ROLES is None:
        from flask_appbuilder.security.sqla.models import assoc_group_role, assoc_user_group, assoc_user_role

        user_id = sa.bindparam("user_id")
        ids = sa.union(
            sa.select(assoc_user_role.c.role_id.label("role_id")).where(assoc_user_role.c.user_id == user_id),
            sa.select(assoc_group_role.c.role_id)
            .join(assoc_user_group, assoc_user_group.c.group_id == assoc_group_role.c.group_id)
            .where(assoc_user_group.c.user_id == user_id),
        ).subquery()
        anchor = sa.select(sa.literal(1).label("one")).subquery()
        _STAMP_AND_ROLES = (sa.select(_stamp_statement().scalar_subquery().label("stamp"), ids.c.role_id)
                            .select_from(anchor.outerjoin(ids, sa.true())))
    return _STAMP_AND_ROLES


def _stamp_and_roles(user_id: int) -> tuple[str | None, list[int]]:
    """The roles' stamp and the user's role ids (direct and through groups), in one statement,
    a Core one on the session's connection."""
    from app.extensions import db

    db.session.flush()  # as the session's own execute would (nothing to do on a page view)
    rows = db.session.connection().execute(_stamp_and_roles_statement(), {"user_id": user_id}).all()
    stamp = rows[0].stamp if rows else None
    return stamp, sorted({r.role_id for r in rows if r.role_id is not None})


# --- renewing the stamp -----------------------------------------------------------------------

def renew_stamp(connection) -> str:
    """Write a new roles stamp on `connection` (a Connection or a Session), in its transaction."""
    from app.models import Setting
    from app.models.base import utcnow

    table = Setting.__table__
    version, now = uuid.uuid4().hex, utcnow()
    dialect = (getattr(connection, "dialect", None) or connection.get_bind().dialect).name
    if dialect in ("postgresql", "sqlite"):
        insert = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"]).insert
        stmt = insert(table).values(key=ROLES_VERSION_KEY, value=version, updated_at=now)
        connection.execute(stmt.on_conflict_do_update(
            index_elements=[table.c.key], set_={"value": stmt.excluded.value, "updated_at": now}))
    else:
        done = connection.execute(sa.update(table).where(table.c.key == ROLES_VERSION_KEY)
                                  .values(value=version, updated_at=now)).rowcount
        if not done:
            connection.execute(sa.insert(table).values(key=ROLES_VERSION_KEY, value=version, updated_at=now))
    return version


def _tracked():
    """What a role's pairs are made of: (model, attributes whose change alters some role's set)."""
    from flask_appbuilder.security.sqla.models import Group, Permission, PermissionView, Role, ViewMenu

    return ((Role, ("name", "permissions")), (PermissionView, ("permission", "view_menu", "role")),
            (Permission, ("name",)), (ViewMenu, ("name",)), (Group, ("roles",)))


def _changes_roles(session) -> bool:
    tracked = _tracked()
    for obj in (*session.new, *session.deleted):
        if any(isinstance(obj, model) for model, _attrs in tracked):
            return True
    for obj in session.dirty:
        for model, attrs in tracked:
            if isinstance(obj, model):
                state = sa.inspect(obj)
                if any(state.attrs[a].history.has_changes() for a in attrs):
                    return True
    return False


def _renew_on_role_change(session, _context) -> None:
    """A flush that changes what a role holds renews the stamp in the same transaction, and this
    process forgets its cache at once (other processes at their next request)."""
    if _changes_roles(session):
        renew_stamp(session.connection())
        forget()


def register_hooks() -> None:
    """Renew the stamp on every role change made through the ORM, whatever the path."""
    from sqlalchemy.orm import Session

    if not sa.event.contains(Session, "after_flush", _renew_on_role_change):
        sa.event.listen(Session, "after_flush", _renew_on_role_change)
