"""Public portal pages: login, logout, first access (F-01), password reset, information
request (F-03) and the language switch. Rate-limited where a stranger could guess."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (current_app, flash, redirect, render_template, request, session, url_for)
from flask_babel import refresh
from flask_login import current_user, login_user, logout_user

from app.extensions import csrf, db, limiter
from app.i18n import gettext as _
from app.i18n import locale_id
from app.models import Customer
from app.models.base import utcnow
from app.services.core import login_policy, security_log, settings, two_factor
from app.services.portal import accounts, requests as customer_requests
from app.services.sync import freshness
from app.views import sign_in, two_factor as tf
from app.views.sign_in import start_session

from . import bp, current_customer_id, customer_required, with_reference
from .forms import (ConfirmForm, InformationRequestForm, LanguageForm, LoginForm,
                    RegistrationForm, ResetForm, ResetRequestForm, WebCodeResetForm)

LOGIN_LIMIT = "60 per minute"  # a flood brake; wrong passwords: app.services.core.login_policy
REGISTER_LIMIT = "10 per hour"
RESET_LIMIT = "5 per 15 minutes"
INFO_LIMIT = "5 per hour"


def _post_only(limit: str):
    return limiter.limit(limit, methods=["POST"])


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/portal/"):
            return target
    return url_for("portal.home")


def _field_error(form, exc) -> None:
    field = getattr(form, exc.field or "", None)
    if field is not None:
        field.errors = list(field.errors) + [str(exc.message)]
    else:
        flash(str(exc.message), "error")


@bp.route("/")
def index():
    return redirect(url_for("portal.home" if current_customer_id() else "portal.login"))


@bp.route("/login", methods=["GET", "POST"])
@_post_only(LOGIN_LIMIT)
def login():
    if current_customer_id():
        return redirect(url_for("portal.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        signed_in, status = _password_step(form)
        if signed_in is not None:
            return signed_in
    return render_template("portal/login.html", form=form), status


@bp.route("/login/website", methods=["POST"])
@csrf.exempt  # no session in the website's frame: the embedding token and the origin instead
@_post_only(LOGIN_LIMIT)
def login_from_website():
    """The sign-in box of the company's website (app.views.widgets) posts here in the top
    window: its form has no session to carry a CSRF token, so its embedding token and origin
    are checked instead; then the sign-in goes on exactly as the portal's own form."""
    from app.services.core.embedding import WidgetRefused
    from app.views import widgets

    lang = widgets.choose_language()
    try:
        widgets.check_post(widgets.LOGIN_WIDGET)
    except WidgetRefused as exc:
        security_log.event("website_signin_refused", request.form.get("username"), reason=exc.reason)
        flash(_("The sign-in box you used has expired or does not come from our website: sign in here."),
              "warning")
        form = LoginForm(formdata=None, username=request.form.get("username", "")[:254])
        return render_template("portal/login.html", form=form), 400  # as a CSRF refusal
    session["locale"] = lang  # the portal's pages from here on, first-party, in the box's language
    if current_customer_id():
        return redirect(url_for("portal.home"))
    sent = LoginForm(meta={"csrf": False})
    status = 200
    if sent.validate():
        signed_in, status = _password_step(sent)
        if signed_in is not None:
            return signed_in
    # Wrong: the portal's own sign-in page (with its CSRF token) from here, the errors on it.
    form = LoginForm(formdata=None, username=sent.username.data)
    form.username.errors, form.password.errors = list(sent.username.errors), list(sent.password.errors)
    return render_template("portal/login.html", form=form), status


