"""Security notices to an account's owner: sign-in locked after wrong passwords."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import after_this_request, has_request_context

from app.extensions import db
from app.models import SportelloUser
from app.services.core import login_policy
from app.services.core.unit_of_work import transactional
from app.services.mailing import mail

PLACEHOLDER_DOMAIN = "@invalid"

log = logging.getLogger(__name__)


def sign_in_locked(login: str, minutes: int) -> None:
    """Tell the owner of `login` (if it is an account with a real e-mail) that sign-in from one
    address is locked after wrong passwords; unknown logins get nothing.

    In a web request the notice is queued once the view has finished, in a transaction of its
    own: a lock set by a wrong current password rolls back the change it refused, and the notice
    must not go with it."""
    if has_request_context():
        @after_this_request
        def _queue_after_the_view(response):
            try:
                _queue_notice(login, minutes)
            except Exception:  # a notice that cannot be queued never breaks the answer
                log.exception("The sign-in lock notice could not be queued")
            return response
        return
    _queue_notice(login, minutes)


@transactional
def _queue_notice(login: str, minutes: int) -> None:
    user = db.session.scalar(sa.select(SportelloUser).where(
        sa.or_(sa.func.lower(SportelloUser.username) == login, SportelloUser.email == login)))
    address = (user.email or "") if user is not None else ""
    if not address or address.endswith(PLACEHOLDER_DOMAIN):
        return
    name = " ".join(p for p in (user.first_name, user.last_name) if p and p != "-") or user.username
    mail.queue_mail("sign_in_locked", user.language or "it", [address],
                    {"name": name, "username": user.username, "minutes": minutes})


def register_hooks() -> None:
    if sign_in_locked not in login_policy.on_lock:
        login_policy.on_lock.append(sign_in_locked)
