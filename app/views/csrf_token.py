"""The CSRF token of a request's forms, signed once per session token.

Flask-WTF signs the session's token anew on every request that shows a form (the layout's
language and sign-out buttons are forms): an HMAC with a time stamp, about as much work as the
rest of a page's footer. Tokens here live as long as the session (`WTF_CSRF_TIME_LIMIT = None`,
config.py), so a session token's signature is as good at the next request as at this one: it
is kept, per process, for the most recent sessions, and set where Flask-WTF keeps the request's
token before the request starts, so that templates and forms find it there. A session without a
token yet, or a configured time limit, leaves the signing to Flask-WTF.
"""
from __future__ import annotations

from functools import lru_cache

from flask import current_app, g, session
from itsdangerous import URLSafeTimedSerializer


@lru_cache(maxsize=4096)
def _signed(secret_key: str | bytes, raw: str) -> str:
    return URLSafeTimedSerializer(secret_key, salt="wtf-csrf-token").dumps(raw)


def _known_token() -> None:
    config = current_app.config
    if config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return
    if not session:  # a request without a session (probes, the API): nothing to sign, nothing read
        return
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    raw = session.get(field)
    if isinstance(raw, str):
        setattr(g, field, _signed(config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key, raw))


def init_app(app) -> None:
    app.before_request(_known_token)
