"""Permission checks for code outside FAB's own views: one vocabulary, FAB permissions.

A guard asks whether the current user, through any of their roles, holds a permission on a
view (`can_validate` on `ContractWorkflow`, `can_access` on `Sales`, ...). Role names are never
compared here.
"""
from __future__ import annotations

from flask import current_app

from app.roles import SEE


def can_see(permission_view: str) -> bool:
    """True when the current user's roles may see a sensitive field in clear."""
    return current_app.appbuilder.sm.has_access(SEE, permission_view)
