"""Portal accounts (F-01): registration with a web code, login, credentials, password reset.

Customers are FAB users linked to a `Customer` (role Customer). Answers to the security
question are hashed like passwords and compared case- and space-insensitively. Nothing here
reveals whether a username, e-mail or web code exists: failures share one message and unknown
users cost the same hash check as known ones. A web code works once: its use is recorded in
the payload of the activity it served (registration, or a password reset by web code).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash

from app.clock import local_date
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import (Activity, ActivityKind, Customer, Invoice, SportelloUser)
from app.models.base import utcnow
from app.services.core.errors import DomainError
from app.services.core import login_policy
from app.services.core.sessions import end_other_sessions
from app.services.core.unit_of_work import transactional
from app.services.portal.contact import PLACEHOLDER_DOMAIN, contact_email, is_real_email

log = logging.getLogger(__name__)

RESET_MAX_AGE = 30 * 60  # seconds a reset link lives, from the sending of its message
RESET_MAIL = "password_reset"
WEB_CODE_KINDS = (ActivityKind.REGISTRATION, ActivityKind.CREDENTIALS)

NO_MATCH = _l("The web code and the identifying data do not match an invoice that can be used "
              "for access. Check them on your latest invoice.")
RESET_FAILED = _l("The reset could not be completed: the link or code is not valid any more, "
                  "or the answer is wrong.")


class AccountError(DomainError):
    """A refused account operation; `field` names the form field the message belongs to."""


# --- small helpers ---------------------------------------------------------------------------

def normalize_answer(answer: str) -> str:
    """Answers compare without case and without spaces."""
    return "".join((answer or "").split()).casefold()


def _hash(secret: str) -> str:
    cfg = current_app.config
    return generate_password_hash(secret, method=cfg.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
                                  salt_length=cfg.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16))


def hash_answer(answer: str) -> str:
    return _hash(normalize_answer(answer))


def check_answer(user: SportelloUser | None, answer: str) -> bool:
    """Check an answer; an unknown user costs the same time as a known one."""
    stored = getattr(user, "security_answer_hash", None)
    ok = check_password_hash(stored or _dummy_hash(), normalize_answer(answer))
    return bool(stored) and ok


_DUMMY: str | None = None


def _dummy_hash() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = _hash("not-a-real-secret")
    return _DUMMY


def placeholder_email(customer_code: str) -> str:
    """A unique address for customers without e-mail (FAB needs one); never mailed."""
    return f"nomail+{customer_code.lower()}{PLACEHOLDER_DOMAIN}"


def _addressed(user: SportelloUser) -> str:
    customer = db.session.get(Customer, user.customer_id) if user.customer_id else None
    return customer.addressed_name if customer else user.username


def customer_user(customer_id: int) -> SportelloUser | None:
    return db.session.scalar(sa.select(SportelloUser).where(SportelloUser.customer_id == customer_id))


def _normalize_code(code: str) -> str:
    return "".join((code or "").split()).upper()


def _identifies(customer: Customer, fact: str) -> bool:
    """The identifying fact: tax code, VAT number or customer code."""
    fact = _normalize_code(fact)
    if not fact:
        return False
    return fact in {v.upper() for v in (customer.tax_code, customer.vat_number, customer.code) if v}


def web_code_used(invoice: Invoice) -> bool:
    rows = db.session.scalars(sa.select(Activity.payload).where(
        Activity.customer_id == invoice.customer_id, Activity.kind.in_(WEB_CODE_KINDS)))
    return any((p or {}).get("web_code_invoice") == invoice.number for p in rows)


def _invoice_by_web_code(web_code: str) -> Invoice | None:
    code = _normalize_code(web_code)
    if not code:
        return None
    return db.session.scalar(sa.select(Invoice).where(Invoice.web_code == code).limit(1))


# --- registration ------------------------------------------------------------------------------

@dataclass
class Registration:
    web_code: str
    identifier: str
    username: str
    password: str
    question: str
    answer: str
    email: str = ""
    language: str = "it"


@transactional
def register(data: Registration) -> SportelloUser:
    """Create the customer's account; a registration activity goes to billing via the outbox and
    is confirmed to the customer by e-mail with its reference number."""
    from app.roles import CUSTOMER
    from app.services.crm import activities
    from app.services.mailing import mail
    from app.services.sync import outbox

    invoice = _invoice_by_web_code(data.web_code)
    customer = invoice.customer if invoice is not None else None
    if customer is None or not _identifies(customer, data.identifier) or \
            customer_user(customer.id) is not None or web_code_used(invoice):
        check_password_hash(_dummy_hash(), data.password or "")  # same cost as a success
        raise AccountError(NO_MATCH, "web_code")
    sm = current_app.appbuilder.sm
    username = data.username.strip()
    if sm.find_user(username=username) is not None:
        raise AccountError(_l("This username is taken: choose another one."), "username")
    email = (data.email or "").strip().lower()
    login_email = email or (customer.email or "").lower()
    if not is_real_email(login_email) or sm.find_user(email=login_email) is not None:
        login_email = placeholder_email(customer.code)
    role = sm.find_role(CUSTOMER)
    user = SportelloUser(first_name=customer.first_name or customer.display_name or customer.code,
                         last_name=customer.last_name or "-", username=username,
                         email=login_email, active=True, roles=[role], customer_id=customer.id,
                         language=data.language if data.language in ("it", "en") else "it",
                         security_question=data.question.strip(),
                         security_answer_hash=hash_answer(data.answer),
                         password=_hash(data.password), created_on=utcnow(), changed_on=utcnow())
    db.session.add(user)
    db.session.flush()
    old_email = customer.email
    activity = activities.create_activity(
        ActivityKind.REGISTRATION, customer_id=customer.id, actor=user,
        payload={"web_code_invoice": invoice.number, "username": username,
                 "email_given": bool(email)})
    update = {"customer_code": customer.code}
    if email and email != (customer.email or "").lower():
        update["email"] = email
        customer.email = email
    # Billing records the registration as a change of the customer record (with the e-mail
    # the customer gave, if any): the activity is executed once billing has it (F-21).
    outbox.enqueue("update_customer", update, activity=activity,
                   key=f"registration-{activity.id}")
    from app.services.portal.requests import confirm_by_mail

    confirm_by_mail(activity, user)
    from app.services.core.audit import record

    record("customer", customer.id, "portal_registration",
           {"email": [old_email, customer.email]} if "email" in update else {}, user)
    target = contact_email(user)
    if target:
        mail.queue_mail("registration_confirmed", user.language, [target],
                        {"name": customer.addressed_name, "username": username},
                        key=f"registration_confirmed-{user.id}")
    if "email" in update and is_real_email(old_email):
        mail.queue_mail("email_changed", user.language, [old_email],
                        {"name": customer.addressed_name, "email": email},
                        key=f"email_changed-registration-{user.id}")
    return user


def registration_request(user: SportelloUser) -> Activity | None:
    """The request that registered the customer's account (for its reference number)."""
    return db.session.scalar(sa.select(Activity).where(
        Activity.customer_id == user.customer_id, Activity.kind == ActivityKind.REGISTRATION)
        .order_by(Activity.id.desc()).limit(1))


