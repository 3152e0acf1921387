"""Back-office views of general contacts (F-23): file, search and list; move or cancel appointments.

Contacts are filed from the customer's call-center page or from "New contact" here, with or
without a customer; staff search them by kind, date, operator and customer, and cancel planned
appointments (the invitation is cancelled). Agents and operators see and file their own
contacts in `MyContactView`; an agent's contacts have the channel *agent* and may name only a
customer of the agent's own portfolio.
"""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterEqualFunction
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_login import current_user

import sqlalchemy as sa

from app.extensions import db
from app.i18n import gettext as _, lazy_gettext as _l
from app.models import Channel, Contact, ContactKind, Customer
from app.roles import AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER, READ
from app.services.crm import callcenter
from app.services.crm import contacts as svc
from app.services.sales import portfolio
from app.services.sales.contracts import agent_of

from .base import CustomerTextSearch, SecureModelView
from .crm import datetime_formatter, local_to_utc, utc_to_local

CANCEL = ("cancel_appointment", "can_reschedule")
FILE = ("can_file",)
ROLE_GRANTS = {
    MANAGER: {"ContactView": READ + CANCEL + FILE, "MyContactView": READ + CANCEL + FILE},
    BACK_OFFICE: {"ContactView": READ + CANCEL + FILE, "MyContactView": READ + CANCEL + FILE},
    CALL_CENTER: {"ContactView": READ + CANCEL + FILE, "MyContactView": READ + CANCEL + FILE},
    CREDIT_CHECK: {"MyContactView": READ},
    AGENT: {"MyContactView": READ + CANCEL + FILE},
}


