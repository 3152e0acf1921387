"""Two-factor sign-in (F-65): time-based one-time codes (TOTP, RFC 6238) and recovery codes.

- **Who**: staff with a role named in the setting `totp_required_roles` (by default Admin and
  Manager) must use it and enrol at their next sign-in; other staff and customers may enrol.
- **Enrolment**: a new secret, shown as a QR code drawn here (SVG, no outside service) and as
  text; the first right code confirms it and yields 10 recovery codes, shown once.
- **Codes**: 6 digits, 30-second steps, one step of clock drift either way; each step is
  accepted once per user (`last_step`), so a code seen over a shoulder or in a log is no use
  afterwards. A recovery code works once.
- **Storage**: the secret encrypted with a key derived from `SECRET_KEY` (changing the key
  means enrolling again); recovery codes as keyed hashes. Neither is ever logged.

Enrolling, disabling and new recovery codes need the current password and, when enrolled, a
current code (the views re-authenticate first); an admin may reset a user's second factor
(audited), after which the user signs in with the password and enrols again if obliged.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

import pyotp
import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import SportelloUser, TotpCredential, TotpRecoveryCode
from app.models.base import utcnow
from app.services.core import security_log
from app.services.core.unit_of_work import transactional

STEP = 30
DIGITS = 6
RECOVERY_CODES = 10
ISSUER = "Sportello"

_CODE = re.compile(r"^\d{6}$")


# --- the secret, encrypted ----------------------------------------------------------------------

def _fernet():
    from cryptography.fernet import Fernet

    digest = hashlib.sha256(b"sportello-totp:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def _open(sealed: str) -> str:
    """The secret in clear; "" when it cannot be read (SECRET_KEY changed since the enrolment):
    no code matches then, and an admin resets the second factor."""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        import logging

        logging.getLogger(__name__).error("A two-factor secret cannot be decrypted: was SECRET_KEY changed?")
        return ""


def _credential(user) -> TotpCredential | None:
    return db.session.get(TotpCredential, user.id) if getattr(user, "id", None) else None


def secret_of(user) -> str | None:
    cred = _credential(user)
    return _open(cred.secret_encrypted) if cred is not None else None


# --- who -------------------------------------------------------------------------------------

def is_enrolled(user) -> bool:
    cred = _credential(user)
    return cred is not None and cred.confirmed_at is not None


def required_roles() -> set[str]:
    from app.services.core import settings

    return {n.strip() for n in (settings.get("totp_required_roles") or "").split(",") if n.strip()}


def is_required(user) -> bool:
    """Must this user sign in with a second factor? Staff with a role the setting names."""
    if user is None or getattr(user, "customer_id", None) is not None:
        return False
    wanted = required_roles()
    return bool(wanted) and any(r.name in wanted for r in (user.roles or []))


# --- enrolment ---------------------------------------------------------------------------------

def _hash_recovery(code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"recovery:" + _normalise_recovery(code).encode(), hashlib.sha256).hexdigest()


def _normalise_recovery(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def begin_enrolment(user, secret: str | None = None) -> str:
    """A new secret waiting for its first code (replaces one not yet confirmed); no commit."""
    if is_enrolled(user):
        raise ValueError("already enrolled")
    secret = secret or pyotp.random_base32()
    cred = _credential(user)
    if cred is None:
        cred = TotpCredential(user_id=user.id, secret_encrypted=_seal(secret))
        db.session.add(cred)
    else:
        cred.secret_encrypted, cred.last_step, cred.created_at = _seal(secret), None, utcnow()
    db.session.flush()
    return secret


def pending_secret(user) -> str | None:
    cred = _credential(user)
    return _open(cred.secret_encrypted) if cred is not None and cred.confirmed_at is None else None


@transactional
def pending_or_new_secret(user) -> str:
    """The secret waiting for its first code, or a new one saved for it (the enrolment page)."""
    return pending_secret(user) or begin_enrolment(user)


def provisioning_uri(user, secret: str) -> str:
    name = current_app.config.get("APP_NAME") or ISSUER
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=name)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as inline SVG markup, drawn here."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True,
                                    title="QR", nl=False)
    return out.getvalue().decode()


def grouped_secret(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step whose code is `code` (now, or one step either side), or None."""
    if not secret:
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP)
    now = time.time() if at is None else at
    step = int(now // STEP)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def confirm_enrolment(user, code: str) -> list[str] | None:
    """The first code confirms the pending secret: returns the recovery codes (shown once), or
    None when the code is wrong. Commits."""
    cred = _credential(user)
    code = (code or "").strip().replace(" ", "")
    if cred is None or cred.confirmed_at is not None or not _CODE.match(code):
        return None
    step = _matching_step(_open(cred.secret_encrypted), code)
    if step is None:
        security_log.event("two_factor_enrol_failed", user.username)
        return None
    cred.confirmed_at, cred.last_step = utcnow(), step
    codes = _new_recovery_codes(user)
    db.session.commit()
    security_log.event("two_factor_enrolled", user.username)
    return codes


def _new_recovery_codes(user) -> list[str]:
    db.session.execute(sa.delete(TotpRecoveryCode).where(TotpRecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 40 bits, 10 hex digits
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(TotpRecoveryCode(user_id=user.id, code_hash=_hash_recovery(raw)))
    return codes


def regenerate_recovery_codes(user) -> list[str]:
    """New recovery codes; the old ones stop working. Commits."""
    codes = _new_recovery_codes(user)
    db.session.commit()
    security_log.event("two_factor_recovery_codes_renewed", user.username)
    return codes


def recovery_codes_left(user) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(TotpRecoveryCode).where(
        TotpRecoveryCode.user_id == user.id, TotpRecoveryCode.used_at.is_(None))) or 0


# --- checking a code -----------------------------------------------------------------------

def verify(user, code: str) -> str | None:
    """Check a current code or a recovery code of an enrolled user: "totp", "recovery" or None.
    A code's time step is accepted once; a recovery code once. Commits what it uses."""
    cred = _credential(user)
    if cred is None or cred.confirmed_at is None:
        return None
    text = (code or "").strip().replace(" ", "")
    if _CODE.match(text):
        step = _matching_step(_open(cred.secret_encrypted), text)
        if step is None:
            return None
        # A conditional update: two requests with the same code cannot both pass.
        done = db.session.execute(
            sa.update(TotpCredential)
            .where(TotpCredential.user_id == user.id,
                   sa.or_(TotpCredential.last_step.is_(None), TotpCredential.last_step < step))
            .values(last_step=step))
        db.session.commit()
        if done.rowcount != 1:
            security_log.event("two_factor_replay_refused", user.username)
            return None
        return "totp"
    if not _normalise_recovery(text):
        return None
    done = db.session.execute(
        sa.update(TotpRecoveryCode)
        .where(TotpRecoveryCode.user_id == user.id, TotpRecoveryCode.used_at.is_(None),
               TotpRecoveryCode.code_hash == _hash_recovery(text))
        .values(used_at=utcnow()))
    db.session.commit()
    if done.rowcount != 1:
        return None
    security_log.event("two_factor_recovery_code_used", user.username, left=recovery_codes_left(user))
    return "recovery"


def current_code(user) -> str | None:
    secret = secret_of(user)
    return pyotp.TOTP(secret).now() if secret else None


# --- ending it -------------------------------------------------------------------------------

def _remove(user) -> None:
    db.session.execute(sa.delete(TotpRecoveryCode).where(TotpRecoveryCode.user_id == user.id))
    db.session.execute(sa.delete(TotpCredential).where(TotpCredential.user_id == user.id))


def disable(user) -> None:
    """The user turns the second factor off (after re-authenticating). Commits."""
    _remove(user)
    db.session.commit()
    security_log.event("two_factor_disabled", user.username)


def reset_by_admin(user: SportelloUser, actor) -> None:
    """An admin removes a user's second factor (lost phone): audited and logged. Commits."""
    from app.services.core.audit import record

    _remove(user)
    record("user", user.id, "two_factor_reset", {}, actor)
    db.session.commit()
    security_log.event("two_factor_reset", user.username, by=getattr(actor, "username", "-"))


def enrol_with_secret(user, secret: str) -> None:
    """Enrol `user` with a known secret, confirmed at once (the demo accounts). Commits."""
    _remove(user)
    db.session.flush()
    db.session.add(TotpCredential(user_id=user.id, secret_encrypted=_seal(secret), confirmed_at=utcnow()))
    db.session.commit()
