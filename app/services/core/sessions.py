"""Ending a user's sessions (F-40): every copy of the cookie, or all but the requester's own."""
from __future__ import annotations

from flask import has_request_context, session
from flask_login import current_user

from app.models import SportelloUser


def end_other_sessions(user: SportelloUser) -> None:
    """Void the user's sessions but the one making this request, when it is the user's own."""
    user.end_sessions()
    if has_request_context() and getattr(current_user, "id", None) == user.id:
        session["sv"] = user.session_version
