"""What every sign-in does to the session, staff and portal alike."""
from __future__ import annotations

import secrets
import time

from flask import session

SESSION_ID = "sid"  # a new random identifier per sign-in (logs, session rotation)
SIGNED_IN_AT = "iat"  # epoch seconds of the sign-in: the absolute timeout counts from it
LAST_SEEN = "seen"  # epoch seconds of the last request, refreshed at most once a minute


def start_session() -> str:
    """A new session at sign-in: nothing of the anonymous one survives but the language."""
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    now = int(time.time())
    session[SESSION_ID] = secrets.token_urlsafe(16)
    session[SIGNED_IN_AT] = now
    session[LAST_SEEN] = now
    return session[SESSION_ID]


# --- the second factor: between a right password and the signed-in session -----------------------

PENDING = "2fa"  # {"uid": user id, "at": epoch seconds, "next": where to go, "area": staff|portal}
PENDING_MAX_AGE = 5 * 60  # seconds to type the code after the password


def await_second_factor(user_id: int, next_url: str, area: str) -> None:
    """A right password: the session waits for the code (or the enrolment), signed in to nothing."""
    session[PENDING] = {"uid": int(user_id), "at": int(time.time()), "next": next_url, "area": area}


def pending_user(area: str):
    """The user whose password was right and whose code is awaited (None when none, or too late)."""
    from app.extensions import db
    from app.models import SportelloUser

    data = session.get(PENDING)
    if not isinstance(data, dict) or data.get("area") != area:
        return None
    if int(time.time()) - int(data.get("at") or 0) > PENDING_MAX_AGE:
        session.pop(PENDING, None)
        return None
    user = db.session.get(SportelloUser, int(data.get("uid") or 0))
    return user if user is not None and user.is_active else None


def pending_next(default: str) -> str:
    data = session.get(PENDING)
    return (data.get("next") if isinstance(data, dict) else None) or default


def end_pending() -> None:
    session.pop(PENDING, None)
