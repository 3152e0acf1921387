"""The settings page (F-42), generated from the registry in app/services/core/settings.py: one
section per registry section, each setting with its label, help, current value and default, one
form (POST + CSRF) saving them all or none. Below, the SMTP and billing connections as the
environment configures them (secrets masked) with a "test connection" button each. Admin only."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_login import current_user
from flask_wtf import FlaskForm

from app.formatting import format_decimal
from app.i18n import gettext as _, lazy_gettext as _l
from app.services.core import settings
from app.services.core.errors import ConnectionFailed
from app.services.mailing.mail import check_smtp
from app.services.sync.gateway import check_connection as check_billing

ROLE_GRANTS: dict = {}  # Admin only (Admin holds every permission)

MASK = "•••"


class SettingsForm(FlaskForm):
    """The CSRF token of the page's forms; the settings' fields come from the registry."""


def slug(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


def _sections(posted=None, errors=None) -> list[dict]:
    """The registry's sections and settings as the page shows them."""
    values = settings.current()
    errors = errors or {}
    out = []
    for section, label, entries in settings.registry().grouped():
        rows = []
        for entry in entries:
            kind, value = entry.kind, values[entry.key]
            rows.append({
                "key": entry.key, "id": slug(entry.key), "label": entry.label, "help": entry.help,
                "input_type": kind.input_type, "input_mode": kind.input_mode,
                "input": posted[entry.key] if posted and entry.key in posted else kind.edit(value),
                "current": kind.show(value) or _("not set"),
                "default": kind.show(entry.default) or _("not set"),
                "error": errors.get(entry.key),
            })
        out.append({"id": section, "label": label, "rows": rows})
    return out


def masked_url(url: str) -> str:
    """A URL without its secrets: the password and every query value replaced by a fixed mask."""
    parts = urlsplit(url or "")
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username:
        host = f"{parts.username}{':' + MASK if parts.password is not None else ''}@{host}"
    query = "&".join(f"{key}={MASK}" for key, _value in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def _seconds(value) -> str:
    return _("%(n)s s", n=format_decimal(value, "#,##0.##"))


def _connections() -> list[dict]:
    """The SMTP and billing connections from the configuration; of a password only whether it
    is configured."""
    cfg = current_app.config

    def secret(name):
        return _("configured (never shown)") if cfg.get(name) else _("not configured")

    return [
        {"id": "smtp", "title": _("Outgoing mail (SMTP)"), "rows": [
            (_("Server"), f"{cfg.get('MAIL_SERVER') or ''}:{cfg.get('MAIL_PORT') or ''}", "MAIL_SERVER, MAIL_PORT"),
            (_("STARTTLS"), _("yes") if cfg.get("MAIL_USE_TLS") else _("no"), "MAIL_USE_TLS"),
            (_("User name"), cfg.get("MAIL_USERNAME") or _("none (no login)"), "MAIL_USERNAME"),
            (_("Password"), secret("MAIL_PASSWORD"), "MAIL_PASSWORD"),
            (_("Sender"), cfg.get("MAIL_DEFAULT_SENDER") or "—", "MAIL_DEFAULT_SENDER"),
        ]},
        {"id": "billing", "title": _("Billing system"), "rows": [
            (_("Address"), masked_url(cfg.get("BILLING_URL") or "") or "—", "BILLING_URL"),
            (_("User name"), cfg.get("BILLING_USERNAME") or _("none (no login)"), "BILLING_USERNAME"),
            (_("Password"), secret("BILLING_PASSWORD"), "BILLING_PASSWORD"),
            (_("Timeout per call"), _seconds(cfg.get("BILLING_TIMEOUT") or 0), "BILLING_TIMEOUT"),
            (_("Timeout at login"), _seconds(cfg.get("BILLING_LOGIN_TIMEOUT") or 0), "BILLING_LOGIN_TIMEOUT"),
            (_("Records per page"), format_decimal(int(cfg.get("BILLING_PAGE_SIZE") or 0)), "BILLING_PAGE_SIZE"),
        ]},
    ]


def _test_smtp() -> str:
    cfg = current_app.config
    server = f"{cfg.get('MAIL_SERVER')}:{cfg.get('MAIL_PORT')}"
    try:
        steps = check_smtp()
    except ConnectionFailed as exc:
        raise ConnectionFailed(_("The SMTP server %(server)s did not answer as expected: %(error)s",
                                 server=server, error=exc.message)) from None
    return _("The SMTP server %(server)s answered: %(steps)s.", server=server, steps=", ".join(steps))


def _test_billing() -> str:
    url = masked_url(current_app.config.get("BILLING_URL") or "")
    try:
        check_billing()
    except ConnectionFailed as exc:
        raise ConnectionFailed(_("Billing at %(url)s did not answer as expected: %(error)s",
                                 url=url, error=exc.message)) from None
    return _("Billing at %(url)s answered.", url=url)


CONNECTION_TESTS = {"smtp": _test_smtp, "billing": _test_billing}


class SettingsView(BaseView):
    route_base = "/settings"
    default_view = "show"

    def _page(self, posted=None, errors=None):
        return self.render_template("admin/settings.html", sections=_sections(posted, errors),
                                    connections=_connections(), form=SettingsForm(),
                                    title=_("Settings"))

    @expose("/")
    @has_access
    def show(self):
        return self._page()

    @expose("/save", methods=["POST"])
    @has_access
    @permission_name("edit")
    def save(self):
        if not SettingsForm().validate_on_submit():
            abort(400)
        try:
            changes = settings.update_from_input(request.form, current_user)
        except settings.SettingsInvalid as exc:
            flash(str(exc.message), "danger")
            return self._page(posted=request.form, errors=exc.errors), 400
        if changes:
            reg = settings.registry()
            saved = "; ".join(f"{reg[key].label}: {reg[key].kind.show(new) or _('not set')}"
                              for key, (_old, new) in changes.items())
            flash(_("Settings saved. New values: %(values)s.", values=saved), "success")
        else:
            flash(_("Nothing changed: every value was already as entered."), "info")
        return redirect(url_for(".show"))

    @expose("/test/<connection>", methods=["POST"])
    @has_access
    @permission_name("test")
    def test(self, connection):
        check = CONNECTION_TESTS.get(connection)
        if check is None:
            abort(404)
        if not SettingsForm().validate_on_submit():
            abort(400)
        try:
            flash(check(), "success")
        except ConnectionFailed as exc:
            flash(str(exc.message), "danger")
        return redirect(url_for(".show"))  # the message shows at the top of the page


def register(appbuilder) -> None:
    appbuilder.add_view(SettingsView, "Settings", label=_l("Settings"), icon="fa-sliders",
                        category="System", category_label=_l("System"), category_icon="fa-cogs")
