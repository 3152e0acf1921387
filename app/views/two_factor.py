"""Two-factor sign-in pages shared by the back office and the portal (F-65): the forms, the code
step under the sign-in policy, and re-authentication with the password and a current code."""
from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.security import check_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.i18n import gettext as _, lazy_gettext as _l
from app.services.core import login_policy, security_log, two_factor

REQUIRED = _l("This field is required.")
CODE_ATTRS = {"autocomplete": "one-time-code", "inputmode": "numeric", "autocapitalize": "off",
              "spellcheck": "false"}


def _code_field(label, required: bool = True):
    return StringField(label, validators=[DataRequired(REQUIRED), Length(max=20)] if required else [Length(max=20)],
                       render_kw=dict(CODE_ATTRS))


class CodeForm(FlaskForm):
    """The second step of the sign-in: a code from the app, or a recovery code."""
    code = _code_field(_l("Code from the authenticator app, or a recovery code"))


class EnrolForm(FlaskForm):
    """The first code confirms the enrolment; a signed-in user also types the password."""
    current_password = PasswordField(_l("Current password"), render_kw={"autocomplete": "current-password"})
    code = _code_field(_l("The 6-digit code the app shows"))


class ReauthForm(FlaskForm):
    """Turning two-factor sign-in off, or new recovery codes: the password and a current code."""
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)],
                                     render_kw={"autocomplete": "current-password"})
    code = _code_field(_l("Code from the authenticator app, or a recovery code"))


def locked_message(verdict: login_policy.Verdict) -> str:
    return _("Too many failed sign-in attempts: try again in %(minutes)s minutes.", minutes=verdict.minutes)


def check_code(user, code: str, area: str) -> tuple[str | None, str | None, int]:
    """The code step under the one sign-in policy: (kind accepted, error message, status); a
    recovery code accepted says how many are left."""
    verdict = login_policy.check(user.username)
    if not verdict.allowed:
        return None, locked_message(verdict), 429
    kind = two_factor.verify(user, code)
    if kind is None:
        security_log.event("two_factor_failed", user.username, area=area)
        verdict = login_policy.failed(user.username)
        message = _("The code is not correct or has been used already: wait for the next one.")
        return None, (locked_message(verdict) if not verdict.allowed else message), 200
    login_policy.succeeded(user.username)
    if kind == "recovery":
        flash(_("You signed in with a recovery code: %(left)s are left. Create new ones "
                "on the two-factor sign-in page if few remain.",
                left=two_factor.recovery_codes_left(user)), "warning")
    return kind, None, 200


def reauthenticate(user, password: str | None, code: str | None, area: str, what: str) -> dict[str, str]:
    """The current password, and a current code when the user has enrolled, under the sign-in
    policy: {field: message} of what is wrong (empty: confirmed)."""
    verdict = login_policy.check(user.username)
    if not verdict.allowed:
        return {"current_password": locked_message(verdict)}
    if not password or not check_password_hash(user.password or "", password):
        security_log.event("reauth_failed", user.username, area=area, change=what)
        login_policy.failed(user.username)
        return {"current_password": _("The current password is not correct.")}
    if two_factor.is_enrolled(user):
        if not code:
            return {"code": _("Type the code from your authenticator app.")}
        kind = two_factor.verify(user, code)
        if kind is None:
            security_log.event("reauth_failed", user.username, area=area, change=what, factor="code")
            login_policy.failed(user.username)
            return {"code": _("The code is not correct or has been used already: wait for the next one.")}
    return {}


def add_errors(form, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = getattr(form, name)
        field.errors = list(field.errors) + [message]


def enrolment_context(user) -> dict:
    """What the enrolment page shows: the QR code (inline SVG) and the secret as text."""
    secret = two_factor.pending_or_new_secret(user)
    uri = two_factor.provisioning_uri(user, secret)
    return {"qr": Markup(two_factor.qr_svg(uri)), "secret": two_factor.grouped_secret(secret)}
