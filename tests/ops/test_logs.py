"""Log lines as production writes them (JSON, one object per line, with the request id and
the caller's fields) and the run-wide check for secrets in the logs."""
from __future__ import annotations

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
