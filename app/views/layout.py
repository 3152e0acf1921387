"""The staff layout's helpers (back office and /sales/ pages share FAB's layout, overridden in
app/templates/appbuilder/): the page title, "Error" in it when a form failed, the page language."""
from __future__ import annotations

from jinja2 import pass_context

from app.i18n import gettext as _, locale_id


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


def register(appbuilder) -> None:
    from flask import current_app

    current_app.jinja_env.globals.update(page_failed=page_failed, page_title=page_title,
                                                page_language=locale_id)
