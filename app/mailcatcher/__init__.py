"""A local mail catcher for development and demos: an SMTP server (aiosmtpd) that keeps every
message it receives as an .eml file, and the reading side used by the admin page.

    python -m app.mailcatcher --port 8025 --dir var/mailcatcher

`make run` starts it on MAIL_PORT (8025) so a new user sees what the product sends without a
mail server. Production points MAIL_SERVER at a real SMTP server instead.
"""
from .store import MailStore, StoredMessage  # noqa: F401
