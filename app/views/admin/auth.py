"""Staff sign-in and sign-out: FAB's login form under the one sign-in policy
(app.services.core.login_policy), a new session at sign-in, and logout only by POST with CSRF."""
from __future__ import annotations

from flask import abort, flash, g, redirect, request, session, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
from flask_appbuilder.security.forms import ResetPasswordForm
from flask_appbuilder.security.views import (AuthDBView as _AuthDBView, ResetMyPasswordView as _ResetMyPasswordView,
                                             ResetPasswordView as _ResetPasswordView)
from flask_appbuilder.utils.base import get_safe_redirect
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from app.i18n import gettext as _, lazy_gettext as _l
from app.services.core import login_policy, security_log, two_factor
from app.views import sign_in, two_factor as tf
from app.views.sign_in import start_session

locked_message = tf.locked_message


class AuthDBView(_AuthDBView):
    """Same class name as FAB's, so the endpoints (`AuthDBView.login`) do not change."""

    default_view = "login"

    @expose("/login/", methods=["GET", "POST"])
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        status = 200
        if form.validate_on_submit():
            next_url = get_safe_redirect(request.args.get("next", ""))
            login = form.username.data
            verdict = login_policy.check(login)
            if not verdict.allowed:
                flash(locked_message(verdict), "warning")
                status = 429
            else:
                user = self.appbuilder.sm.auth_user_db(login, form.password.data)
                if not user:
                    login_policy.failed(login)
                    flash(str(self.invalid_login_message), "warning")
                    return redirect(self.appbuilder.get_url_for_login_with(next_url))
                login_policy.succeeded(login)
                start_session()
                enrolled = two_factor.is_enrolled(user)
                if enrolled or two_factor.is_required(user):
                    # The password was right: the code (or, when obliged, the enrolment) comes
                    # before any page.
                    sign_in.await_second_factor(user.id, next_url, "staff")
                    security_log.event("signin_password_accepted", user.username, area="staff",
                                       next_step="code" if enrolled else "enrol")
                    return redirect(url_for("AuthDBView.login_code" if enrolled else "AuthDBView.enrol"))
                return self._signed_in(user, next_url)
        response = self.render_template(self.login_template, title=self.title, form=form,
                                        appbuilder=self.appbuilder)
        return response, status, {"Cache-Control": "no-store"}

    def _signed_in(self, user, next_url: str, factor: str | None = None):
        sign_in.end_pending()
        login_user(user, remember=False)
        fields = {"second_factor": factor} if factor else {}
        security_log.event("signin_succeeded", user.username, area="staff", **fields)
        return redirect(next_url)

    def _page(self, template: str, status: int = 200, **ctx):
        body = self.render_template(template, appbuilder=self.appbuilder, layout="appbuilder/base.html",
                                    area="staff", **ctx)
        return body, status, {"Cache-Control": "no-store"}

    @expose("/login/code/", methods=["GET", "POST"])
    def login_code(self):
        """The second step of the sign-in: a code from the authenticator app or a recovery code."""
        user = sign_in.pending_user("staff")
        if user is None or not two_factor.is_enrolled(user):
            return redirect(self.appbuilder.get_url_for_login)
        form = tf.CodeForm()
        status = 200
        if form.validate_on_submit():
            kind, error, status = tf.check_code(user, form.code.data, "staff")
            if kind:
                return self._signed_in(user, sign_in.pending_next(self.appbuilder.get_url_for_index), kind)
            form.code.errors = [error]
        return self._page("two_factor/code.html", status, form=form, title=_("Two-factor sign-in"))

    def _enrolling_user(self):
        """A signed-in staff member, or one whose password was right and who must enrol first."""
        if g.user is not None and g.user.is_authenticated and g.user.customer_id is None:
            return g.user, False
        user = sign_in.pending_user("staff")
        return (user, True) if user is not None else (None, True)

    @expose("/two-factor/enrol/", methods=["GET", "POST"])
    def enrol(self):
        """Enrolment: the QR code and the secret as text; the first code confirms it."""
        user, pending = self._enrolling_user()
        if user is None:
            return redirect(self.appbuilder.get_url_for_login)
        if two_factor.is_enrolled(user):
            return redirect(url_for("AuthDBView.two_factor_page") if not pending
                            else url_for("AuthDBView.login_code"))
        form = tf.EnrolForm()
        status = 200
        if form.validate_on_submit():
            errors = {}
            if not pending:
                errors = tf.reauthenticate(user, form.current_password.data, None, "staff", "two_factor")
            codes = None
            if not errors:
                verdict = login_policy.check(user.username)
                if not verdict.allowed:
                    errors, status = {"code": tf.locked_message(verdict)}, 429
                else:
                    codes = two_factor.confirm_enrolment(user, form.code.data)
                    if codes is None:
                        login_policy.failed(user.username)
                        errors = {"code": _("The code is not correct: check the time on your phone "
                                            "and type the code the app shows now.")}
            if codes:
                next_url = sign_in.pending_next(self.appbuilder.get_url_for_index) if pending \
                    else url_for("AuthDBView.two_factor_page")
                if pending:
                    sign_in.end_pending()
                    login_user(user, remember=False)
                    security_log.event("signin_succeeded", user.username, area="staff", second_factor="enrolled")
                return self._page("two_factor/recovery_codes.html", codes=codes, next_url=next_url,
                                  title=_("Your recovery codes"))
            tf.add_errors(form, errors)
        if request.method == "POST" and status == 200:
            status = 400  # the form again, with what was wrong
        return self._page("two_factor/enrol.html", status, form=form, pending=pending,
                          required=two_factor.is_required(user), title=_("Set up two-factor sign-in"),
                          **tf.enrolment_context(user))

    def _signed_in_staff(self):
        user = g.user
        if user is None or not user.is_authenticated or user.customer_id is not None:
            return None
        return user

    @expose("/two-factor/", methods=["GET"])
    def two_factor_page(self):
        """The signed-in staff member's second factor: state, new recovery codes, turning it off."""
        user = self._signed_in_staff()
        if user is None:
            return redirect(self.appbuilder.get_url_for_login)
        return self._two_factor_page(user)

    def _two_factor_page(self, user, form=None, what: str = "", status: int = 200):
        return self._page("two_factor/manage.html", status, enrolled=two_factor.is_enrolled(user),
                          required=two_factor.is_required(user), left=two_factor.recovery_codes_left(user),
                          renew_form=form if what == "recovery-codes" else tf.ReauthForm(prefix="rc", formdata=None),
                          off_form=form if what == "off" else tf.ReauthForm(prefix="off", formdata=None),
                          enrol_url=url_for("AuthDBView.enrol"), action_url="AuthDBView.two_factor_change",
                          title=_("Two-factor sign-in"))

    @expose("/two-factor/<what>", methods=["POST"])
    def two_factor_change(self, what):
        """New recovery codes, or the second factor off: after the password and a current code."""
        user = self._signed_in_staff()
        if user is None:
            return redirect(self.appbuilder.get_url_for_login)
        if what not in ("recovery-codes", "off") or not two_factor.is_enrolled(user):
            return redirect(url_for("AuthDBView.two_factor_page"))
        form = tf.ReauthForm(prefix="rc" if what == "recovery-codes" else "off")
        if form.validate_on_submit():
            if what == "off" and two_factor.is_required(user):
                flash(_("Your role requires two-factor sign-in: it cannot be turned off."), "warning")
                return redirect(url_for("AuthDBView.two_factor_page"))
            errors = tf.reauthenticate(user, form.current_password.data, form.code.data, "staff", "two_factor")
            if not errors:
                if what == "off":
                    two_factor.disable(user)
                    flash(_("Two-factor sign-in is off."), "success")
                    return redirect(url_for("AuthDBView.two_factor_page"))
                codes = two_factor.regenerate_recovery_codes(user)
                return self._page("two_factor/recovery_codes.html", codes=codes,
                                  next_url=url_for("AuthDBView.two_factor_page"), title=_("Your recovery codes"))
            tf.add_errors(form, errors)
        return self._two_factor_page(user, form, what, 400)

    @expose("/logout/", methods=["GET", "POST"])
    def logout(self):
        """GET shows a confirmation button (a link from another site cannot sign anyone out);
        the POST, with its CSRF token, signs out."""
        form = FlaskForm()
        user = self._get_authenticated_user()
        if request.method == "GET":
            if user is None:
                return redirect(self.appbuilder.get_url_for_login)
            return self.render_template("admin/logout_confirm.html", form=form, title=_("Sign out"),
                                        appbuilder=self.appbuilder)
        if form.validate_on_submit() and user is not None:
            locale = session.get("locale")
            security_log.event("logout", user.username, area="staff")
            logout_user()  # ends every session of the user (session version)
            self.appbuilder.sm.on_user_logout(user)
            session.clear()
            if locale:
                session["locale"] = locale
        return redirect(self.appbuilder.get_url_for_login)


