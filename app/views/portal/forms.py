"""The portal's forms (Flask-WTF: CSRF on every POST; messages in the user's language)."""
from __future__ import annotations

import datetime as dt

from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms import (BooleanField, DateField, EmailField, HiddenField, IntegerField,
                     PasswordField, RadioField, SelectField, StringField, TextAreaField)
from wtforms.validators import (DataRequired, Email, EqualTo, InputRequired, Length, NumberRange,
                                Optional, ValidationError)

from app.i18n import lazy_gettext as _l
from app.models import DeliveryMode
from app.validators import Checked, bic as bank_bic, iban as sepa_iban, tax_code, vat_number
from app.validators import birth_date as plausible_birth_date, post_code as italian_post_code
from app.validators import province as italian_province

REQUIRED = _l("This field is required.")


def _strong(form, field):
    from app.passwords import password_complexity

    try:
        # The account's own words (a reset by link knows the account; other forms carry them).
        password_complexity(field.data or "", getattr(form, "account_words", ()))
    except PasswordComplexityValidationError as exc:
        raise ValidationError(str(exc)) from None


def _password(label):
    return PasswordField(label, validators=[DataRequired(REQUIRED), _strong],
                         render_kw={"autocomplete": "new-password"})


def _reauth_code():
    """A current code from the authenticator app, with the password, for customers who use
    two-factor sign-in (shown only to them)."""
    return StringField(_l("Code from the authenticator app"), validators=[Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


def _reauth_password(label):
    """The current password confirming a sensitive change (checked by the service)."""
    return PasswordField(label, render_kw={"autocomplete": "current-password"})


def _confirm(label, other="password"):
    return PasswordField(label, validators=[DataRequired(REQUIRED),
                                            EqualTo(other, _l("The two passwords differ."))],
                         render_kw={"autocomplete": "new-password"})


class LoginForm(FlaskForm):
    username = StringField(_l("Username or e-mail"), validators=[DataRequired(REQUIRED)],
                           render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED)],
                             render_kw={"autocomplete": "current-password"})


class RegistrationForm(FlaskForm):
    web_code = StringField(_l("Web code (printed on your invoice)"),
                           validators=[DataRequired(REQUIRED), Length(max=20)],
                           render_kw={"autocomplete": "off"})
    identifier = StringField(_l("Tax code, VAT number or customer code"),
                             validators=[DataRequired(REQUIRED), Length(max=20)])
    username = StringField(_l("Choose a username"),
                           validators=[DataRequired(REQUIRED), Length(min=4, max=64)],
                           render_kw={"autocomplete": "username"})
    password = _password(_l("Choose a password (at least 8 characters)"))
    password_confirm = _confirm(_l("Repeat the password"))
    question = StringField(_l("Security question"),
                           validators=[DataRequired(REQUIRED), Length(min=5, max=200)])
    answer = StringField(_l("Answer to the security question"),
                         validators=[DataRequired(REQUIRED), Length(min=2, max=200)],
                         render_kw={"autocomplete": "off"})
    email = EmailField(_l("E-mail (optional: for notices and password reset)"),
                       validators=[Optional(), Email(_l("This e-mail address is not valid.")),
                                   Length(max=254)], render_kw={"autocomplete": "email"})


class ResetRequestForm(FlaskForm):
    login = StringField(_l("Username or e-mail"), validators=[DataRequired(REQUIRED)],
                        render_kw={"autocomplete": "username"})


class ResetForm(FlaskForm):
    answer = StringField(_l("Answer to the security question"), validators=[DataRequired(REQUIRED)],
                         render_kw={"autocomplete": "off"})
    password = _password(_l("New password"))
    password_confirm = _confirm(_l("Repeat the new password"))


class WebCodeResetForm(ResetForm):
    username = StringField(_l("Username"), validators=[DataRequired(REQUIRED)],
                           render_kw={"autocomplete": "username"})
    web_code = StringField(_l("Web code of an invoice received after you registered"),
                           validators=[DataRequired(REQUIRED), Length(max=20)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)],
                                     render_kw={"autocomplete": "current-password"})
    current_code = _reauth_code()
    password = _password(_l("New password"))
    password_confirm = _confirm(_l("Repeat the new password"))


class ChangeUsernameForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)],
                                     render_kw={"autocomplete": "current-password"})
    current_code = _reauth_code()
    username = StringField(_l("New username"), validators=[DataRequired(REQUIRED), Length(min=4, max=64)])


class ChangeQuestionForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)],
                                     render_kw={"autocomplete": "current-password"})
    current_code = _reauth_code()
    question = StringField(_l("Security question"), validators=[DataRequired(REQUIRED), Length(min=5, max=200)])
    answer = StringField(_l("Answer to the security question"),
                         validators=[DataRequired(REQUIRED), Length(min=2, max=200)],
                         render_kw={"autocomplete": "off"})


class ReadingForm(FlaskForm):
    meter = SelectField(_l("Meter"), validators=[DataRequired(REQUIRED)])
    reading_date = DateField(_l("Reading date"), validators=[InputRequired(REQUIRED)],
                             default=dt.date.today)
    value = IntegerField(_l("Meter reading"), validators=[InputRequired(_l("Enter the number shown by the meter.")),
                                                          NumberRange(min=0)],
                         render_kw={"inputmode": "numeric"})
    corrector_value = IntegerField(_l("Volume corrector reading"), validators=[Optional(), NumberRange(min=0)],
                                   render_kw={"inputmode": "numeric"})
    confirm = BooleanField(_l("I confirm this reading is correct although the consumption is unusually high"))
    confirm_rollover = BooleanField(_l("I confirm the meter passed zero since the previous reading"))


