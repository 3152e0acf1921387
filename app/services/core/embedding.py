"""The portal embedded in the company's website (F-43): who may frame the widgets, and how a
widget's form proves it came from a widget page without any cookie.

A widget page runs in a frame of another site, where the browser sends and keeps no cookie of
ours (SameSite=Lax), so the session-bound CSRF token cannot work there. A widget's form carries
instead a token signed with the app's secret key that names the widget it was made for, the
website origin the page was shown to (empty when opened directly) and when it was made; it is
good for `TOKEN_SECONDS`. On top of it, every post must come from our own origin (the frame's
document) or from an origin the `widget_origins` setting lists: a browser always names the
origin of a POST (`Origin`, `Sec-Fetch-Site`), and a page elsewhere cannot forge either.
"""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.services.core import settings

SETTING = "widget_origins"
TOKEN_SECONDS = 2 * 3600
_SALT = "sportello.widget-form"


class WidgetRefused(Exception):
    """A widget post that is not accepted; `reason` says why (for the logs, not for users)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def allowed_origins() -> list[str]:
    """The website origins that may frame the widgets and post their forms."""
    return settings.origins(SETTING)


def frame_ancestors() -> str:
    """The `frame-ancestors` sources of a widget page: ourselves and the listed origins."""
    return " ".join(["'self'", *allowed_origins()])


def normal_origin(value: str | None) -> str | None:
    """`scheme://host[:port]` of a URL or origin, lower case; None when it is not one."""
    if not value or value == "null":
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def parent_origin(value: str | None) -> str:
    """The website a widget page is shown in, if it is a listed one, else ""."""
    origin = normal_origin(value)
    return origin if origin and origin in allowed_origins() else ""


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_SALT)


def issue_token(widget: str, parent: str = "", now: float | None = None) -> str:
    """A form token for `widget` shown in `parent` (a listed origin or "")."""
    return _serializer().dumps({"w": widget, "o": parent, "t": int(now if now is not None else time.time())})


def check_token(token: str | None, widget: str, now: float | None = None) -> str:
    """The parent origin a valid token of `widget` names; raises WidgetRefused otherwise
    (forged, made for another widget, expired, or for a website no longer listed)."""
    if not token:
        raise WidgetRefused("no token")
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise WidgetRefused("bad signature") from None
    if not isinstance(data, dict) or data.get("w") != widget:
        raise WidgetRefused("token of another widget")
    issued = data.get("t")
    now = now if now is not None else time.time()
    if not isinstance(issued, int) or not issued - 60 <= now <= issued + TOKEN_SECONDS:
        raise WidgetRefused("expired")
    parent = data.get("o") or ""
    if parent and parent not in allowed_origins():
        raise WidgetRefused("website no longer listed")
    return parent


def check_origin(own: str, origin: str | None, referer: str | None, fetch_site: str | None) -> str:
    """Where a widget post came from (our own origin or a listed website); raises
    WidgetRefused for any other origin, or when the browser named none."""
    source = normal_origin(origin) if origin else normal_origin(referer)
    own = normal_origin(own) or own
    if source is None:
        raise WidgetRefused("no origin")
    if source == own:
        if fetch_site not in (None, "same-origin"):
            raise WidgetRefused(f"own origin but Sec-Fetch-Site {fetch_site}")
        return source
    if source in allowed_origins() and fetch_site in (None, "same-site", "cross-site"):
        return source
    raise WidgetRefused(f"origin {source} not listed")
