"""Helpers shared by the sales pages: access check, rendering inside the staff layout, forms."""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length

from app.services.sales.contracts import actor_roles
from app.services.sales.portfolio import SALES_ROLES


def sales_access(view):
    """Logged-in staff of the sales network only (agents, back office, credit check, managers)."""
    @login_required
    @wraps(view)
    def wrapper(*args, **kwargs):
        if getattr(current_user, "customer_id", None) or not actor_roles(current_user) & SALES_ROLES:
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def render(template: str, **ctx):
    """Render a sales page inside FAB's layout (menu, language switch, flash messages)."""
    appbuilder = current_app.appbuilder
    return render_template(template, appbuilder=appbuilder, base_template=appbuilder.base_template, **ctx)


class ActionForm(FlaskForm):
    """A workflow button: the action and, where needed, the reason."""

    action = HiddenField()
    reason = TextAreaField(_l("Reason"), [Length(max=2000)])


class PostForm(FlaskForm):
    """An empty form: only the CSRF token (buttons that change state)."""