def _password_step(form: LoginForm):
    """Check a submitted sign-in form's password: (the next step's redirect, 302) when it is
    right, else (None, status) with the form's errors set."""
    status = 200
    verdict = login_policy.check(form.username.data)
    user = accounts.authenticate(form.username.data, form.password.data) if verdict.allowed else None
    if not verdict.allowed:
        form.password.errors = [_("Too many failed sign-in attempts: try again in %(minutes)s minutes.",
                                  minutes=verdict.minutes)]
        status = 429
    elif user is None and (closed := accounts.closed_by_billing(form.username.data, form.password.data)):
        form.password.errors = [
            _("Your customer records have been merged into one, which already has its own "
              "account: please sign in with that account. We have sent you an e-mail about "
              "it.") if closed == "merged" else
            _("Your customer record has been closed, so this account "
              "is no longer active. Please contact us for any question.")]
    elif user is None:
        login_policy.failed(form.username.data)
        form.password.errors = [_("Wrong username or password.")]
    else:
        login_policy.succeeded(form.username.data)
        start_session()  # a new session at login (no fixation)
        if two_factor.is_enrolled(user):
            sign_in.await_second_factor(user.id, _safe_next(request.args.get("next")), "portal")
            security_log.event("signin_password_accepted", user.username, area="portal", next_step="code")
            return redirect(url_for("portal.login_code")), 302
        return _signed_in(user, _safe_next(request.args.get("next"))), 302
    return None, status


def _signed_in(user, next_url: str, factor: str | None = None):
    sign_in.end_pending()
    login_user(user)  # the user_logged_in signal stores the session version
    security_log.event("signin_succeeded", user.username, area="portal",
                       **({"second_factor": factor} if factor else {}))
    if user.language in ("it", "en"):
        session["locale"] = user.language
        refresh()
    customer = db.session.get(Customer, user.customer_id)
    if customer is None or not freshness.refresh_customer(customer):
        session["refresh_tried_at"] = utcnow().isoformat()  # pages don't retry at once
        flash(_("The billing system is not answering right now: you are seeing the "
                "data we already have."), "warning")
    return redirect(next_url)


def _page(template: str, status: int = 200, **ctx):
    return render_template(template, layout="portal/base.html", area="portal", **ctx), status, \
        {"Cache-Control": "no-store"}


@bp.route("/login/code", methods=["GET", "POST"])
@_post_only(LOGIN_LIMIT)
def login_code():
    """The second step of the sign-in, for customers who enrolled."""
    user = sign_in.pending_user("portal")
    if user is None or not two_factor.is_enrolled(user):
        return redirect(url_for("portal.login"))
    form = tf.CodeForm()
    status = 200
    if form.validate_on_submit():
        kind, error, status = tf.check_code(user, form.code.data, "portal")
        if kind:
            return _signed_in(user, sign_in.pending_next(url_for("portal.home")), kind)
        form.code.errors = [error]
    return _page("two_factor/code.html", status, form=form)


@bp.route("/account/two-factor", methods=["GET"])
@customer_required
def two_factor_page():
    """Optional for customers: set it up, new recovery codes, turn it off."""
    return _two_factor_page()


def _two_factor_page(form=None, what: str = "", status: int = 200):
    user = current_user
    return _page("two_factor/manage.html", status, enrolled=two_factor.is_enrolled(user), required=False,
                 left=two_factor.recovery_codes_left(user),
                 renew_form=form if what == "recovery-codes" else tf.ReauthForm(prefix="rc", formdata=None),
                 off_form=form if what == "off" else tf.ReauthForm(prefix="off", formdata=None),
                 enrol_url=url_for("portal.two_factor_enrol"), action_url="portal.two_factor_change")


@bp.route("/account/two-factor/enrol", methods=["GET", "POST"])
@customer_required
def two_factor_enrol():
    user = current_user
    if two_factor.is_enrolled(user):
        return redirect(url_for("portal.two_factor_page"))
    form = tf.EnrolForm()
    status = 200
    if form.validate_on_submit():
        errors = tf.reauthenticate(user, form.current_password.data, None, "portal", "two_factor")
        if not errors:
            codes = two_factor.confirm_enrolment(user, form.code.data)
            if codes:
                return _page("two_factor/recovery_codes.html", codes=codes,
                             next_url=url_for("portal.two_factor_page"))
            login_policy.failed(user.username)
            errors = {"code": _("The code is not correct: check the time on your phone "
                                "and type the code the app shows now.")}
        tf.add_errors(form, errors)
    if request.method == "POST":
        status = 400  # the form again, with what was wrong
    return _page("two_factor/enrol.html", status, form=form, pending=False, required=False,
                 **tf.enrolment_context(user))


