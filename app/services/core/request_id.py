"""One id per web request and per job run, for logs and for the rows a request queues.

The web layer and the job runner set it (`bind`); services read it (`current`) when they queue
an outbox write or an e-mail, so a row can be traced back to the request that caused it. A
request id from a proxy (`X-Request-ID`) is taken only when the proxy is trusted.
"""
from __future__ import annotations

import contextvars
import logging
import re
import uuid

_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("sportello_request_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new() -> str:
    return uuid.uuid4().hex


def accept(header: str | None) -> str:
    """The proxy's request id when it is well-formed, else a new one."""
    return header if header and _VALID.match(header) else new()


def bind(request_id: str | None = None) -> contextvars.Token:
    """Make `request_id` (or a new id) the current one; returns the token for `reset`."""
    return _CURRENT.set(request_id or new())


def reset(token: contextvars.Token) -> None:
    _CURRENT.reset(token)


def current() -> str | None:
    return _CURRENT.get()


class LogFilter(logging.Filter):
    """Adds `request_id` to every log record ("-" outside requests and jobs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _CURRENT.get() or "-"
        return True
