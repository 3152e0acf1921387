"""Back-office views of general contacts (F-23): search and list; cancel appointments.

Contacts are filed from the customer's call-center page; here staff search them by kind,
date, operator and customer, and cancel planned appointments (the invitation is cancelled).
Agents and operators see their own contacts in `MyContactView`.
"""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, StringField
from wtforms.validators import DataRequired, Length, Optional
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterEqualFunction
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user

from app.extensions import db
from app.models import Contact, ContactKind
from app.roles import AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER, READ
from app.services.crm import contacts as svc

from .base import SecureModelView
from .crm import datetime_formatter, local_to_utc, utc_to_local

CANCEL = ("cancel_appointment", "can_reschedule")
ROLE_GRANTS = {
    MANAGER: {"ContactView": READ + CANCEL, "MyContactView": READ + CANCEL},
    BACK_OFFICE: {"ContactView": READ + CANCEL, "MyContactView": READ + CANCEL},
    CALL_CENTER: {"ContactView": READ + CANCEL, "MyContactView": READ + CANCEL},
    CREDIT_CHECK: {"MyContactView": READ},
    AGENT: {"MyContactView": READ + CANCEL},
}


class RescheduleForm(FlaskForm):
    starts_at = DateTimeLocalField(_l("When"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    ends_at = DateTimeLocalField(_l("Until"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    location = StringField(_l("Where"), validators=[Optional(), Length(max=200)])
    invite_customer = BooleanField(_l("Send the invitation to the customer too"))


class ContactView(SecureModelView):
    datamodel = SQLAInterface(Contact)
    base_permissions = ["can_list", "can_show", "can_reschedule"]
    show_template = "admin/contact_show.html"
    list_title = show_title = _l("Contacts")
    list_columns = ["starts_at", "kind", "customer", "subject", "operator", "activity", "cancelled"]
    show_columns = ["kind", "customer", "activity", "operator", "subject", "notes", "starts_at",
                    "ends_at", "location", "cancelled", "created_at"]
    search_columns = ["kind", "starts_at", "operator", "subject", "cancelled"]
    order_columns = ["starts_at", "kind"]
    base_order = ("starts_at", "desc")
    search_form_query_rel_fields = {"operator": [["customer_id", FilterEqual, None]]}
    label_columns = {"starts_at": _l("When"), "ends_at": _l("Until"), "kind": _l("Kind"),
                     "customer": _l("Customer"), "subject": _l("Subject"), "operator": _l("Operator"),
                     "activity": _l("Request"), "cancelled": _l("Cancelled"), "notes": _l("Notes"),
                     "location": _l("Where"), "created_at": _l("Filed at")}
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
                flash(f"{contact.subject}: {exc}", "warning")
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