# --- login ----------------------------------------------------------------------------------

def authenticate(username: str, password: str) -> SportelloUser | None:
    """FAB's database check, for customer accounts only: staff accounts and unknown names
    cost the same hash check and leave no trace on the account."""
    sm = current_app.appbuilder.sm
    login = (username or "").strip()
    user = sm.find_user(username=login) if login else None
    if user is None and login:
        user = sm.find_user(email=login.lower())
    if user is None or not user.is_active or user.customer_id is None or not password:
        check_password_hash(_dummy_hash(), password or "")
        first = sm.get_first_user()
        if first is not None:
            sm.noop_user_update(first)  # the same write a known account's failure costs
        return None
    if not check_password_hash(user.password or _dummy_hash(), password):
        sm.update_user_auth_stat(user, False)
        return None
    sm.update_user_auth_stat(user, True)
    return user


def closed_by_billing(username: str, password: str) -> str:
    """For the right credentials of a portal account deactivated because billing deleted its
    customer, "closed", or "merged" when billing merged the customer into one that has an
    account of its own (the login page then says so instead of "wrong password"); else ""."""
    sm = current_app.appbuilder.sm
    login = (username or "").strip()
    user = (sm.find_user(username=login) or sm.find_user(email=login.lower())) if login else None
    if user is None or user.active or user.customer_id is None or not password:
        return ""
    customer = db.session.get(Customer, user.customer_id)
    if customer is None or customer.archived_at is None or \
            not check_password_hash(user.password or _dummy_hash(), password):
        return ""
    return "merged" if customer.merged_into_code else "closed"


