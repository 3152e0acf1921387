"""Security headers on every response: a per-request nonce CSP, no caching of pages, HSTS.

Scripts run only from our own files or from inline blocks carrying this request's nonce (FAB 5's
templates print `csp_nonce()` when the function exists); no `'unsafe-inline'` for scripts
anywhere. The back office keeps inline *styles* (FAB's templates use `style=` attributes); the
portal allows none. Pages are never stored by browsers or proxies (they show IBANs, tax codes,
invoices); static files stay cacheable. A view that sets its own policy (the mail catcher's
sandbox) keeps it.

Framing: every page refuses to be framed by another site (`frame-ancestors 'self'`,
`X-Frame-Options: SAMEORIGIN`) except the website widgets (app.views.widgets), which call
`allow_framing()`: their policy names the origins of the `widget_origins` setting and they send
no X-Frame-Options (it cannot name an origin, and would override the policy in old browsers).
"""
from __future__ import annotations

import secrets

from flask import Flask, g, request

PORTAL_PREFIX = "/portal"
CUSTOMER_PAGES = (PORTAL_PREFIX + "/", "/widgets/")  # no inline styles there


def csp_nonce() -> str:
    """This request's script nonce, made on first use."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy(nonce: str, *, inline_styles: bool, frame_ancestors: str = "'self'") -> str:
    """The policy of a page: our own origin only, scripts by file or by nonce."""
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return ("default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            f"style-src {styles}; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
            f"form-action 'self'; base-uri 'self'; object-src 'none'; frame-ancestors {frame_ancestors}")


def allow_framing(sources: str) -> None:
    """This response may be framed by `sources` (a frame-ancestors source list)."""
    g.frame_ancestors = sources


def _is_static() -> bool:
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def register_security_headers(app: Flask) -> None:
    """Add the headers to every response of `app`."""
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _security_headers(response):
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        framed_by = g.get("frame_ancestors")
        if framed_by is None:
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        customer = request.path.startswith(CUSTOMER_PAGES) or request.path == PORTAL_PREFIX
        response.headers.setdefault("Content-Security-Policy", content_security_policy(
            csp_nonce(), inline_styles=not customer, frame_ancestors=framed_by or "'self'"))
        if not _is_static():
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        hsts = app.config.get("HSTS_SECONDS") or 0
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", f"max-age={int(hsts)}; includeSubDomains")
        return response