def _current_password_matches(form, field) -> None:
    """The signed-in user's current password, and a current code when enrolled, checked (under
    the sign-in policy) before a new password is set."""
    from wtforms.validators import ValidationError

    errors = tf.reauthenticate(g.user, field.data, form.current_code.data, "staff", "password")
    if errors:
        raise ValidationError(errors.get("current_password") or errors["code"])


class ResetMyPasswordForm(ResetPasswordForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), _current_password_matches],
                                     widget=BS3PasswordFieldWidget())
    current_code = StringField(_l("Code from the authenticator app (if you use two-factor sign-in)"),
                               widget=BS3TextFieldWidget(), render_kw=dict(tf.CODE_ATTRS))


class ResetMyPasswordView(_ResetMyPasswordView):
    """A staff member changes their own password only after typing the current one (same class
    name as FAB's: the permissions do not change)."""

    form = ResetMyPasswordForm


def _admin_password_matches(form, field) -> None:
    """The administrator's own password, and a current code when enrolled, before another
    user's password is set: a session left open is not enough to take over an account."""
    from wtforms.validators import ValidationError

    errors = tf.reauthenticate(g.user, field.data, form.current_code.data, "staff", "password_of_other")
    if errors:
        raise ValidationError(errors.get("current_password") or errors["code"])


