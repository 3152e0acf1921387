"""The staff layout's helpers (back office and /sales/ pages share FAB's layout, overridden in
app/templates/appbuilder/): the page title, "Error" in it when a form failed, the page language."""
from __future__ import annotations

from flask import current_app, g, request
from jinja2 import pass_context
from markupsafe import Markup

from app.i18n import gettext as _, locale_id

_MENUS_EXT = "sportello.staff_menus"
_MENUS_KEPT = 256  # menus kept per process (sets of visible entries x languages x mount points)


@pass_context
def page_failed(ctx) -> bool:
    """True when the page shows a form that failed validation (ours or FAB's add/edit widget)."""
    form = ctx.get("form")
    if getattr(form, "errors", None):
        return True
    widgets = ctx.get("widgets")
    if hasattr(widgets, "get"):
        for key in ("add", "edit"):
            widget = widgets.get(key)
            form = getattr(widget, "template_args", {}).get("form") if widget is not None else None
            if getattr(form, "errors", None):
                return True
    return False


@pass_context
def page_title(ctx, heading: str | None = None) -> str:
    """"Heading – Sportello", with "Error: " first when a form on the page failed."""
    app_name = getattr(ctx.get("appbuilder"), "app_name", "") or "Sportello"
    text = str(heading or ctx.get("title") or "").strip()
    title = f"{text} – {app_name}" if text and text != app_name else app_name
    return f"{_('Error')}: {title}" if page_failed(ctx) else title


@pass_context
def navbar_menu(ctx) -> Markup:
    """The menu of the navigation bar (appbuilder/navbar_menu.html). What it shows depends only
    on the menu entries the user may see (their `menu_access` permissions), the language and the
    mount point, so it is rendered once per process for each such combination; permissions are
    still read per request, so a change to a role shows at the next page."""
    appbuilder = ctx.get("appbuilder") or current_app.appbuilder
    template = current_app.jinja_env.get_template("appbuilder/navbar_menu.html")
    context = {**ctx.get_all(), "menu": appbuilder.menu}
    if g.get("_api_key_user"):  # FAB's API-key users: its own checks, uncached
        return Markup(template.render(context))
    key = (frozenset(appbuilder.sm.get_user_menu_access()), locale_id(), request.script_root)
    menus = current_app.extensions.setdefault(_MENUS_EXT, {})
    html = menus.get(key)
    if html is None:
        html = Markup(template.render(context))
        if len(menus) >= _MENUS_KEPT:
            menus.clear()
        menus[key] = html
    return html


def register(appbuilder) -> None:
    from flask import current_app

    current_app.jinja_env.globals.update(page_failed=page_failed, page_title=page_title,
                                         page_language=locale_id, navbar_menu=navbar_menu)
