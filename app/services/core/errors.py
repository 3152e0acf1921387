"""The one base of the errors services raise for people: a translated message and, when it
belongs to one, the form field it is shown next to."""
from __future__ import annotations


class DomainError(Exception):
    """A rule refused what was asked; `str()` is the message for the user (translated), `field`
    the form field it belongs to (None: shown above the form)."""

    default_field: str | None = None

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field if field is not None else self.default_field


class ConnectionFailed(DomainError):
    """A connection test to an outside system failed; the message is the error as the system or
    the network gave it (never credentials)."""