class AdminPasswordConfirmation:
    current_password = PasswordField(_l("Your own password (to confirm it is you)"),
                                     validators=[DataRequired(), _admin_password_matches],
                                     widget=BS3PasswordFieldWidget())
    current_code = StringField(_l("Code from the authenticator app (if you use two-factor sign-in)"),
                               widget=BS3TextFieldWidget(), render_kw=dict(tf.CODE_ATTRS))


class ResetPasswordOfUserForm(ResetPasswordForm, AdminPasswordConfirmation):
    pass


class ResetPasswordView(_ResetPasswordView):
    """An administrator sets another user's password after typing their own (same class name
    as FAB's: the permissions do not change); the change is in the security log."""

    form = ResetPasswordOfUserForm

    def _target(self):
        target = self.appbuilder.sm.get_user_by_id(request.args.get("pk", type=int))
        if target is None:
            abort(404)
        return target

    def form_get(self, form) -> None:
        self._target()

    def form_post(self, form) -> None:
        target = self._target()
        super().form_post(form)
        security_log.event("password_set_by_admin", target.username, area="staff", by=g.user.username)


def _admin_password_when_contact_changes(form, field) -> None:
    """On the user edit form: changing a user's e-mail address or username (where reset links
    and sign-in go) asks for the administrator's own password, and code when enrolled."""
    from flask import current_app
    from wtforms.validators import ValidationError

    pk = getattr(form, "_id", None)
    user = current_app.appbuilder.sm.get_user_by_id(pk) if pk is not None else None
    if user is None:
        return
    email = (form.email.data or "").strip().lower() if "email" in form else (user.email or "").lower()
    username = form.username.data if "username" in form else user.username
    if email == (user.email or "").strip().lower() and username == user.username:
        return  # no confirmation needed for names, roles or the active flag
    if not field.data:
        raise ValidationError(_("Type your own password to change this user's e-mail address or username."))
    errors = tf.reauthenticate(g.user, field.data, form.current_code.data, "staff", "contact_of_other")
    if errors:
        raise ValidationError(errors.get("current_password") or errors["code"])


def contact_confirmation_fields() -> dict:
    """The user edit form's extra fields: the administrator's password and code, asked only
    when the e-mail address or username changes."""
    return {
        "current_password": PasswordField(
            _l("Your own password (only to change the e-mail address or username)"),
            validators=[_admin_password_when_contact_changes], widget=BS3PasswordFieldWidget()),
        "current_code": StringField(_l("Code from the authenticator app (if you use two-factor sign-in)"),
                                    widget=BS3TextFieldWidget(), render_kw=dict(tf.CODE_ATTRS)),
    }