def _duplicate_account_closed(closed: SportelloUser, kept: SportelloUser, duplicate: Customer,
                              survivor: Customer) -> None:
    """Billing merged a customer into one with its own portal account, so the duplicate's
    account was closed: tell its owner which records remain and that the other account is the
    one to use (its username is not written: the two addresses may differ)."""
    from app.services.mailing import mail

    target = contact_email(closed)
    if target:
        mail.queue_mail("account_merged", closed.language or duplicate.language or "it", [target],
                        {"name": duplicate.addressed_name, "username": closed.username,
                         "customer_code": survivor.code},
                        key=f"account_merged-{closed.id}-{survivor.code}")


# --- credentials ------------------------------------------------------------------------------

def reauthenticate(user: SportelloUser, current: str | None, what: str, code: str | None = None) -> None:
    """The signed-in customer's current password, and a current code when they use two-factor
    sign-in, asked before a sensitive change (`what`: password, username, question, email,
    iban). A wrong one counts in the sign-in policy's per-account throttle, so the form is no
    way round it; raises AccountError on the `current_password` (or `current_code`) field."""
    from app.services.core import security_log, two_factor

    if not current:
        raise AccountError(_l("Type your current password to confirm this change."), "current_password")
    verdict = login_policy.check(user.username)
    if not verdict.allowed:
        raise AccountError(_l("Too many wrong passwords: try again in %(minutes)s minutes.",
                              minutes=verdict.minutes), "current_password")
    if not check_password_hash(user.password or _dummy_hash(), current):
        security_log.event("reauth_failed", user.username, area="portal", change=what)
        login_policy.failed(user.username)
        raise AccountError(_l("The current password is not correct."), "current_password")
    if two_factor.is_enrolled(user):
        if not (code or "").strip():
            raise AccountError(_l("Type the code from your authenticator app."), "current_code")
        if two_factor.verify(user, code) is None:
            security_log.event("reauth_failed", user.username, area="portal", change=what, factor="code")
            login_policy.failed(user.username)
            raise AccountError(_l("The code is not correct or has been used already: wait for the next one."),
                               "current_code")


def _require_password(user: SportelloUser, current: str, what: str = "password", code: str | None = None) -> None:
    reauthenticate(user, current, what, code)


def _credentials_activity(user: SportelloUser, what: str, **payload) -> None:
    """A credentials change is a request the customer can follow; the system executes it."""
    from app.services.crm import activities

    activity = activities.create_activity(ActivityKind.CREDENTIALS, customer_id=user.customer_id,
                                          actor=user, payload={"change": what, **payload})
    activities.transition(activity, "execute", None)


def _notify_password_changed(user: SportelloUser) -> None:
    from app.services.mailing import mail

    target = contact_email(user)
    if target:
        customer = db.session.get(Customer, user.customer_id)
        mail.queue_mail("password_changed", user.language or "it", [target],
                        {"name": customer.addressed_name if customer else user.username})


@transactional
def set_language(user: SportelloUser, language: str) -> None:
    """The language of the customer's pages and e-mails."""
    user.language = language


@transactional
def change_password(user: SportelloUser, current: str, new: str, code: str | None = None) -> None:
    _require_password(user, current, code=code)
    user.password = _hash(new)
    user.changed_on = utcnow()
    end_other_sessions(user)
    _credentials_activity(user, "password")
    _notify_password_changed(user)


@transactional
def change_username(user: SportelloUser, current: str, new: str, code: str | None = None) -> None:
    _require_password(user, current, "username", code)
    new = new.strip()
    if new == user.username:
        return
    if current_app.appbuilder.sm.find_user(username=new) is not None:
        raise AccountError(_l("This username is taken: choose another one."), "username")
    old = user.username
    user.username = new
    _credentials_activity(user, "username", old=old, new=new)


@transactional
def change_security_question(user: SportelloUser, current: str, question: str, answer: str,
                             code: str | None = None) -> None:
    _require_password(user, current, "question", code)
    user.security_question = question.strip()
    user.security_answer_hash = hash_answer(answer)
    _credentials_activity(user, "security_question")


# --- password reset ------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="portal-password-reset")


