"""Back-office views of CRM activities (F-20, F-22): every request, and "my requests".

Status is never a free edit field: the detail page shows the history and one form whose
buttons are the actions the transition table allows the user now (`app/services/activities`);
the list's bulk action "take in charge" calls the same service. Agents and operators see the
activities assigned to them in `MyActivityView`.
"""
from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.baseviews import expose
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterEqualFunction
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, SelectField, TextAreaField
from wtforms.validators import Length, Optional

from app.clock import ROME
from app.extensions import db
from app.i18n import gettext as _, lazy_gettext as _l, ngettext
from app.models import Activity, ActivityStatus, SportelloUser
from app.roles import AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER, READ
from app.services.crm import activities as svc
from app.services.crm import queues

from app.formatting import format_moment
from app.views.display import EMPTY, mapping

from .base import SecureModelView

WORK = ("can_work", "take_in_charge")
ROLE_GRANTS = {
    MANAGER: {"ActivityView": READ + WORK, "MyActivityView": READ + WORK},
    BACK_OFFICE: {"ActivityView": READ + WORK, "MyActivityView": READ + WORK},
    CALL_CENTER: {"ActivityView": READ, "MyActivityView": READ + WORK},
    CREDIT_CHECK: {"MyActivityView": READ + WORK},
    AGENT: {"MyActivityView": READ + WORK},
}
# The work queues (start page, F-20): everyone's for those who dispatch, one's own for all.
for _role in (MANAGER, BACK_OFFICE):
    ROLE_GRANTS[_role].update({v: READ + WORK for v in ("NewActivityView", "OverdueActivityView",
                                                        "DueTodayActivityView")})
for _role in (MANAGER, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, AGENT):
    ROLE_GRANTS[_role].update({v: READ + WORK for v in ("MyOverdueActivityView", "MyDueTodayActivityView")})

# Actions people take from the detail page (the others are the system's or the customer's).
STAFF_ACTIONS = ("assign", "reschedule", "start", "close", "reject", "cancel", "reopen")
NOTE_REQUIRED = {"reject", "cancel", "reopen"}
BUTTON_LABELS = {"assign": _l("Assign"), "reschedule": _l("Change the deadline"),
                 "start": _l("Take in charge"), "close": _l("Close the request"),
                 "reject": _l("Reject"), "cancel": _l("Cancel the request"), "reopen": _l("Reopen")}


def datetime_formatter(value):
    return format_moment(value) if value else EMPTY


def payload_formatter(value):
    """The request's data as label/value lines (a detail page): bank data and tax codes in
    clear only for the roles that may see them."""
    return mapping(value, clear=True) if value else EMPTY