@bp.route("/account/two-factor/<what>", methods=["POST"])
@customer_required
def two_factor_change(what):
    user = current_user
    if what not in ("recovery-codes", "off") or not two_factor.is_enrolled(user):
        return redirect(url_for("portal.two_factor_page"))
    form = tf.ReauthForm(prefix="rc" if what == "recovery-codes" else "off")
    if form.validate_on_submit():
        errors = tf.reauthenticate(user, form.current_password.data, form.code.data, "portal", "two_factor")
        if not errors:
            if what == "off":
                two_factor.disable(user)
                flash(_("Two-factor sign-in is off."), "success")
                return redirect(url_for("portal.two_factor_page"))
            return _page("two_factor/recovery_codes.html", codes=two_factor.regenerate_recovery_codes(user),
                         next_url=url_for("portal.two_factor_page"))
        tf.add_errors(form, errors)
    return _two_factor_page(form, what, 400)


@bp.route("/logout", methods=["POST"])
def logout():
    form = ConfirmForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        locale = session.get("locale")
        security_log.event("logout", current_user.username, area="portal")
        logout_user()  # ends every session of the user (session version)
        session.clear()
        if locale:
            session["locale"] = locale
    return redirect(url_for("portal.login"))


def _account_step(form, action, done_message):
    """Run an account service call: a refusal goes next to its field (nothing saved), success
    flashes `done_message` (or what it makes of the call's result, when callable) and leads
    to the login page."""
    try:
        result = action()
    except accounts.AccountError as exc:
        db.session.rollback()
        _field_error(form, exc)
        return None
    flash(done_message(result) if callable(done_message) else done_message, "success")
    return redirect(url_for("portal.login"))


def _registered(user) -> str:
    ready = _("Your account is ready: sign in with your username and password.")
    request_ = accounts.registration_request(user)
    return with_reference(ready, request_) if request_ is not None else ready


@bp.route("/register", methods=["GET", "POST"])
@_post_only(REGISTER_LIMIT)
def register():
    form = RegistrationForm()
    if form.validate_on_submit():
        data = accounts.Registration(
            web_code=form.web_code.data, identifier=form.identifier.data,
            username=form.username.data, password=form.password.data,
            question=form.question.data, answer=form.answer.data, email=form.email.data or "",
            language=session.get("locale") or "it")
        done = _account_step(form, lambda: accounts.register(data), _registered)
        if done:
            return done
    return render_template("portal/register.html", form=form, company=settings.company())


@bp.route("/reset", methods=["GET", "POST"])
@_post_only(RESET_LIMIT)
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
        accounts.request_reset(form.login.data, base.rstrip("/") + url_for("portal.index").rstrip("/"),
                               session.get("locale") or "it")
        # The same answer whether or not the account exists.
        flash(_("If an account with an e-mail address matches, we have sent it a link to reset "
                "the password. The link works once, for 30 minutes."), "info")
        return redirect(url_for("portal.reset_request"))
    return render_template("portal/reset_request.html", form=form)


def _link_account_key() -> str:
    """Wrong answers on a reset link are limited per account too, whatever the address."""
    return "reset-link-account:" + accounts.token_account((request.view_args or {}).get("token", ""))


@bp.route("/reset/<token>", methods=["GET", "POST"])
@_post_only(RESET_LIMIT)
@limiter.limit(RESET_LIMIT, methods=["POST"], key_func=_link_account_key)
def reset_with_link(token):
    user = accounts.user_for_token(token)
    form = ResetForm()
    if user is None:
        return render_template("portal/reset_invalid.html"), 404
    form.account_words = (user.username, user.email, user.first_name, user.last_name)
    if form.validate_on_submit():
        done = _account_step(
            form, lambda: accounts.reset_with_token(token, form.answer.data, form.password.data),
            _("Your password has been changed: sign in with the new one."))
        if done:
            return done
    return render_template("portal/reset_form.html", form=form, question=user.security_question)


def _account_key() -> str:
    """Wrong answers are limited per account too, not only per address."""
    return "reset-account:" + (request.form.get("username") or "").strip().lower()


