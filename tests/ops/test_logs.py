"""Log lines as production writes them (JSON, one object per line, with the request id and
the caller's fields) and the run-wide check for secrets in the logs."""
from __future__ import annotations

import io
import json
import logging

from app.services.core import request_id
from app.services.core.logs import JsonFormatter
from tests.logscan import findings


def _line(message, *args, **extra) -> dict:
    record = logging.LogRecord("sportello.security", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    request_id.LogFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_a_json_line_carries_the_request_id_and_the_extra_fields():
    token = request_id.bind("req-1234")
    try:
        line = _line("login refused for %s", "mrossi", ip="192.0.2.7", username="mrossi")
    finally:
        request_id.reset(token)
    assert line["message"] == "login refused for mrossi"
    assert (line["level"], line["logger"], line["request_id"]) == ("WARNING", "sportello.security", "req-1234")
    assert (line["ip"], line["username"]) == ("192.0.2.7", "mrossi")
    assert line["time"].endswith("+00:00")


def test_outside_a_request_the_id_is_a_dash():
    assert _line("scheduler started")["request_id"] == "-"


def test_the_log_check_finds_fixture_secrets_full_ibans_and_link_tokens():
    assert findings("customer IT60X0542811101000000123456 saved") == ["IT60X0542811101000000123456"]
    assert findings("IBAN DE89370400440532013000 on file") == ["DE89370400440532013000"]
    assert findings("GET /portal/invoices/5?t=eyJpbnZvaWNlIjo1fQ.Z2xpbmsx.c2lnbmF0dXJl 200") != []
    assert findings("password correct horse battery staple") == ["correct horse battery staple"]
    # Masked values and codes that merely look like IBANs pass.
    assert findings("IT60X••••••••••••••••23456, POD IT001E12345678, GET /portal/invoices/5 200") == []


def _fresh_app(database_url, tmp_path, **overrides):
    """A second app, created with the root logger's handlers and FAB's denial logger as a new
    process finds them (whatever the session's app has attached)."""
    from app import create_app
    from app.services.core.security_log import ForwardDenials
    from config import TestConfig

    class Cfg(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        BILLING_WSDL_CACHE_DIR = str(tmp_path / "wsdl")

    denials = logging.getLogger("flask_appbuilder.security.decorators")
    forward = [f for f in denials.filters if isinstance(f, ForwardDenials)]
    for f in forward:
        denials.removeFilter(f)
    try:
        return create_app(Cfg, **overrides)
    finally:
        for f in denials.filters:
            if isinstance(f, ForwardDenials):
                denials.removeFilter(f)
        for f in forward:
            denials.addFilter(f)


def test_logging_debug_app_starts_without_root_handlers(database_url, tmp_path):
    """`flask --debug run`: no handler on the root logger yet, and the app still starts."""
    root = logging.getLogger()
    saved = list(root.handlers)
    for handler in saved:
        root.removeHandler(handler)
    try:
        app = _fresh_app(database_url, tmp_path, DEBUG=True)
    finally:
        for handler in saved:
            root.addHandler(handler)
    assert app.debug and app.url_map.bind("localhost").match("/portal/login")


def test_logging_every_root_handler_masks_tokens(database_url, tmp_path):
    from app.services.core.masking import TokenMaskingFilter

    first, second = logging.StreamHandler(io.StringIO()), logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(first)
    root.addHandler(second)
    try:
        _fresh_app(database_url, tmp_path)
        root.warning("GET %s", "/portal/reset/eyJ1IjoxfQ.aGVsbG8xMjM.c2lnbmF0dXJlMTIz")
    finally:
        root.removeHandler(first)
        root.removeHandler(second)
    for handler in (first, second):
        assert any(isinstance(f, TokenMaskingFilter) for f in handler.filters)
        assert handler.stream.getvalue().splitlines()[-1] == "GET /portal/reset/[token]"
