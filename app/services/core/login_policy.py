"""One sign-in policy for every login path: the staff form, the portal form and the
second-factor step.

The counters live in the rate limiter's storage (`RATELIMIT_STORAGE_URI`: Redis when several
processes serve the app, so every worker sees the same counts). Keys are the login as typed
(lower case), so known and unknown accounts are throttled alike and the answers reveal nothing.

- **Address and account**: after `PAIR_FAILS` wrong attempts from one address on one account,
  that address is locked out of that account; each new lock of the same pair lasts twice the
  previous one (1, 2, 4, 8 minutes), never more than 15. The owner, signing in from another
  address, is not locked out: the lock grows per address, not globally. The owner is told by
  e-mail (the `on_lock` hooks).
- **Account, from any address**: after `ACCOUNT_FREE_FAILS` failures within the window, every
  further failure imposes a growing wait (2, 4, 8 … seconds, at most `ACCOUNT_MAX_WAIT`) before
  the account can be tried again, so many addresses together still guess slowly.
- **Address, any account**: after `IP_FAILS` failures (password spraying) the address is locked
  for growing periods, at most 15 minutes.

An admin lifts an account's locks (`lift`); a password reset lifts them too, so a valid reset
link always leads to a working sign-in.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from flask import current_app

from app.services.core import security_log

WINDOW = 15 * 60  # seconds a failure counts
PAIR_FAILS = 5
IP_FAILS = 30
FIRST_LOCK = 60
MAX_LOCK = 15 * 60
ACCOUNT_FREE_FAILS = 10
ACCOUNT_MAX_WAIT = 60
LOCK_MEMORY = 24 * 3600  # how long previous locks make the next one longer
NOTICE_INTERVAL = 3600  # at most one e-mail per account in this time

# Called as hook(login, minutes) when an address is locked out of an account.
on_lock: list[Callable[[str, int], None]] = []


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds

    @property
    def minutes(self) -> int:
        return max(1, -(-self.retry_after // 60))


_OWN_STORAGE = "sportello.signin_storage"


def _storage():
    """The rate limiter's storage; with rate limits turned off (RATELIMIT_ENABLED=0) the
    limiter opens none, and the sign-in policy still counts, in a storage of its own at the
    same address."""
    from app.extensions import limiter

    if current_app.config.get("RATELIMIT_ENABLED", True):
        return limiter.storage
    own = current_app.extensions.get(_OWN_STORAGE)
    if own is None:
        from limits.storage import storage_from_string

        own = current_app.extensions[_OWN_STORAGE] = storage_from_string(
            current_app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    return own


def _key(*parts: str) -> str:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    return ":".join((prefix, "signin", *parts))


def normalize(login: str | None) -> str:
    return (login or "").strip().lower()[:150]


def _generation(login: str) -> str:
    return str(_storage().get(_key("gen", login)))


def _remaining(key: str) -> int:
    storage = _storage()
    if not storage.get(key):
        return 0
    return max(1, int(storage.get_expiry(key) - time.time()))


def _lock(key: str, count_key: str) -> int:
    """Lock `key` for a period that doubles with every lock in the last day; its seconds."""
    storage = _storage()
    count = storage.incr(count_key, LOCK_MEMORY)
    seconds = min(MAX_LOCK, FIRST_LOCK * 2 ** (count - 1))
    storage.clear(key)
    storage.incr(key, seconds)
    return seconds


def check(login: str, ip: str | None = None) -> Verdict:
    """May `ip` try to sign in as `login` now? Ask before checking the password."""
    login, ip = normalize(login), ip or security_log.client_ip()
    gen = _generation(login)
    wait = max(_remaining(_key("pair-lock", gen, ip, login)), _remaining(_key("ip-lock", ip)),
               _remaining(_key("wait", gen, login)))
    if wait:
        security_log.event("signin_refused_locked", login, retry_after=wait)
        return Verdict(False, wait)
    return Verdict(True)


def failed(login: str, ip: str | None = None) -> Verdict:
    """Count a wrong attempt; returns whether the next attempt is still allowed."""
    login, ip = normalize(login), ip or security_log.client_ip()
    storage = _storage()
    gen = _generation(login)
    security_log.event("signin_failed", login)
    locked = 0
    if storage.incr(_key("pair", gen, ip, login), WINDOW) >= PAIR_FAILS:
        storage.clear(_key("pair", gen, ip, login))
        locked = _lock(_key("pair-lock", gen, ip, login), _key("pair-locks", gen, ip, login))
        security_log.event("signin_locked", login, seconds=locked, scope="address_account")
        _notify(login, locked)
    if storage.incr(_key("ip", ip), WINDOW) >= IP_FAILS:
        storage.clear(_key("ip", ip))
        seconds = _lock(_key("ip-lock", ip), _key("ip-locks", ip))
        security_log.event("signin_locked", login, seconds=seconds, scope="address")
        locked = max(locked, seconds)
    account_fails = storage.incr(_key("account", gen, login), WINDOW)
    if account_fails > ACCOUNT_FREE_FAILS:
        wait = min(ACCOUNT_MAX_WAIT, 2 ** (account_fails - ACCOUNT_FREE_FAILS))
        storage.clear(_key("wait", gen, login))
        storage.incr(_key("wait", gen, login), wait)
        locked = max(locked, wait)
    return Verdict(not locked, locked)


def succeeded(login: str, ip: str | None = None) -> None:
    """A right password: this address starts again from zero on this account."""
    login, ip = normalize(login), ip or security_log.client_ip()
    gen = _generation(login)
    _storage().clear(_key("pair", gen, ip, login))


def lift(*logins: str) -> None:
    """End every lock and count on the accounts known by `logins` (username, e-mail)."""
    storage = _storage()
    for login in {normalize(x) for x in logins if x}:
        storage.incr(_key("gen", login), 400 * 24 * 3600)  # every counter of the old generation is gone


def _notify(login: str, seconds: int) -> None:
    storage = _storage()
    if storage.incr(_key("notice", _generation(login), login), NOTICE_INTERVAL) > 1:
        return
    for hook in on_lock:
        hook(login, max(1, seconds // 60))


def lift_for(user, actor) -> None:
    """An admin lifts the sign-in locks of `user` (audited, committed)."""
    from app.services.core.audit import record
    from app.services.core.unit_of_work import unit_of_work

    with unit_of_work():
        lift(user.username, user.email)
        record("user", user.id, "signin_lock_lifted", {}, actor)
    security_log.event("signin_lock_lifted", user.username, by=getattr(actor, "username", "-"))