class PersonalDataForm(FlaskForm):
    last_name = StringField(_l("Last name"), validators=[Length(max=80)])
    first_name = StringField(_l("First name"), validators=[Length(max=80)])
    company_name = StringField(_l("Company name"), validators=[Length(max=160)])
    tax_code = StringField(_l("Tax code"), validators=[Checked(tax_code, optional=True)])
    vat_number = StringField(_l("VAT number"), validators=[Checked(vat_number, optional=True)])
    birth_date = DateField(_l("Date of birth"),
                           validators=[Optional(), Checked(plausible_birth_date)])
    address = StringField(_l("Address"), validators=[Length(max=160)])
    post_code = StringField(_l("Post code"), validators=[Checked(italian_post_code, optional=True)],
                            render_kw={"inputmode": "numeric", "maxlength": 5})
    city = StringField(_l("City"), validators=[Length(max=80)])
    province = StringField(_l("Province"), validators=[Checked(italian_province, optional=True)],
                           render_kw={"maxlength": 2})
    phone = StringField(_l("Phone"), validators=[Length(max=30)], render_kw={"autocomplete": "tel"})
    email = EmailField(_l("E-mail"), validators=[Optional(), Email(_l("This e-mail address is not valid.")),
                                                 Length(max=254)], render_kw={"autocomplete": "email"})
    current_password = _reauth_password(_l("Your current password (only to change the e-mail)"))
    current_code = _reauth_code()


class MailingAddressForm(FlaskForm):
    name = StringField(_l("Name on the envelope"), validators=[DataRequired(REQUIRED), Length(max=160)])
    address = StringField(_l("Address"), validators=[DataRequired(REQUIRED), Length(max=160)])
    post_code = StringField(_l("Post code"), validators=[DataRequired(REQUIRED), Checked(italian_post_code)],
                            render_kw={"inputmode": "numeric", "maxlength": 5})
    city = StringField(_l("City"), validators=[DataRequired(REQUIRED), Length(max=80)])
    province = StringField(_l("Province"), validators=[DataRequired(REQUIRED), Checked(italian_province)],
                           render_kw={"maxlength": 2})


class MandateForm(FlaskForm):
    iban = StringField(_l("IBAN"), validators=[DataRequired(REQUIRED), Checked(sepa_iban)],
                       render_kw={"autocomplete": "off", "spellcheck": "false"})
    # Optional inside the SEPA area: the IBAN is enough; printed on the mandate when given.
    bic = StringField(_l("BIC (SWIFT code), if you know it"), validators=[Checked(bank_bic, optional=True)],
                      render_kw={"autocomplete": "off", "spellcheck": "false"})
    holder_last_name = StringField(_l("Account holder's last name"),
                                   validators=[DataRequired(REQUIRED), Length(max=80)])
    holder_first_name = StringField(_l("Account holder's first name"), validators=[Length(max=80)])
    holder_tax_code = StringField(_l("Account holder's tax code"), validators=[Checked(tax_code, optional=True)])
    bank = StringField(_l("Bank"), validators=[Length(max=120)])
    branch = StringField(_l("Branch"), validators=[Length(max=120)])
    branch_address = StringField(_l("Branch address"), validators=[Length(max=200)])
    accept = BooleanField(_l("I authorise the company to send direct debit instructions to my bank"),
                          validators=[DataRequired(_l("The mandate needs your authorisation."))])
    current_password = _reauth_password(_l("Your current password, to confirm the request"))
    current_code = _reauth_code()


class ConfirmForm(FlaskForm):
    """A POST with nothing but the CSRF token (revoke, withdraw, logout)."""


class InvoiceDeliveryForm(FlaskForm):
    enabled = BooleanField(_l("Send my invoices by e-mail"))
    mode = RadioField(_l("How"), choices=[SelectChoice(m.value, m.label) for m in DeliveryMode],
                      default=DeliveryMode.LINK.value)
    addresses = TextAreaField(_l("Addresses (up to four, one per line)"), validators=[Length(max=1100)])


class CorrectionForm(FlaskForm):
    reason = TextAreaField(_l("What is wrong with this invoice?"),
                           validators=[DataRequired(REQUIRED), Length(min=10, max=4000)])


class InformationRequestForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(REQUIRED), Length(max=160)],
                       render_kw={"autocomplete": "name"})
    question = TextAreaField(_l("Your question"), validators=[DataRequired(REQUIRED), Length(min=5, max=4000)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Email(_l("This e-mail address is not valid.")),
                                                 Length(max=254)], render_kw={"autocomplete": "email"})
    phone = StringField(_l("Phone"), validators=[Length(max=30)], render_kw={"autocomplete": "tel"})
    postal_address = StringField(_l("Postal address"), validators=[Length(max=300)])
    # Honeypot: hidden from people, filled by bots.
    website = StringField(_l("Leave this field empty"))


class LanguageForm(FlaskForm):
    language = HiddenField()


class ApiTokenForm(FlaskForm):
    """A new personal API token (F-61); a write scope needs the current password (and a code
    with two-factor sign-in)."""

    name = StringField(_l("Token name"), validators=[DataRequired(REQUIRED), Length(max=80)],
                       render_kw={"autocomplete": "off"})
    scope = RadioField(_l("The token may"), default="read_only",
                       choices=[SelectChoice("read_only", _l("Read my data")),
                                SelectChoice("read_readings", _l("Read my data and submit meter readings"))],
                       validators=[InputRequired(REQUIRED)])
    days = IntegerField(_l("Valid for (days)"), validators=[Optional(), NumberRange(min=1, max=730)],
                        render_kw={"inputmode": "numeric"})
    current_password = PasswordField(_l("Current password (needed to submit readings)"),
                                     render_kw={"autocomplete": "current-password"})
    current_code = _reauth_code()

