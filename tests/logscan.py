"""Every log record of the test run goes to one file; at the end of the session the file is
searched for the fixtures' IBANs, passwords and tokens, and the run fails on any of them.

Searched for: every value listed in FIXTURE_SECRETS (tests/factories.py, the portal and API
fixtures, the test configuration's keys), any valid IBAN written in full (the simulator's demo
data makes many), any invoice link's token (`?t=` followed by a signed value) and any password
reset link's token (`/reset/` followed by one).
"""
from __future__ import annotations

import logging
import re

import pytest

# Values the fixtures and the demo data use, which no log line may carry.
FIXTURE_SECRETS = (
    "IT60X0542811101000000123456", "IT60X0542811101000000123457", "IT61X0542811101000000123456",  # factories
    "correct horse battery staple", "una passphrase lunga e sicura", "another long passphrase 42",  # passwords
    "Scuola Dante Alighieri",  # the portal fixtures' security answer
    "test-secret-key-not-for-production-000000",  # TestConfig.SECRET_KEY
    "smtp-pass-Zq81", "billing-pass-Xw42",  # the settings page's connection secrets
    "metrics-scrape-token-for-tests-0001",  # the metrics tests' bearer token
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b")
_LINK_TOKEN = re.compile(r"[?&]t=[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_.-]{8,}")
_RESET_TOKEN = re.compile(r"/reset/[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_.-]{8,}")

_path_key = pytest.StashKey[str]()


def findings(text: str) -> list[str]:
    """What the log text leaks: each fixture secret, full IBAN or link token found, once."""
    from stdnum import iban

    found = [value for value in FIXTURE_SECRETS if value in text]
    found += sorted({m for m in _IBAN.findall(text) if iban.is_valid(m)} - set(found))
    found += sorted(set(_LINK_TOKEN.findall(text)) | set(_RESET_TOKEN.findall(text)))
    return found


@pytest.fixture(scope="session", autouse=True)
def log_record_file(tmp_path_factory, request):
    """Write every log record (INFO and above) of the session to a file; fail the session when
    it leaks a secret."""
    from app.services.core.logs import JsonFormatter
    from app.services.core.request_id import LogFilter

    path = tmp_path_factory.getbasetemp() / "test-run.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.addFilter(LogFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the test SMTP server's dialogue
    request.config.stash[_path_key] = str(path)
    yield path
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()
    leaks = findings(path.read_text(encoding="utf-8", errors="replace"))
    assert not leaks, f"the test run's logs ({path}) carry secrets: {leaks}"


def terminal_summary(terminalreporter) -> None:
    path = terminalreporter.config.stash.get(_path_key, None)
    if path:
        terminalreporter.write_line(f"log records of this run: {path} (checked for fixture IBANs, passwords, tokens)")
