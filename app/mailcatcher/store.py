"""The mail catcher's message store: one .eml file per message, newest first."""
from __future__ import annotations

import datetime as dt
import email
import os
import re
import uuid
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

NAME = re.compile(r"^\d{8}T\d{6}\d{6}-[0-9a-f]{8}\.eml$")
KEEP = 2000  # the oldest messages go beyond this many


@dataclass
class Part:
    index: int
    content_type: str
    filename: str
    size: int
    is_attachment: bool


@dataclass
class StoredMessage:
    name: str
    received: dt.datetime
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def sender(self) -> str:
        return str(self.message.get("From", ""))

    @property
    def to(self) -> str:
        return str(self.message.get("X-Mailcatcher-Rcpt") or self.message.get("To", ""))

    def text(self) -> str:
        body = self.message.get_body(("plain",))
        return body.get_content() if body is not None else ""

    def html(self) -> str:
        body = self.message.get_body(("html",))
        return body.get_content() if body is not None else ""

    def parts(self) -> list[Part]:
        out = []
        for index, part in enumerate(self.message.walk()):
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True) or b""
            out.append(Part(index, part.get_content_type(), part.get_filename() or "", len(payload),
                            part.get_content_disposition() == "attachment"))
        return out

    def part(self, index: int):
        for i, part in enumerate(self.message.walk()):
            if i == index and not part.is_multipart():
                return part
        return None

    def calendars(self) -> list[str]:
        """The iCalendar texts in the message (invitations), each once."""
        seen = []
        for part in self.message.walk():
            if part.get_content_type() in ("text/calendar", "application/ics"):
                data = part.get_payload(decode=True) or b""
                text = data.decode(part.get_content_charset() or "utf-8", errors="replace")
                if text not in seen:
                    seen.append(text)
        return seen


class MailStore:
    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)

    def save(self, data: bytes, mail_from: str = "", rcpt_tos: list[str] = ()) -> str:
        """Store one received message (envelope added as X-Mailcatcher-* headers); returns its name."""
        self.dir.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        name = f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        envelope = (f"X-Mailcatcher-From: {mail_from}\r\n"
                    f"X-Mailcatcher-Rcpt: {', '.join(rcpt_tos)}\r\n").encode("utf-8", "replace")
        tmp = self.dir / (name + ".tmp")
        tmp.write_bytes(envelope + data)
        tmp.rename(self.dir / name)
        self._trim()
        return name

    def _trim(self) -> None:
        names = self.names()
        for old in names[KEEP:]:
            (self.dir / old).unlink(missing_ok=True)

    def names(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted((p.name for p in self.dir.iterdir() if NAME.match(p.name)), reverse=True)

    def get(self, name: str) -> StoredMessage | None:
        if not NAME.match(name or ""):  # never a path from the URL
            return None
        path = self.dir / name
        if not path.is_file():
            return None
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        received = dt.datetime.strptime(name[:21], "%Y%m%dT%H%M%S%f").replace(tzinfo=dt.UTC)
        return StoredMessage(name, received, msg)

    def latest(self, limit: int = 200) -> list[StoredMessage]:
        return [m for m in (self.get(n) for n in self.names()[:limit]) if m is not None]

    def clear(self) -> int:
        names = self.names()
        for name in names:
            (self.dir / name).unlink(missing_ok=True)
        return len(names)