@bp.route("/reset/web-code", methods=["GET", "POST"])
@_post_only(RESET_LIMIT)
@limiter.limit(RESET_LIMIT, methods=["POST"], key_func=_account_key)
def reset_with_web_code():
    form = WebCodeResetForm()
    if form.validate_on_submit():
        done = _account_step(form, lambda: accounts.reset_with_web_code(
            form.username.data, form.web_code.data, form.answer.data, form.password.data),
            _("Your password has been changed: sign in with the new one."))
        if done:
            return done
    return render_template("portal/reset_web_code.html", form=form)


@bp.route("/information", methods=["GET", "POST"])
@_post_only(INFO_LIMIT)
def information_request():
    form = InformationRequestForm()
    if current_customer_id() and request.method == "GET":
        customer = db.session.get(Customer, current_customer_id())
        form.name.data = customer.addressed_name
        form.email.data = accounts.contact_email(current_user) or None
        form.phone.data = customer.phone
    if form.validate_on_submit():
        if form.website.data:  # a bot filled the honeypot: pretend, store nothing
            flash(_("Thank you: we have received your request and will answer soon."), "success")
            return redirect(url_for("portal.information_request"))
        try:
            activity = customer_requests.information_request(
                name=form.name.data, question=form.question.data, email=form.email.data or "",
                phone=form.phone.data or "", postal_address=form.postal_address.data or "",
                customer_id=current_customer_id(),
                user=current_user if current_customer_id() else None, language=locale_id())
        except customer_requests.RequestError as exc:
            _field_error(form, exc)
        else:
            flash(_("Thank you: we have received your request and will answer soon. "
                    "Its reference number is %(reference)s.", reference=activity.reference), "success")
            return redirect(url_for("portal.requests") if current_customer_id()
                            else url_for("portal.information_request"))
    return render_template("portal/information.html", form=form, company=settings.company())


@bp.route("/privacy")
def privacy():
    """The full privacy notice (GDPR art. 13), the controller as the settings name it."""
    return render_template("portal/privacy.html", company=settings.company())


@bp.route("/language", methods=["POST"])
def language():
    form = LanguageForm()
    lang = form.language.data if form.validate_on_submit() else None
    if lang in ("it", "en"):
        session["locale"] = lang
        refresh()
        if current_customer_id():
            accounts.set_language(current_user, lang)
    return redirect(_safe_next(request.form.get("next")) if request.form.get("next")
                    else url_for("portal.index"))


@bp.route("/account", methods=["GET"])
@customer_required
def account():
    from .forms import ChangePasswordForm, ChangeQuestionForm, ChangeUsernameForm

    return render_template("portal/account.html", pw_form=ChangePasswordForm(prefix="pw"),
                           user_form=ChangeUsernameForm(prefix="un"),
                           q_form=ChangeQuestionForm(prefix="sq"))


@bp.route("/account/<what>", methods=["POST"])
@customer_required
def account_change(what):
    from .forms import ChangePasswordForm, ChangeQuestionForm, ChangeUsernameForm

    forms = {"password": ChangePasswordForm(prefix="pw"), "username": ChangeUsernameForm(prefix="un"),
             "question": ChangeQuestionForm(prefix="sq")}
    if what not in forms:
        return redirect(url_for("portal.account"))
    form = forms[what]
    if form.validate_on_submit():
        try:
            if what == "password":
                accounts.change_password(current_user, form.current_password.data, form.password.data,
                                         form.current_code.data)
                flash(_("Your password has been changed."), "success")
            elif what == "username":
                accounts.change_username(current_user, form.current_password.data, form.username.data,
                                         form.current_code.data)
                flash(_("Your username has been changed."), "success")
            else:
                accounts.change_security_question(current_user, form.current_password.data,
                                                  form.question.data, form.answer.data, form.current_code.data)
                flash(_("Your security question has been changed."), "success")
            return redirect(url_for("portal.account"))
        except accounts.AccountError as exc:
            db.session.rollback()
            _field_error(form, exc)
    ctx = {"pw_form": ChangePasswordForm(prefix="pw", formdata=None),
           "user_form": ChangeUsernameForm(prefix="un", formdata=None),
           "q_form": ChangeQuestionForm(prefix="sq", formdata=None)}
    ctx[{"password": "pw_form", "username": "user_form", "question": "q_form"}[what]] = form
    return render_template("portal/account.html", **ctx), 400