def local_to_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A time typed in Rome (naive) as the naive UTC the database stores."""
    if value is None:
        return None
    return value.replace(tzinfo=ROME).astimezone(dt.UTC).replace(tzinfo=None)


def utc_to_local(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC).astimezone(ROME).replace(tzinfo=None)


class WorkForm(FlaskForm):
    """One form for every step on an activity; the button pressed is the action."""

    action = HiddenField()
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=4000)])
    assignee = SelectField(_l("Assign to"), coerce=int, validate_choice=False, validators=[Optional()])
    deadline = DateTimeLocalField(_l("Deadline"), format="%Y-%m-%dT%H:%M", validators=[Optional()])

    def check(self, action_name: str) -> bool:
        ok = True
        if action_name in ("assign", "reschedule"):
            if not self.deadline.data:
                self.deadline.errors = list(self.deadline.errors) + [_("Enter the deadline (date and time).")]
                ok = False
            elif local_to_utc(self.deadline.data) <= dt.datetime.now(dt.UTC).replace(tzinfo=None):
                self.deadline.errors = list(self.deadline.errors) + [_("The deadline must be in the future.")]
                ok = False
        if action_name == "assign" and not self.assignee.data:
            self.assignee.errors = list(self.assignee.errors) + [_("Choose who will handle the request.")]
            ok = False
        if action_name in NOTE_REQUIRED and not (self.note.data or "").strip():
            self.note.errors = list(self.note.errors) + [_("Write the reason: it is kept in the history.")]
            ok = False
        return ok


class ActivityView(SecureModelView):
    """Every activity, whatever its kind and channel (F-20)."""

    datamodel = SQLAInterface(Activity)
    base_permissions = ["can_list", "can_show", "can_work"]
    list_title = _l("Requests")
    show_title = _l("Request")
    show_template = "admin/activity_show.html"
    # Subjects written by the product are stored as keys: lists and pages show them translated.
    list_columns = ["id", "created_at", "kind", "channel", "customer", "subject_text", "status",
                    "assignee", "deadline"]
    show_columns = ["id", "reference", "kind", "channel", "status", "customer", "supply_point", "invoice",
                    "subject_text", "contact_name", "contact_email", "contact_phone", "payload",
                    "assignee", "deadline", "created_by", "created_at", "updated_at", "closed_at"]
    search_columns = ["status", "kind", "channel", "assignee", "deadline", "created_at", "subject"]
    order_columns = ["id", "created_at", "deadline", "status", "kind"]
    base_order = ("created_at", "desc")
    # Staff and agents only in the operator filter (portal customers are users too).
    search_form_query_rel_fields = {"assignee": [["customer_id", FilterEqual, None]]}
    label_columns = {"id": _l("No."), "created_at": _l("Received"), "kind": _l("Kind"),
                     "channel": _l("Channel"), "customer": _l("Customer"), "subject": _l("Subject"),
                     "subject_text": _l("Subject"), "reference": _l("Reference"),
                     "status": _l("Status"), "assignee": _l("Assignee"), "deadline": _l("Deadline"),
                     "supply_point": _l("Supply point"), "invoice": _l("Invoice"),
                     "contact_name": _l("Contact name"), "contact_email": _l("Contact e-mail"),
                     "contact_phone": _l("Contact phone"), "payload": _l("Data"),
                     "created_by": _l("Entered by"), "updated_at": _l("Last change"),
                     "closed_at": _l("Closed at")}
    formatters_columns = {"created_at": datetime_formatter, "deadline": datetime_formatter,
                          "updated_at": datetime_formatter, "closed_at": datetime_formatter,
                          "payload": payload_formatter}

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk, form: WorkForm | None = None):
        activity = self._get_visible_or_404(pk)
        widgets = self._show(activity.id)
        return self.render_template(self.show_template, pk=activity.id, title=self.show_title,
                                    widgets=widgets, related_views=self._related_views,
                                    activity=activity, form=form or self._work_form(activity),
                                    **self._work_context(activity))

    def _work_form(self, activity) -> WorkForm:
        form = WorkForm()
        users = db.session.scalars(svc.assignable_users_query()).all()
        form.assignee.choices = [(0, "—")] + [(u.id, _user_label(u)) for u in users]
        if request.method == "GET":
            form.assignee.data = activity.assignee_id or 0
            form.deadline.data = utc_to_local(activity.deadline)
        return form

    def _work_context(self, activity) -> dict:
        allowed = [a for a in svc.allowed_actions(activity, current_user) if a in STAFF_ACTIONS]
        can_work = self.appbuilder.sm.has_access("can_work", self.class_permission_name)
        return {"actions": allowed if can_work else [], "can_work": can_work,
                "action_labels": svc.ACTION_LABELS, "button_labels": BUTTON_LABELS, "history": activity.history,
                "status_cls": ActivityStatus}

    @expose("/work/<pk>", methods=["POST"])
    @has_access
    @permission_name("work")
    def work(self, pk):
        activity = self._get_visible_or_404(pk)
        form = self._work_form(activity)
        name = request.form.get("action", "")
        if name not in STAFF_ACTIONS + ("note",):
            abort(400)
        if not form.validate_on_submit() or not form.check(name):
            flash(_("Check the fields marked in red."), "danger")
            return self.show(pk, form=form), 400
        note = (form.note.data or "").strip()
        try:
            if name == "assign":
                assignee = db.session.get(SportelloUser, form.assignee.data)
                svc.assign(activity, current_user, assignee, local_to_utc(form.deadline.data), note)
            elif name == "reschedule":
                svc.reschedule(activity, current_user, local_to_utc(form.deadline.data), note)
            elif name == "note":
                if not note:
                    flash(_("Write the note first."), "warning")
                    return redirect(url_for(f"{self.endpoint}.show", pk=activity.id))
                svc.add_note(activity, current_user, note)
            else:
                svc.transition(activity, name, current_user, note)
        except svc.TransitionError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for(f"{self.endpoint}.show", pk=activity.id))
        flash(_("Saved: %(step)s.", step=svc.ACTION_LABELS.get(name, name)), "success")
        return redirect(self.landing_url(activity, "MyActivityView", "ActivityView"))

    @action("take_in_charge", _l("Take in charge"), confirmation=None, icon="fa-hand-paper-o",
            multiple=True, single=False)
    def take_in_charge(self, items):
        """Start work on the selected activities assigned to the user."""
        items = items if isinstance(items, list) else [items]
        done, refused = 0, 0
        for activity in items:
            try:
                svc.transition(activity, "start", current_user)
                done += 1
            except svc.TransitionError:
                db.session.rollback()
                refused += 1
        if done:
            flash(ngettext("%(num)d request taken in charge.", "%(num)d requests taken in charge.", done),
                  "success")
        if refused:
            flash(ngettext("%(num)d request could not be taken in charge (not assigned to you or not in "
                           "that state).", "%(num)d requests could not be taken in charge (not assigned to "
                           "you or not in that state).", refused), "warning")
        return redirect(url_for(f"{self.endpoint}.list"))


def _current_user_id():
    return current_user.id


class MyActivityView(ActivityView):
    """The activities assigned to the logged-in operator or agent."""

    list_title = _l("My requests to handle")
    base_filters = [["assignee_id", FilterEqualFunction, _current_user_id]]
    search_columns = ["status", "kind", "channel", "deadline", "created_at", "subject"]
    base_order = ("deadline", "asc")


class QueueFilter(BaseFilter):
    """A base filter that applies a queue's SQL condition (`app.services.crm.queues`): the list
    then holds exactly the rows the start page counts."""

    name = "queue"

    def apply(self, query, value):
        return query.filter(value())


def _mine(condition):
    return lambda: queues.assigned_to(current_user, condition())


def _queue_view(name: str, base: type, title, condition, order=("deadline", "asc")) -> type:
    """A list of the activities in one work queue (the start page links it)."""
    return type(name, (base,), {"__doc__": f"Work queue: {name}.", "list_title": title,
                                "base_filters": [["id", QueueFilter, condition]], "base_order": order})


NewActivityView = _queue_view("NewActivityView", ActivityView, _l("New requests to assign"),
                              queues.new_requests, ("created_at", "asc"))
OverdueActivityView = _queue_view("OverdueActivityView", ActivityView, _l("Requests overdue"), queues.overdue)
DueTodayActivityView = _queue_view("DueTodayActivityView", ActivityView, _l("Requests due today"),
                                   queues.due_today)
MyOverdueActivityView = _queue_view("MyOverdueActivityView", MyActivityView, _l("My requests overdue"),
                                    _mine(queues.overdue))
MyDueTodayActivityView = _queue_view("MyDueTodayActivityView", MyActivityView, _l("My requests due today"),
                                     _mine(queues.due_today))


def _user_label(user) -> str:
    name = f"{user.first_name} {user.last_name}".strip()
    return f"{name} ({user.username})" if name else user.username


def register(appbuilder) -> None:
    crm = "CRM"
    appbuilder.add_view(MyActivityView, "My requests", label=_l("My requests to handle"),
                        icon="fa-inbox", category=crm, category_label=_l("CRM"),
                        category_icon="fa-tasks")
    menu = ((MyOverdueActivityView, "My requests overdue", "fa-exclamation-circle"),
            (MyDueTodayActivityView, "My requests due today", "fa-clock-o"),
            (ActivityView, "Requests", "fa-tasks"),
            (NewActivityView, "New requests", "fa-inbox"),
            (OverdueActivityView, "Requests overdue", "fa-exclamation-triangle"),
            (DueTodayActivityView, "Requests due today", "fa-calendar-check-o"))
    for view, name, icon in menu:
        label = _l("All requests") if view is ActivityView else view.list_title
        appbuilder.add_view(view, name, label=label, icon=icon, category=crm)
