"""Password rules for every account (staff, agents, customers): long passphrases welcome."""
from __future__ import annotations

from pathlib import Path

from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_babel import lazy_gettext as _l

_COMMON_PASSWORDS: frozenset[str] | None = None


def _common_passwords() -> frozenset[str]:
    global _COMMON_PASSWORDS
    if _COMMON_PASSWORDS is None:
        path = Path(__file__).parent / "data" / "common-passwords.txt"
        _COMMON_PASSWORDS = frozenset(
            line.strip().lower() for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#"))
    return _COMMON_PASSWORDS


def password_complexity(password: str) -> None:
    """Accept long passphrases; refuse short or well-known passwords (NIST SP 800-63B)."""
    if len(password or "") < 10:
        raise PasswordComplexityValidationError(
            str(_l("The password must be at least 10 characters long.")))
    if len(password) > 128:
        raise PasswordComplexityValidationError(str(_l("The password is too long.")))
    if password.lower() in _common_passwords():
        raise PasswordComplexityValidationError(
            str(_l("This password is too common: choose another one.")))
