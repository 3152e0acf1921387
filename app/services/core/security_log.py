"""The security log: authentication events on the logger `sportello.security`.

Every record carries `event`, `ip`, `username` and `request_id` as extra fields (the JSON log
formatter prints them); never a password, code, token or secret. Events: sign-in failed or
succeeded, lock, lock lifted, second-factor steps, logout, session expired, 429 answers and
permission denials.
"""
from __future__ import annotations

import logging

from flask import has_request_context, request

from app.services.core import request_id

log = logging.getLogger("sportello.security")


def client_ip() -> str:
    """The client's address as the app sees it (after the trusted proxies, see PROXY_COUNT)."""
    return (request.remote_addr or "-") if has_request_context() else "-"


def event(name: str, username: str | None = None, *, level: int = logging.INFO, **fields) -> None:
    """Log one security event with the request's address and id (a token in a field masked)."""
    from app.services.core.masking import mask_tokens

    fields = {k: mask_tokens(v) if isinstance(v, str) else v for k, v in fields.items()}
    extra = {"event": name, "ip": client_ip(), "username": (username or "-")[:120],
             "request_id": request_id.current() or "-", **fields}
    detail = " ".join(f"{k}={v}" for k, v in fields.items())
    log.log(level, "%s username=%s ip=%s%s", name, extra["username"], extra["ip"],
            f" {detail}" if detail else "", extra=extra)


def request_place() -> dict[str, str]:
    """Where a request went, for a log record: its route pattern and its path with any token
    masked (a reset link's path is a secret)."""
    from app.services.core.masking import mask_tokens

    rule = request.url_rule.rule if request.url_rule is not None else "-"
    return {"route": rule, "path": mask_tokens(request.path)[:200]}


class ForwardDenials(logging.Filter):
    """FAB's permission checks log a denial on their own logger: repeat it here, with the
    address, the user and the request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING and "denied" in str(record.msg).lower() and has_request_context():
            from flask_login import current_user

            from flask import g

            name = getattr(current_user, "username", None) if current_user else None
            event("permission_denied", name, level=logging.WARNING, **request_place())
            g.sportello_denial_logged = True  # the 403 answer adds no second record
        return True
