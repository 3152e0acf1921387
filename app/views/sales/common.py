"""Helpers shared by the sales pages: access check, rendering inside the staff layout, forms."""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app, render_template
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length

from app.i18n import lazy_gettext as _l
from app.permissions import has_permission
from app.roles import AGENT, BACK_OFFICE, CREDIT_CHECK, MANAGER

# Every page of the blueprint needs this permission; what a page shows or changes is then up
# to the services' own permissions (workflow, portfolio, commissions).
SALES = "Sales"
ACCESS = "can_access"
ROLE_GRANTS = {role: {SALES: (ACCESS,)} for role in (AGENT, BACK_OFFICE, CREDIT_CHECK, MANAGER)}


def sales_access(view):
    """Logged-in staff holding `can_access` on `Sales` (never a portal customer's account)."""
    @login_required
    @wraps(view)
    def wrapper(*args, **kwargs):
        if getattr(current_user, "customer_id", None) or not has_permission(current_user, ACCESS, SALES):
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def forbidden(error):
    """The sales pages' 403: a plain page in the staff layout, with the way back."""
    return render("sales/forbidden.html"), 403


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
