"""Log lines: JSON in production (one object per line, for a log shipper), plain text in
development and the demo. Every line carries the request id of the web request or job run it
belongs to (`request_id.LogFilter`); fields a caller passes in `extra` (ip, username,
billing_operation, outcome, ...) become keys of the JSON object.

`LOG_FORMAT` (json | text) chooses; the default is json when `SPORTELLO_ENV=production`.
"""
from __future__ import annotations

import datetime as dt
import json
import logging

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"

# Attributes every LogRecord has: the rest came from `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, request_id,
    the extras, and the exception's text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False)


def formatter(kind: str) -> logging.Formatter:
    """The formatter for LOG_FORMAT `kind` (json, or text)."""
    return JsonFormatter() if kind == "json" else logging.Formatter(TEXT_FORMAT)