class RescheduleForm(FlaskForm):
    starts_at = DateTimeLocalField(_l("When"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    ends_at = DateTimeLocalField(_l("Until"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    location = StringField(_l("Where"), validators=[Optional(), Length(max=200)])
    invite_customer = BooleanField(_l("Send the invitation to the customer too"))


class FileContactForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[(k.value, k.label) for k in ContactKind])
    customer = StringField(_l("Customer"), validators=[Optional(), Length(max=120)],
                           description=_l("Customer code, tax code, VAT number or name; leave empty for a "
                                          "contact without a customer."))
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])
    starts_at = DateTimeLocalField(_l("When"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    ends_at = DateTimeLocalField(_l("Until"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    location = StringField(_l("Where"), validators=[Optional(), Length(max=200)])
    invite_customer = BooleanField(_l("Send the invitation to the customer too"))


def contact_channel(user) -> Channel:
    """Who is filing: an agent of the sales network, the call center (phone) or the back office."""
    roles = {r.name for r in getattr(user, "roles", [])}
    if AGENT in roles or agent_of(user) is not None:
        return Channel.AGENT
    return Channel.PHONE if CALL_CENTER in roles else Channel.BACK_OFFICE


def find_customer(user, text: str) -> Customer:
    """The one customer `text` names for `user`: an agent only finds their own portfolio's."""
    if contact_channel(user) == Channel.AGENT:
        found = portfolio.customers(user, text, limit=5)
        nobody = _("None of your customers matches “%(q)s”.", q=text)
    else:
        found = callcenter.find_customers(text, limit=5)
        nobody = _("No customer matches “%(q)s”.", q=text)
    if not found:
        raise svc.ContactError(nobody, "customer")
    if len(found) > 1:
        raise svc.ContactError(_("Several customers match “%(q)s”: give the customer code or the tax code.",
                                 q=text), "customer")
    return found[0]


class ContactView(CustomerTextSearch, SecureModelView):
    datamodel = SQLAInterface(Contact)
    base_permissions = ["can_list", "can_show", "can_reschedule", "can_file"]
    show_template = "admin/contact_show.html"
    list_template = "admin/contact_list.html"
    list_title = show_title = _l("Contacts")
    list_columns = ["starts_at", "kind", "channel", "customer", "subject_text", "operator", "activity", "cancelled"]
    show_columns = ["kind", "channel", "customer", "activity", "operator", "subject_text", "notes", "starts_at",
                    "ends_at", "location", "cancelled", "created_at"]
    search_columns = ["kind", "channel", "customer", "starts_at", "operator", "subject", "cancelled"]
    order_columns = ["starts_at", "kind"]
    base_order = ("starts_at", "desc")
    search_form_query_rel_fields = {"operator": [["customer_id", FilterEqual, None]]}
    label_columns = {"starts_at": _l("When"), "ends_at": _l("Until"), "kind": _l("Kind"),
                     "customer": _l("Customer"), "subject": _l("Subject"),
                     "subject_text": _l("Subject"), "operator": _l("Operator"),
                     "activity": _l("Request"), "cancelled": _l("Cancelled"), "notes": _l("Notes"),
                     "location": _l("Where"), "created_at": _l("Filed at"), "channel": _l("Channel")}
    formatters_columns = {"starts_at": datetime_formatter, "ends_at": datetime_formatter,
                          "created_at": datetime_formatter}

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk, form=None):
        contact = self._get_visible_or_404(pk)
        if form is None:
            form = RescheduleForm(data={"starts_at": utc_to_local(contact.starts_at),
                                        "ends_at": utc_to_local(contact.ends_at), "location": contact.location})
        movable = (contact.kind == ContactKind.APPOINTMENT and not contact.cancelled
                   and self.appbuilder.sm.has_access("can_reschedule", self.class_permission_name))
        return self.render_template(self.show_template, pk=contact.id, title=self.show_title,
                                    widgets=self._show(contact.id), related_views=self._related_views,
                                    contact=contact, form=form, movable=movable)

    @expose("/reschedule/<pk>", methods=["POST"])
    @has_access
    @permission_name("reschedule")
    def reschedule(self, pk):
        """Move an appointment: everyone invited gets the updated invitation."""
        contact = self._get_visible_or_404(pk)
        form = RescheduleForm()
        if not form.validate_on_submit():
            return self.show(pk, form=form), 400
        try:
            svc.reschedule_appointment(contact, current_user, local_to_utc(form.starts_at.data),
                                       local_to_utc(form.ends_at.data), form.location.data or "",
                                       invite_customer=bool(form.invite_customer.data))
        except svc.ContactError as exc:
            db.session.rollback()
            form.ends_at.errors = [str(exc)]
            return self.show(pk, form=form), 400
        flash(_("The appointment has been moved; the invitation is updated."), "success")
        return redirect(url_for(f"{self.endpoint}.show", pk=contact.id))

    @staticmethod
    def customer_rows(ids):
        return Contact.customer_id.in_(ids)

    @expose("/file", methods=["GET", "POST"])
    @has_access
    @permission_name("file")
    def file(self):
        """File a contact, with or without a customer; an appointment sends its invitation."""
        form = FileContactForm()
        if request.method == "GET" and request.args.get("customer"):
            form.customer.data = request.args["customer"][:120]
        if form.validate_on_submit():
            kind = ContactKind(form.kind.data)
            try:
                if kind == ContactKind.APPOINTMENT and not form.starts_at.data:
                    raise svc.ContactError(_("An appointment needs a date and time."), "starts_at")
                text = (form.customer.data or "").strip()
                customer = find_customer(current_user, text) if text else None
                contact = svc.create_contact(
                    kind, current_user, customer_id=customer.id if customer else None,
                    subject=form.subject.data, notes=form.notes.data or "",
                    starts_at=local_to_utc(form.starts_at.data), ends_at=local_to_utc(form.ends_at.data),
                    location=form.location.data or "", invite_customer=bool(form.invite_customer.data),
                    channel=contact_channel(current_user))
            except svc.ContactError as exc:
                db.session.rollback()
                field = getattr(form, exc.field or "", None) or form.ends_at
                field.errors = list(field.errors or []) + [str(exc)]
            else:
                flash(_("The contact has been filed."), "success")
                return redirect(url_for(f"{self.endpoint}.show", pk=contact.id))
        status = 400 if request.method == "POST" else 200
        return self.render_template("admin/contact_file.html", form=form, title=_("New contact"),
                                    list_url=url_for(f"{self.endpoint}.list")), status

    @action("cancel_appointment", _l("Cancel appointment"),
            confirmation=_l("Cancel the selected appointments? Everyone invited is told."),
            icon="fa-calendar-times-o", multiple=True, single=False)
    def cancel_appointment(self, items):
        items = items if isinstance(items, list) else [items]
        done = 0
        for contact in items:
            try:
                svc.cancel_appointment(contact, current_user, invite_customer=True)
                done += 1
            except svc.ContactError as exc:
                db.session.rollback()
                flash(f"{contact.subject_text}: {exc}", "warning")
        if done:
            flash(_("%(n)s appointments cancelled.", n=done), "success")
        return redirect(url_for(f"{self.endpoint}.list"))


def _current_user_id():
    return current_user.id


class MyContactView(ContactView):
    list_title = _l("My contacts")
    base_filters = [["operator_id", FilterEqualFunction, _current_user_id]]
    search_columns = ["kind", "starts_at", "subject", "cancelled"]


def register(appbuilder) -> None:
    appbuilder.add_view(MyContactView, "My contacts", label=_l("My contacts"), icon="fa-address-book-o",
                        category="CRM", category_label=_l("CRM"), category_icon="fa-tasks")
    appbuilder.add_view(ContactView, "Contacts", label=_l("All contacts"), icon="fa-address-book",
                        category="CRM")
