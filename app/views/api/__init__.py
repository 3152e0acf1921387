"""The customers' JSON API under /api/portal/v1/ (F-43, F-61), apart from FAB's own /api/v1.

Who calls: nobody (the public operations), a customer's personal token (`Authorization: Bearer
spt_…`, F-61), or the portal's own session (same origin; its unsafe methods need the CSRF token
in `X-CSRFToken`). A token stands for its customer for that one request only: no session is
made. Every customer object is loaded through the portal's `get_owned_or_404`, so anything not
the caller's is a 404, whatever the operation.

Answers: JSON documents dumped by the marshmallow schemas that also write the OpenAPI document
(/api/portal/v1/openapi.json, shown by the page at /api/portal/v1/docs with FAB's Swagger UI
files); errors as RFC 9457 problem details whose `detail` is in the language of
Accept-Language; lists paged with links (body and `Link` header); ETags on reads (If-None-Match
gives 304); calls counted per token (`API_RATE_LIMIT`); CORS only for the origins of the
`api_cors_origins` setting and only for token calls, never with credentials. Answers are never
stored by caches (no-store, app.views.headers).
"""
from __future__ import annotations

import functools
from typing import Callable

from flask import Blueprint, current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import csrf, limiter
from app.i18n import gettext as _, lazy_gettext as _l

PREFIX = "/api/portal/v1"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PROBLEM = "application/problem+json"

bp = Blueprint("api_portal", __name__, url_prefix=PREFIX)
csrf.exempt(bp)  # session calls are checked below; token calls carry no ambient credential


class ApiProblem(HTTPException):
    """An error answered as problem details; `errors` maps fields to messages."""

    def __init__(self, status: int, detail=None, errors: dict | None = None, headers: dict | None = None):
        super().__init__(description=str(detail))
        self.code = status
        self.detail, self.errors, self.extra_headers = detail, errors or {}, headers or {}


_TITLES = {400: _l("Bad request"), 401: _l("Authentication required"), 403: _l("Forbidden"),
           404: _l("Not found"), 405: _l("Method not allowed"), 406: _l("Not acceptable"),
           409: _l("Conflict"), 410: _l("Gone"), 413: _l("Request too large"), 415: _l("Unsupported media type"),
           422: _l("Invalid data"), 429: _l("Too many requests"), 500: _l("Internal error")}
_DETAILS = {400: _l("The request could not be understood."),
            401: _l("Send a valid personal API token (Authorization: Bearer …) or sign in to the portal."),
            403: _l("This call is not allowed."),
            404: _l("There is nothing at this address, or it is not yours."),
            405: _l("This method is not allowed here."),
            406: _l("This address cannot answer in the format asked."),
            413: _l("The request is too large."),
            415: _l("Send the data as JSON (Content-Type: application/json)."),
            429: _l("Too many calls in a short while: wait a little and try again."),
            500: _l("Something went wrong on our side: nothing has been changed. Try again later.")}


def problem(status: int, detail=None, errors: dict | None = None, headers: dict | None = None):
    """A problem details answer (RFC 9457)."""
    body = {"type": "about:blank", "title": str(_TITLES.get(status, _l("Error"))), "status": status,
            "detail": str(detail if detail is not None else _DETAILS.get(status, _TITLES.get(status, ""))),
            "instance": request.path}
    if errors:
        body["errors"] = {k: str(v) for k, v in errors.items()}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="sportello"'
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if isinstance(exc, ApiProblem):
        return problem(exc.code, exc.detail, exc.errors, exc.extra_headers)
    if isinstance(exc, CSRFError):
        return problem(403, _("The CSRF token is missing or wrong: send the portal's token in X-CSRFToken."))
    headers = {}
    if exc.code == 429:
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "retry-after"}
    if exc.code == 405 and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    code = exc.code if exc.code in _TITLES else 400
    return problem(code, None, headers=headers)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    current_app.logger.exception("API call failed: %s %s", request.method, request.path)
    from app.extensions import db

    db.session.rollback()
    return problem(500)


def api_not_found(exc):
    """An address under the API that matches no operation (handed over by the app's handler)."""
    return _http_error(exc)


