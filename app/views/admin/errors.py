"""Staff error pages: 400, 403, 404, 405, 429 and 500 in the staff (FAB) layout and language,
with the way back to the start page, never a bare Werkzeug page.

The customer portal keeps its own pages: for a portal URL (or the customers' API) the error is
handed to the handler the portal blueprint registered for it, if any, else answered as it was.
"""
from __future__ import annotations

import logging

from flask import current_app, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from app.i18n import gettext as _

log = logging.getLogger(__name__)

CODES = (400, 403, 404, 405, 429, 500)
CUSTOMER_PREFIXES = ("/portal", "/api/")


def _texts(code: int) -> tuple[str, str]:
    """(title, explanation) of an error, in the user's language."""
    return {
        400: (_("The request could not be understood"),
              _("The page received data it cannot use. Go back, reload the page and try again.")),
        403: (_("You may not open this page"),
              _("Your role does not include this page. If your work needs it, ask an administrator "
                "to add the permission to your role.")),
        404: (_("Page not found"),
              _("The page does not exist or the record is no longer here: it may have been moved "
                "to another list, or the address is mistyped.")),
        405: (_("This page cannot be opened this way"),
              _("Use the page's buttons instead of typing or reloading its address.")),
        429: (_("Too many attempts"),
              _("Too many requests in a short time. Wait a minute and try again.")),
        500: (_("Something went wrong on our side"),
              _("The error has been recorded. Nothing was saved by the step that failed: try again "
                "in a moment, and tell the administrators if it happens again.")),
    }[code]


def _is_customer_path() -> bool:
    return request.blueprint == "portal" or request.path.startswith(CUSTOMER_PREFIXES)


def _portal_handler(exc):
    """The handler the portal blueprint registered for this error, if any."""
    handlers = current_app.error_handler_spec.get("portal", {})
    code = getattr(exc, "code", None)
    for key in (code, None):
        for cls in type(exc).__mro__:
            handler = handlers.get(key, {}).get(cls)
            if handler is not None:
                return handler
    return None


def staff_error(exc):
    """Answer an error with the staff page (or hand a customer's URL to the portal)."""
    http = exc if isinstance(exc, HTTPException) else InternalServerError(original_exception=exc)
    code = http.code if http.code in CODES else 500
    if request.path.startswith("/api/portal/"):
        from app.views.api import api_not_found

        return api_not_found(http)
    if _is_customer_path():
        handler = _portal_handler(http)
        return handler(http) if handler is not None else http
    if code == 500:
        from app.extensions import db

        db.session.rollback()  # the layout reads the user's menu: start from a clean session
    title, text = _texts(code)
    text = str(getattr(http, "user_text", "") or text)  # a refusal that says what was wrong
    try:
        appbuilder = current_app.appbuilder
        body = render_template("admin/error.html", appbuilder=appbuilder,
                               base_template=appbuilder.base_template, code=code, title=title, text=text)
    except Exception:  # noqa: BLE001 - the error page itself must not fail
        log.exception("The staff error page could not be rendered")
        body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{text}</p><p><a href='/'>{_('Start page')}</a></p>"
    response = current_app.make_response((body, code))
    if code == 429 and http.get_headers():
        for name, value in http.get_headers():
            if name.lower() == "retry-after":
                response.headers[name] = value
    return response


def register_error_pages(app) -> None:
    for code in CODES:
        app.register_error_handler(code, staff_error)