def _fingerprint(user: SportelloUser) -> str:
    """Changes with the password and the session version: a used link stops working."""
    raw = f"{user.password}|{user.session_version or 0}".encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def make_reset_token(user: SportelloUser) -> str:
    return _serializer().dumps({"u": user.id, "f": _fingerprint(user)})


def token_account(token: str) -> str:
    """The account a reset link was made for (signature checked, expiry not): for limits."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return "-"
    return str(data.get("u")) if isinstance(data, dict) else "-"


def user_for_token(token: str) -> SportelloUser | None:
    """The user of a valid, unused, unexpired reset link, else None."""
    try:
        data = _serializer().loads(token, max_age=RESET_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    user = db.session.get(SportelloUser, data.get("u")) if isinstance(data, dict) else None
    if user is None or user.customer_id is None or not user.active or \
            data.get("f") != _fingerprint(user):
        return None
    return user


def _find_login(login: str) -> SportelloUser | None:
    login = (login or "").strip()
    if not login:
        return None
    user = db.session.scalar(sa.select(SportelloUser).where(
        sa.or_(SportelloUser.username == login, SportelloUser.email == login.lower())))
    if user is None or user.customer_id is None or not user.active:
        return None
    return user


@transactional
def request_reset(login: str, base_url: str, language: str = "it") -> None:
    """Queue a reset request: one row, whoever asks, so a request for an unknown account does
    the same work as one for a known account. The account is looked up, and a single-use link
    made, only when the message is about to be sent (`prepare_reset_mail`)."""
    from app.services.mailing import mail

    mail.queue_mail(RESET_MAIL, language if language in ("it", "en") else "it", [],
                    {"login": (login or "").strip()[:200], "base_url": base_url.rstrip("/")},
                    secret=("login",))


def prepare_reset_mail(queued: dict) -> dict | None:
    """The reset message of a queued request, made at each sending attempt: the account's address
    and language, and a link whose token exists only in this process and in the message (never
    in the database). None when no active customer account with an e-mail on file matches."""
    from app.services.mailing.mail import SECRET_KEYS

    context = queued["context"]
    user = _find_login(context.get("login", ""))
    target = contact_email(user) if user is not None else ""
    if not target:
        return None
    link = f"{context.get('base_url', '')}/reset/{make_reset_token(user)}"
    return {**queued, "recipients": [target], "language": user.language or "it",
            "context": {"name": _addressed(user), "username": user.username, "link": link,
                        "minutes": RESET_MAX_AGE // 60, SECRET_KEYS: ["link"]}}


def register_hooks() -> None:
    """Called once by `create_app`: reset messages are completed when they are sent, and the
    owner of an account closed by a merge in billing is told."""
    from app.services.mailing.mail import prepare_with
    from app.services.sync.deletions import on_duplicate_account_closed

    prepare_with(RESET_MAIL, prepare_reset_mail)
    on_duplicate_account_closed("portal_notice", _duplicate_account_closed)


@transactional
def reset_with_token(token: str, answer: str, new_password: str) -> SportelloUser:
    user = user_for_token(token)
    if not check_answer(user, answer):
        raise AccountError(RESET_FAILED, "answer")
    _set_new_password(user, "password_reset_link")
    user.password = _hash(new_password)
    return user


@transactional
def reset_with_web_code(username: str, web_code: str, answer: str, new_password: str) -> SportelloUser:
    """For customers without e-mail: a web code from an invoice issued after registration."""
    user = _find_login(username)
    invoice = _invoice_by_web_code(web_code)
    # Only for customers with no e-mail on file: the others get a link at their address.
    valid = (user is not None and invoice is not None and invoice.customer_id == user.customer_id
             and user.created_on is not None and invoice.invoice_date > local_date(user.created_on)
             and not web_code_used(invoice) and not contact_email(user))
    if not check_answer(user if valid else None, answer) or not valid:
        raise AccountError(RESET_FAILED, "answer")
    _set_new_password(user, "password_reset_web_code", web_code_invoice=invoice.number)
    user.password = _hash(new_password)
    return user


def _set_new_password(user: SportelloUser, what: str, **payload) -> None:
    user.changed_on = utcnow()
    user.fail_login_count = 0
    user.end_sessions()
    login_policy.lift(user.username, user.email)  # the new password works from every address
    _credentials_activity(user, what, **payload)
    _notify_password_changed(user)
