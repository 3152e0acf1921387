"""Password rules for every account (staff, agents, customers): long passphrases welcome.

NIST SP 800-63B: at least MIN_LENGTH characters, up to MAX_LENGTH accepted, no composition rules
(no "one digit, one capital"), and refused when guessable. Guessability is estimated by zxcvbn
(pinned in requirements.txt), which ships its own frequency lists: 30,000 common passwords, plus
English words, names and surnames, matched also reversed, in l33t spelling and in keyboard or
date patterns. The user's own name, username and e-mail address count as known words, and so
do the product's and company's names. A short local list (app/data/common-passwords.txt) adds
Italian passwords zxcvbn's lists lack. Every path uses `password_complexity`: portal
registration, change and reset, the staff's own change, an admin setting one, FAB's user forms
and `flask sportello init`.
"""
from __future__ import annotations

import re
from pathlib import Path

from flask_appbuilder.exceptions import PasswordComplexityValidationError

from app.i18n import lazy_gettext as _l

MIN_LENGTH = 8
MAX_LENGTH = 128
# zxcvbn's score: 0-1 guessable within minutes online, 2 "somewhat guessable", 3 "safely
# unguessable" (about 10^8 guesses); 3 is what the estimator's authors recommend as a floor.
MIN_SCORE = 3
PRODUCT_WORDS = ("sportello", "portale", "utenza", "bolletta", "gas", "luce", "acqua", "energia")
# Form fields that name the account, read when the caller does not pass them (FAB's forms).
USER_FIELDS = ("username", "first_name", "last_name", "email", "name")

_COMMON_PASSWORDS: frozenset[str] | None = None


def _common_passwords() -> frozenset[str]:
    global _COMMON_PASSWORDS
    if _COMMON_PASSWORDS is None:
        path = Path(__file__).parent / "data" / "common-passwords.txt"
        _COMMON_PASSWORDS = frozenset(
            line.strip().lower() for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#"))
    return _COMMON_PASSWORDS


def _words(values) -> list[str]:
    """The values and their parts (an e-mail's local part, a name's words), lower-case."""
    out: set[str] = set()
    for value in values:
        text = str(value or "").strip().lower()
        if not text:
            continue
        out.add(text)
        out.update(part for part in re.split(r"[\s@._+-]+", text) if len(part) >= 3)
    return sorted(out)


def _context_inputs() -> list[str]:
    """The account's own words from the request: the form's name fields, the signed-in user."""
    from flask import has_request_context, request

    values: list = []
    if has_request_context():
        values += [request.form.get(name) for name in USER_FIELDS]
        from flask_login import current_user

        if getattr(current_user, "is_authenticated", False):
            values += [getattr(current_user, name, "") for name in ("username", "first_name", "last_name", "email")]
    return values


def password_complexity(password: str, user_inputs=None) -> None:
    """Accept long passphrases; refuse short, overlong or guessable passwords."""
    from zxcvbn import zxcvbn

    password = password or ""
    if len(password) < MIN_LENGTH:
        raise PasswordComplexityValidationError(
            str(_l("The password must be at least %(count)d characters long.", count=MIN_LENGTH)))
    if len(password) > MAX_LENGTH:
        raise PasswordComplexityValidationError(
            str(_l("The password is too long: use at most %(count)d characters.", count=MAX_LENGTH)))
    if password.lower() in _common_passwords():
        raise PasswordComplexityValidationError(
            str(_l("This password is too common: choose another one.")))
    words = _words([*(user_inputs or ()), *_context_inputs(), *PRODUCT_WORDS])
    # zxcvbn reads at most 72 characters (its cost grows with length); longer ones score on those.
    result = zxcvbn(password[:72], user_inputs=words)
    # Mostly the account's own words (name.surname1987): guessable by whoever knows the person,
    # even when zxcvbn's count of guesses looks large.
    own = sum(len(m["token"]) for m in result["sequence"] if m.get("dictionary_name") == "user_inputs")
    if result["score"] < MIN_SCORE or own * 2 >= len(password[:72]):
        raise PasswordComplexityValidationError(
            str(_l("This password is easy to guess (a common word, a name, your own details or a "
                   "simple pattern): add a few unusual words, for example a short sentence only you know.")))
