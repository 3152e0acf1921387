"""One way to hide sensitive values (IBAN, tax code) wherever they are shown.

Lists and search results always show the masked form; a detail page shows the full value only
to roles holding the permission of its kind (`can_see` on `BankData` / `TaxCode`, app.roles).
"""
from __future__ import annotations

from app.roles import BANK_DATA, TAX_CODE

MASK = "•••• •••• "
KEEP = 4

# Field names holding sensitive values, and the pseudo-view whose `can_see` shows them in clear.
SENSITIVE_FIELDS: dict[str, str] = {
    "iban": BANK_DATA,
    "holder_iban": BANK_DATA,
    "tax_code": TAX_CODE,
    "holder_tax_code": TAX_CODE,
}


def mask(value) -> str:
    """`value` with only its last four characters shown: "•••• •••• 3456" ("" when empty)."""
    text = "".join(str(value or "").split())
    if not text:
        return ""
    if text.startswith("•"):  # masked already (stored masked, e.g. audit rows)
        return MASK + text.lstrip("•")[-KEEP:]
    return MASK + text[-KEEP:]


def sensitive_kind(field: str) -> str | None:
    """The permission view guarding `field`, or None when it is not sensitive."""
    return SENSITIVE_FIELDS.get(field)


# --- tokens in URLs (logs) -----------------------------------------------------------------------
import logging  # noqa: E402
import re  # noqa: E402

TOKEN_MASK = "[token]"
# Paths whose last segment is a secret (the portal's password reset link; its route pattern
# `<token>` is none) and query parameters holding one (the invoice link's `t`, CSRF tokens,
# anything called token/code/password).
_TOKEN_PATH = re.compile(r"(/portal/reset/)(?!web-code\b|<)[^/?#\s\"'<>]+")
_TOKEN_QUERY = re.compile(r"([?&](?:t|token|csrf_token|code|web_code|password|secret)=)[^&#\s\"']+",
                          re.IGNORECASE)


def mask_tokens(text: str) -> str:
    """`text` (a URL, a log line) with the secrets carried in links replaced by "[token]"."""
    if not text or ("/reset/" not in text and "=" not in text):
        return text
    text = _TOKEN_PATH.sub(lambda m: m.group(1) + TOKEN_MASK, text)
    return _TOKEN_QUERY.sub(lambda m: m.group(1) + TOKEN_MASK, text)


class TokenMaskingFilter(logging.Filter):
    """Masks link tokens in every field of a record: its message (the app's loggers, Werkzeug's
    request log) and the fields callers pass in `extra` (a path, a URL), which the JSON log
    prints as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the handler's to report
            return True
        masked = mask_tokens(message)
        if masked != message:
            record.msg, record.args = masked, None
        for key, value in list(vars(record).items()):
            if key not in ("msg", "args") and isinstance(value, str):
                clean = mask_tokens(value)
                if clean != value:
                    setattr(record, key, clean)
        return True
