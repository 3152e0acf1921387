"""Production refuses a guessable SECRET_KEY and an unset PUBLIC_BASE_URL."""
from __future__ import annotations

import secrets

import pytest

from config import Config

BASE = {"PRODUCTION": True, "PUBLIC_BASE_URL": "https://sportello.example.it", "SQLALCHEMY_DATABASE_URI": "sqlite://"}


@pytest.mark.parametrize("key", ["a" * 40, "ab" * 20, "abcdefgh" * 4, "0123456789" * 4])
def test_production_refuses_low_entropy_secret_key(key):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        Config.finalize({**BASE, "SECRET_KEY": key})


def test_production_accepts_generated_secret_keys():
    for key in (secrets.token_urlsafe(48), secrets.token_urlsafe(32), secrets.token_hex(32)):
        Config.finalize({**BASE, "SECRET_KEY": key})


def test_production_requires_public_base_url():
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        Config.finalize({**BASE, "SECRET_KEY": secrets.token_urlsafe(48), "PUBLIC_BASE_URL": ""})
    dev = {"PRODUCTION": False, "SECRET_KEY": "x" * 40, "PUBLIC_BASE_URL": "", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    Config.finalize(dev)
    assert dev["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
