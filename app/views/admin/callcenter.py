"""Call center (F-25) and customer timeline (F-26) pages.

One search box finds a customer by any identifier; the customer's page shows every request
with its status and history and records the call (a contact), plans a contact or opens a new
request. The timeline shows everything about the customer, newest first.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateTimeLocalField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, Optional

from app.extensions import db
from app.i18n import gettext as _, lazy_gettext as _l
from app.models import ActivityKind, Channel, ContactKind, Customer
from app.models.activity import AUTOMATIC_KINDS
from app.roles import BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER
from app.services.crm import activities as activity_svc
from app.services.crm import callcenter
from app.services.crm import contacts as svc
from app.services.crm.timeline import customer_timeline

from app.services.core.masking import mask
from .contacts import contact_channel
from .crm import local_to_utc

SEARCH = ("can_search",)
RECORD = ("can_record",)
ROLE_GRANTS = {
    CALL_CENTER: {"CallCenterView": SEARCH + RECORD, "CustomerTimelineView": ("can_show",)},
    BACK_OFFICE: {"CallCenterView": SEARCH + RECORD, "CustomerTimelineView": ("can_show",)},
    MANAGER: {"CallCenterView": SEARCH + RECORD, "CustomerTimelineView": ("can_show",)},
    CREDIT_CHECK: {"CustomerTimelineView": ("can_show",)},
}

MANUAL_KINDS = [k for k in ActivityKind if k not in AUTOMATIC_KINDS]


class CallForm(FlaskForm):
    notes = TextAreaField(_l("What was said"), validators=[DataRequired(), Length(max=4000)])
    activity = SelectField(_l("About the request"), coerce=int, validate_choice=False,
                           validators=[Optional()])


class ContactForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[(k.value, k.label) for k in ContactKind])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])
    starts_at = DateTimeLocalField(_l("When"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    ends_at = DateTimeLocalField(_l("Until"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    location = StringField(_l("Where"), validators=[Optional(), Length(max=200)])
    activity = SelectField(_l("About the request"), coerce=int, validate_choice=False,
                           validators=[Optional()])
    invite_customer = BooleanField(_l("Send the invitation to the customer too"))


class RequestForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[(k.value, k.label) for k in MANUAL_KINDS])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)])
    note = TextAreaField(_l("Details"), validators=[Optional(), Length(max=4000)])


class CallCenterView(BaseView):
    """Find a customer by any identifier; their requests; record the call."""

    route_base = "/callcenter"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("search")
    def index(self):
        q = request.args.get("q", "").strip()[:120]
        results = callcenter.search_rows(q) if q else []  # plain rows, no ORM object each
        if q and len(results) == 1 and request.args.get("go") != "0":
            return redirect(url_for(".customer", customer_id=results[0].id))
        # Each result links to its customer page: one address built, the id appended per row.
        customer_url = url_for(".customer", customer_id=1).rsplit("/", 1)[0] + "/"
        # Search results are a list: tax codes masked for every role (full on the detail page).
        return self.render_template("admin/callcenter.html", q=q, results=results, masked=mask,
                                    customer_url=customer_url, title=_("Call center"))

    def _customer_or_404(self, customer_id: int) -> Customer:
        customer = db.session.get(Customer, customer_id)
        if customer is None:
            abort(404)
        return customer

    def _forms(self, customer, call=None, contact=None, new=None):
        open_requests = callcenter.customer_requests(customer)
        choices = [(0, "—")] + [(a.id, f"#{a.id} {a.kind.label}: {a.subject_text}") for a in open_requests]
        call = call or CallForm(prefix="call")
        contact = contact or ContactForm(prefix="contact")
        call.activity.choices = contact.activity.choices = choices
        return open_requests, call, contact, new or RequestForm(prefix="new")

    @expose("/customer/<int:customer_id>")
    @has_access
    @permission_name("search")
    def customer(self, customer_id, call=None, contact=None, new=None):
        customer = self._customer_or_404(customer_id)
        requests_, call, contact, new = self._forms(customer, call, contact, new)
        sm = self.appbuilder.sm
        return self.render_template("admin/callcenter_customer.html", customer=customer,
                                    requests=requests_, call=call, contact=contact, new=new,
                                    invoice_mails=callcenter.invoice_mail_log(customer),
                                    can_file=sm.has_access("can_file", "ContactView"),
                                    can_record=sm.has_access("can_record", self.class_permission_name),
                                    can_open=sm.has_access("can_show", "ActivityView"),
                                    can_timeline=sm.has_access("can_show", "CustomerTimelineView"),
                                    action_labels=activity_svc.ACTION_LABELS,
                                    title=customer.display_name)

    @expose("/customer/<int:customer_id>/call", methods=["POST"])
    @has_access
    @permission_name("record")
    def record_call(self, customer_id):
        customer = self._customer_or_404(customer_id)
        form = CallForm(prefix="call")
        self._forms(customer, call=form)
        if not form.validate_on_submit():
            return self.customer(customer_id, call=form), 400
        try:
            svc.record_call(customer, current_user, form.notes.data, activity_id=form.activity.data or None)
        except svc.ContactError as exc:
            db.session.rollback()
            form.activity.errors = [str(exc)]
            return self.customer(customer_id, call=form), 400
        flash(_("The call has been recorded."), "success")
        return redirect(url_for(".customer", customer_id=customer.id))

    @expose("/customer/<int:customer_id>/contact", methods=["POST"])
    @has_access
    @permission_name("record")
    def add_contact(self, customer_id):
        customer = self._customer_or_404(customer_id)
        form = ContactForm(prefix="contact")
        self._forms(customer, contact=form)
        ok = form.validate_on_submit()
        kind = ContactKind(form.kind.data) if form.kind.data in {k.value for k in ContactKind} else None
        if ok and kind == ContactKind.APPOINTMENT and not form.starts_at.data:
            form.starts_at.errors = [_("An appointment needs a date and time.")]
            ok = False
        if not ok or kind is None:
            return self.customer(customer_id, contact=form), 400
        try:
            svc.create_contact(kind, current_user, customer_id=customer.id, subject=form.subject.data,
                               notes=form.notes.data or "", starts_at=local_to_utc(form.starts_at.data),
                               ends_at=local_to_utc(form.ends_at.data), location=form.location.data or "",
                               activity_id=form.activity.data or None,
                               invite_customer=bool(form.invite_customer.data),
                               channel=contact_channel(current_user))
        except svc.ContactError as exc:
            db.session.rollback()
            form.ends_at.errors = [str(exc)]
            return self.customer(customer_id, contact=form), 400
        flash(_("The contact has been filed."), "success")
        return redirect(url_for(".customer", customer_id=customer.id))

    @expose("/customer/<int:customer_id>/request", methods=["POST"])
    @has_access
    @permission_name("record")
    def new_request(self, customer_id):
        customer = self._customer_or_404(customer_id)
        form = RequestForm(prefix="new")
        if not form.validate_on_submit():
            return self.customer(customer_id, new=form), 400
        roles = {r.name for r in current_user.roles}
        channel = Channel.PHONE if CALL_CENTER in roles else Channel.BACK_OFFICE
        activity = callcenter.open_request(customer, current_user, ActivityKind(form.kind.data),
                                           form.subject.data, form.note.data or "", channel=channel)
        flash(_("Request no. %(id)s opened.", id=activity.id), "success")
        return redirect(url_for(".customer", customer_id=customer.id))


class CustomerTimelineView(BaseView):
    """Everything about one customer on one page, newest first (F-26)."""

    route_base = "/timeline"
    default_view = "show"

    @expose("/<int:customer_id>")
    @has_access
    def show(self, customer_id):
        customer = db.session.get(Customer, customer_id)
        if customer is None:
            abort(404)
        events = customer_timeline(customer)
        sm = self.appbuilder.sm
        views = {e.link[0] for e in events if e.link}
        linkable = {v for v in views if sm.has_access("can_show", v)}  # once per view, not per row
        return self.render_template("admin/timeline.html", customer=customer, events=events,
                                    linkable=linkable,
                                    can_call=sm.has_access("can_search", "CallCenterView"),
                                    title=_("Timeline of %(name)s", name=customer.display_name))


def register(appbuilder) -> None:
    appbuilder.add_view(CallCenterView, "Call center", label=_l("Call center"), icon="fa-phone",
                        category="CRM", category_label=_l("CRM"), category_icon="fa-tasks")
    appbuilder.add_view_no_menu(CustomerTimelineView)