# --- who calls -------------------------------------------------------------------------------

def _bearer() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _sep, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiProblem(401, _("Send the token as: Authorization: Bearer <token>."))
    return value.strip()


LANGUAGES = ("it", "en")


def _choose_language() -> None:
    """The answer's language: Accept-Language (Italian when it names neither language). The
    portal's session choice does not apply here, and no session is written for it."""
    from babel import Locale
    from flask_babel import _get_current_context

    lang = request.accept_languages.best_match(LANGUAGES, default="it")
    _get_current_context().babel_locale = Locale.parse(lang)


@bp.before_request
def _authenticate():
    from app.services.portal import api_tokens

    g.api_token = None
    _choose_language()
    if request.method == "OPTIONS":
        return _preflight()
    secret = _bearer()
    if secret is not None:
        token = api_tokens.token_for(secret)
        if token is None:
            raise ApiProblem(401, _("This token is not valid: it may have expired or been revoked."))
        g.api_token = token
        g._login_user = token.user  # the customer for this request only (Flask-Login reads it)
        api_tokens.mark_used(token)
    elif request.method not in SAFE_METHODS and getattr(current_user, "customer_id", None):
        csrf.protect()  # a portal session: same-origin calls with the page's CSRF token


@bp.teardown_request
def _forget_token_user(_exc):
    """A token's customer stands for one request: nothing of it outlives the request, even
    where an app context is shared by several requests (tests, embedded servers)."""
    if g.pop("api_token", None) is not None:
        g.pop("_login_user", None)


def customer_id() -> int | None:
    return getattr(current_user, "customer_id", None) if current_user.is_authenticated else None


def customer_call(view: Callable) -> Callable:
    """Only for a customer (token or session); 401 otherwise."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if customer_id() is None:
            raise ApiProblem(401)
        return view(*args, **kwargs)
    wrapped.customer_call = True
    return wrapped


def needs_readings_scope() -> None:
    """A token must be allowed to submit readings (a session always is)."""
    from app.models import TokenScope

    token = g.get("api_token")
    if token is not None and token.scope != TokenScope.READINGS:
        raise ApiProblem(403, _("This token may only read: create one that may submit readings."))


def _rate_key() -> str:
    """One count per token (the limiter runs before the token is looked up: keyed by a digest
    of the secret, never the secret), else per portal customer, else per address."""
    import hashlib

    header = request.headers.get("Authorization") or ""
    scheme, _sep, secret = header.strip().partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return "api-token:" + hashlib.sha256(secret.strip().encode("utf-8")).hexdigest()[:32]
    cid = customer_id()
    if cid is not None:
        return f"api-customer:{cid}"
    from flask_limiter.util import get_remote_address

    return f"api-ip:{get_remote_address()}"


limiter.limit(lambda: current_app.config.get("API_RATE_LIMIT", "120 per minute"), key_func=_rate_key,
              exempt_when=lambda: request.method == "OPTIONS")(bp)


# --- CORS: listed origins, token calls, no credentials ----------------------------------------

_ALLOWED_HEADERS = "Authorization, Content-Type, Accept, Accept-Language, If-None-Match"
_EXPOSED_HEADERS = "ETag, Link, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining"


def _allowed_origin() -> str | None:
    from app.services.core import settings

    origin = (request.headers.get("Origin") or "").rstrip("/").lower()
    return origin if origin and origin in settings.origins("api_cors_origins") else None


def _preflight():
    response = current_app.make_response(("", 204))
    origin = _allowed_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Allow-Headers"] = _ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    response.headers["Vary"] = "Origin"
    return response


@bp.after_request
def _finish(response):
    if request.method == "OPTIONS":
        return response
    if g.get("api_token") is not None:
        origin = _allowed_origin()
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS
    response.vary.add("Origin")
    response.vary.add("Authorization")
    response.vary.add("Accept-Language")
    if request.method == "GET" and response.status_code == 200 and not response.direct_passthrough:
        response.add_etag()
        response.make_conditional(request)
    return response


from . import docs, routes  # noqa: E402,F401  (operations and the document)
