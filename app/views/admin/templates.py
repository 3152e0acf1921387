"""Message templates page (F-41): every e-mail per language, edit with preview, reset.

Admins only (Admin holds every permission; no other role is granted these views)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from app.i18n import gettext as _, lazy_gettext as _l
from app.services.core import settings
from app.services.mailing import mail
from app.services.mailing import templates as svc

ROLE_GRANTS: dict = {}  # Admin only


class TemplateForm(FlaskForm):
    subject = StringField(_l("Subject"), validators=[Length(max=200)])
    body_text = TextAreaField(_l("Text"))
    body_html = TextAreaField(_l("HTML (optional)"))


class MessageTemplateView(BaseView):
    route_base = "/messagetemplates"
    default_view = "list"

    @expose("/")
    @has_access
    def list(self):
        return self.render_template("admin/templates_list.html", entries=svc.entries(),
                                    reminder_days=settings.shown("reminder_days"),
                                    title=_("Message templates"))

    def _known(self, name, language):
        if name not in mail.template_names() or language not in svc.languages():
            abort(404)

    @expose("/edit/<name>/<language>", methods=["GET", "POST"])
    @has_access
    def edit(self, name, language):
        self._known(name, language)
        form = TemplateForm() if request.method == "POST" else TemplateForm(data=svc.source(name, language))
        preview, status = None, 200
        if request.method == "POST":
            if not form.validate_on_submit():
                abort(400)
            values = {f: getattr(form, f).data or "" for f in svc.FIELDS}
            if request.form.get("save"):
                try:
                    svc.save(name, language, values, current_user)
                except svc.TemplateInvalid as exc:
                    self._show_errors(form, exc.errors)
                    flash(_("The template has errors and was not saved."), "danger")
                    status = 400
                else:
                    flash(_("Template saved."), "success")
                    return redirect(url_for(".edit", name=name, language=language))
            else:
                preview, errors = svc.check(name, values)
                self._show_errors(form, errors)
                status = 400 if errors else 200
        elif preview is None:
            preview, _errors = svc.check(name, svc.source(name, language))
        return self.render_template("admin/template_edit.html", form=form, name=name, language=language,
                                    preview=preview, variables=sorted(svc.allowed_variables(name)),
                                    kind_title=svc.title(name),
                                    title=_("Message template")), status

    @staticmethod
    def _show_errors(form, errors):
        for field, messages in errors.items():
            getattr(form, field).errors = list(getattr(form, field).errors) + list(messages)

    @expose("/reset/<name>/<language>", methods=["POST"])
    @has_access
    @permission_name("edit")
    def reset(self, name, language):
        self._known(name, language)
        if not TemplateForm().validate_on_submit():
            abort(400)
        if svc.reset(name, language, current_user):
            flash(_("The default text applies again."), "success")
        return redirect(url_for(".edit", name=name, language=language))


def register(appbuilder) -> None:
    appbuilder.add_view(MessageTemplateView, "Message templates", label=_l("Message templates"),
                        icon="fa-envelope-o", category="Security")
