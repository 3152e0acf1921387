"""The mail catcher's SMTP side: aiosmtpd accepting everything and storing it."""
from __future__ import annotations

import logging

from .store import MailStore

log = logging.getLogger(__name__)


class CatcherHandler:
    """aiosmtpd handler: every message is accepted and kept."""

    def __init__(self, store: MailStore):
        self.store = store

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        name = self.store.save(data, envelope.mail_from or "", list(envelope.rcpt_tos))
        log.info("Kept %s for %s", name, ", ".join(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def start(directory, host: str = "127.0.0.1", port: int = 8025):
    """Start the server in a background thread; returns the aiosmtpd Controller (`.stop()`)."""
    from aiosmtpd.controller import Controller

    controller = Controller(CatcherHandler(MailStore(directory)), hostname=host, port=port,
                            data_size_limit=50 * 1024 * 1024)
    controller.start()
    return controller
