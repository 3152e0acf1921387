"""Personal API tokens (F-61): created, named, scoped, listed and revoked by the customer.

A token is shown once, when it is made; only its SHA-256 is kept (the secret is 256 random
bits, so a slow hash would add nothing). It expires (`api_token_days` setting, or sooner if the
customer asks), records when it was last used, and is revoked by the customer, or with every
other token of the account when the account is deactivated. A token that may submit readings
needs the customer's current password to be created. Every creation and revocation is audited.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import ApiToken, SportelloUser, TokenScope
from app.models.base import utcnow
from app.services.core import settings
from app.services.core.audit import record
from app.services.core.errors import DomainError
from app.services.core.unit_of_work import transactional

from . import accounts

SECRET_START = "spt_"
PREFIX_LENGTH = 12  # "spt_" and 8 characters: enough to tell tokens apart, nothing to guess from
MAX_LIVE_TOKENS = 20
# The last use is written at most this often: a busy integration would otherwise write a row
# on every call.
LAST_USED_STEP = dt.timedelta(minutes=1)


class TokenError(DomainError):
    """A token that can't be created or revoked as asked."""

    default_field = "name"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def tokens_of(customer_id: int) -> list[ApiToken]:
    """The customer's tokens, newest first (revoked and expired ones too)."""
    return list(db.session.scalars(sa.select(ApiToken).where(ApiToken.customer_id == customer_id)
                                   .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


@transactional
def create_token(user: SportelloUser, name: str, scope: TokenScope, *, days: int | None = None,
                 current_password: str | None = None, current_code: str | None = None) -> tuple[ApiToken, str]:
    """A new token of the signed-in customer; returns it and its secret (shown once). A token
    that may submit readings needs the current password, and a current code when the customer
    uses two-factor sign-in."""
    if user.customer_id is None:
        raise TokenError(_l("Only customers can create personal API tokens."))
    name = (name or "").strip()
    if not name:
        raise TokenError(_l("Give the token a name, e.g. the program that will use it."))
    if len(name) > 80:
        raise TokenError(_l("At most %(max)s characters.", max=80))
    if not isinstance(scope, TokenScope):
        raise TokenError(_l("Choose what the token may do."), "scope")
    longest = settings.get("api_token_days")
    if days is None:
        days = longest
    if not 1 <= int(days) <= longest:
        raise TokenError(_l("The validity is from 1 to %(max)s days.", max=longest), "days")
    live = db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken).where(
        ApiToken.customer_id == user.customer_id, ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > utcnow()))
    if live >= MAX_LIVE_TOKENS:
        raise TokenError(_l("You have %(count)s active tokens: revoke one you no longer use first.",
                            count=MAX_LIVE_TOKENS))
    if scope == TokenScope.READINGS:
        accounts.reauthenticate(user, current_password, "api_token", current_code)
    secret = SECRET_START + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(user_id=user.id, customer_id=user.customer_id, name=name, scope=scope,
                     prefix=secret[:PREFIX_LENGTH], secret_hash=_digest(secret), created_at=now,
                     expires_at=now + dt.timedelta(days=int(days)))
    db.session.add(token)
    db.session.flush()
    record("api_token", token.id, "create", {"name": [None, name], "scope": [None, scope.value],
                                             "expires_at": [None, token.expires_at.isoformat()]},
           actor=user)
    return token, secret


@transactional
def revoke_token(user: SportelloUser, token: ApiToken) -> None:
    """Revoke one of the customer's tokens (already revoked: nothing changes)."""
    if token.customer_id != user.customer_id:
        raise TokenError(_l("This token is not yours."))
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    record("api_token", token.id, "revoke", {"revoked_at": [None, token.revoked_at.isoformat()]},
           actor=user)


def token_for(secret: str | None) -> ApiToken | None:
    """The live token with this secret, of an active customer account; else None."""
    if not secret or not secret.startswith(SECRET_START) or len(secret) > 100:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.secret_hash == _digest(secret)))
    if token is None or not token.is_live():
        return None
    user = token.user
    if user is None or not user.is_active or user.customer_id != token.customer_id:
        return None
    return token


@transactional
def mark_used(token: ApiToken) -> None:
    """Record the token's use (at most once a minute)."""
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_STEP:
        token.last_used_at = now


def revoke_all(connection, user_ids: list[int], reason: str) -> int:
    """Revoke every live token of these accounts on `connection` (inside a flush); audited."""
    if not user_ids:
        return 0
    now = utcnow()
    table = ApiToken.__table__
    ids = list(connection.execute(sa.select(table.c.id).where(
        table.c.user_id.in_(user_ids), table.c.revoked_at.is_(None))).scalars())
    if not ids:
        return 0
    connection.execute(sa.update(table).where(table.c.id.in_(ids)).values(revoked_at=now))
    from app.models import AuditLog

    connection.execute(sa.insert(AuditLog.__table__), [
        {"entity_type": "api_token", "entity_id": str(i), "action": "revoke", "created_at": now,
         "changes": {"revoked_at": [None, now.isoformat()], "reason": [None, reason]},
         "actor_label": "system", "ip_address": ""} for i in ids])
    return len(ids)


def register_hooks() -> None:
    """Deactivating an account (the admin's user form, billing deleting the customer, any
    other path) revokes its tokens in the same transaction."""
    from sqlalchemy.orm import Session

    if sa.event.contains(Session, "after_flush", _deactivated_accounts):
        return
    sa.event.listen(Session, "after_flush", _deactivated_accounts)


def _deactivated_accounts(session, _context) -> None:
    users = []
    for obj in session.dirty:
        if isinstance(obj, SportelloUser) and obj.active is False:
            history = sa.inspect(obj).attrs.active.history
            if history.has_changes():
                users.append(obj.id)
    if users:
        revoke_all(session.connection(), users, "account_deactivated")
