"""Prospects (F-17): an agent's potential customers, the managers' pipeline and statistics.

Agents enter their prospects, record consents, log contacts, plan follow-ups, move them through
the pipeline and convert them into a contract draft; managers read every agent's pipeline and
the conversion statistics (menu links below). Every prospect is loaded through
`prospects.get_or_404`; every change is a POST with its CSRF token that lands on the prospect's
page with a message.
"""
from __future__ import annotations

import datetime as dt

from flask import Response, abort, flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.clock import ROME
from app.i18n import gettext as _, lazy_gettext as _l
from app.models import (ConsentChannel, ConsentSource, ContactKind, LostReason,
                        ProspectSource, ProspectStatus, Service)
from app.models.prospect import CONSUMPTION_UNITS
from app.roles import MANAGER
from app.services.sales import prospects as svc

from . import bp
from .common import ActionForm, PostForm, render, sales_access
from .forms import CustomerForm

REQUIRED = _l("Please fill in this field.")

# Managers reach the pipeline and the statistics from the staff menu (links, see `register`).
PIPELINE_LINK, STATS_LINK = "Prospect pipeline", "Prospect statistics"
ROLE_GRANTS = {MANAGER: {PIPELINE_LINK: ("menu_access",), STATS_LINK: ("menu_access",)}}


def register(appbuilder) -> None:
    appbuilder.add_link(PIPELINE_LINK, href="/sales/prospects/", label=_l("Prospect pipeline"),
                        icon="fa-filter", category="Sales network")
    appbuilder.add_link(STATS_LINK, href="/sales/prospects/statistics", label=_l("Prospect statistics"),
                        icon="fa-line-chart", category="Sales network")


@bp.context_processor
def _navigation():
    return {"sees_prospects": lambda: svc.may_open(current_user)}


# --- forms ----------------------------------------------------------------------------------------

class ProspectForm(FlaskForm):
    # Who they are and how to reach them: the wizard's customer-step fields (same labels, checks).
    kind, last_name, first_name, company_name = (CustomerForm.kind, CustomerForm.last_name,
                                                 CustomerForm.first_name, CustomerForm.company_name)
    tax_code, vat_number, phone, email = (CustomerForm.tax_code, CustomerForm.vat_number,
                                          CustomerForm.phone, CustomerForm.email)
    town = StringField(_l("Town"), [Optional(), Length(max=80)])
    source = SelectField(_l("Source"), choices=ProspectSource.choices, default="referral")
    notes = TextAreaField(_l("Notes"), [Optional(), Length(max=4000)])
    consent_source = SelectField(_l("How the consents were given"), choices=ConsentSource.choices,
                                 default="signed_form")

    def services(self):
        """(service, its tick box, its consumption field or None) for the template."""
        return [(s, self[f"interest_{s.value}"], self._fields.get(f"consumption_{s.value}")) for s in Service]

    def consent_fields(self):
        return [self[f"consent_{c.value}"] for c in ConsentChannel]

    def values(self) -> dict:
        return {name: (self[name].data or "") for name in
                ("kind", "last_name", "first_name", "company_name", "tax_code", "vat_number", "phone", "email",
                 "town", "source", "notes")}

    def interests(self) -> dict[str, int | None]:
        out = {}
        for service, box, amount in self.services():
            if box.data:
                out[service.value] = amount.data if amount is not None and amount.data else None
        return out

    def consents(self) -> dict[str, tuple[bool, str]]:
        return {c.value: (bool(self[f"consent_{c.value}"].data), self.consent_source.data) for c in ConsentChannel}


for _service in Service:
    setattr(ProspectForm, f"interest_{_service.value}", BooleanField(_service.label))
    if CONSUMPTION_UNITS[_service]:
        setattr(ProspectForm, f"consumption_{_service.value}",
                IntegerField(_l("Estimated annual consumption (%(unit)s)", unit=CONSUMPTION_UNITS[_service]),
                             [Optional(), NumberRange(min=1, max=100_000_000, message=_l("Enter a positive number."))]))
for _channel in ConsentChannel:
    setattr(ProspectForm, f"consent_{_channel.value}",
            BooleanField(_l("Agrees to be contacted by %(channel)s", channel=_channel.label)))


class ConsentForm(FlaskForm):
    channel = SelectField(_l("Channel"), choices=ConsentChannel.choices)
    given = SelectField(_l("Consent"), choices=[("1", _l("Given")), ("0", _l("Revoked"))])
    source = SelectField(_l("Source"), choices=ConsentSource.choices)


class ContactForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[(k.value, k.label) for k in
                                            (ContactKind.PHONE_CALL, ContactKind.VISIT, ContactKind.EMAIL)])
    notes = TextAreaField(_l("What was said"), [DataRequired(REQUIRED), Length(max=4000)])


class EmailForm(FlaskForm):
    subject = StringField(_l("Subject"), [DataRequired(REQUIRED), Length(max=200)])
    body = TextAreaField(_l("Message"), [DataRequired(REQUIRED), Length(max=8000)])


class FollowUpForm(FlaskForm):
    subject = StringField(_l("What is to be done"), [DataRequired(REQUIRED), Length(max=200)])
    day = DateField(_l("Deadline"), [DataRequired(REQUIRED)])
    time = TimeField(_l("Time"), [Optional()])
    note = TextAreaField(_l("Note"), [Optional(), Length(max=2000)])

    def deadline(self) -> dt.datetime:
        """The deadline typed in Italian time, as naive UTC."""
        local = dt.datetime.combine(self.day.data, self.time.data or dt.time(9, 0), tzinfo=ROME)
        return local.astimezone(dt.UTC).replace(tzinfo=None)


class LoseForm(ActionForm):
    lost_reason = SelectField(_l("Why was it lost?"), choices=[("", _l("Choose a reason")), *LostReason.choices()])


# --- pages ----------------------------------------------------------------------------------------

def _guard():
    if not svc.may_open(current_user):
        abort(403)


@bp.route("/prospects/")
@sales_access
def prospects_page():
    _guard()
    status = request.args.get("status", "")
    agent_id = request.args.get("agent", type=int)
    q = request.args.get("q", "")
    rows = svc.prospects(current_user, status=status, agent_id=agent_id, q=q)
    every = svc.sees_all(current_user)
    counts = svc.pipeline_counts(svc.prospects(current_user, agent_id=agent_id)) if every or rows else []
    return render("sales/prospects.html", prospects=rows, status=status, agent_id=agent_id, q=q,
                  statuses=list(ProspectStatus), counts=counts, every_agent=every,
                  agents=svc.agents_with_prospects() if every else [], can_add=svc.may_work(current_user))


@bp.route("/prospects/new", methods=["GET", "POST"])
@sales_access
def prospect_new():
    if not svc.may_work(current_user):
        abort(403)
    form = ProspectForm()
    if form.validate_on_submit():
        try:
            prospect = svc.create_prospect(current_user, form.values(), form.interests(), form.consents())
        except svc.ProspectError as exc:
            _field_error(form, exc)
        else:
            flash(_("Prospect %(name)s entered.", name=prospect.display_name), "success")
            return redirect(url_for(".prospect_detail", prospect_id=prospect.id))
    elif request.method == "POST":
        flash(_("Please correct the fields marked below."), "danger")
    return render("sales/prospect_form.html", form=form, prospect=None)


@bp.route("/prospects/<int:prospect_id>/edit", methods=["GET", "POST"])
@sales_access
def prospect_edit(prospect_id: int):
    _guard()
    prospect = svc.get_or_404(current_user, prospect_id)
    if not svc.may_change(prospect, current_user):
        abort(403)
    form = ProspectForm(obj=None if request.method == "POST" else prospect)
    if request.method == "GET":
        form.kind.data, form.source.data = prospect.kind.value, prospect.source.value
        for row in prospect.interests:
            form[f"interest_{row.service.value}"].data = True
            field = form._fields.get(f"consumption_{row.service.value}")
            if field is not None:
                field.data = row.annual_consumption
    if form.validate_on_submit():
        try:
            svc.update_prospect(prospect, current_user, form.values(), form.interests())
        except svc.ProspectError as exc:
            _field_error(form, exc)
        else:
            flash(_("Prospect saved."), "success")
            return redirect(url_for(".prospect_detail", prospect_id=prospect.id))
    elif request.method == "POST":
        flash(_("Please correct the fields marked below."), "danger")
    return render("sales/prospect_form.html", form=form, prospect=prospect)


def _field_error(form, exc) -> None:
    field = form._fields.get(exc.field or "")
    if field is not None:
        field.errors = [*field.errors, str(exc)]
    flash(str(exc), "danger")


@bp.route("/prospects/<int:prospect_id>")
@sales_access
def prospect_detail(prospect_id: int):
    _guard()
    prospect = svc.get_or_404(current_user, prospect_id)
    return _detail(prospect)


def _detail(prospect, **forms):
    changeable = svc.may_change(prospect, current_user)
    actions = [a for a in svc.allowed_actions(prospect, current_user) if a in svc.PAGE_ACTIONS]
    action_forms = {a: (LoseForm(action=a) if a == "lose" else ActionForm(action=a)) for a in actions}
    tomorrow = (dt.datetime.now(ROME) + dt.timedelta(days=1)).date()
    follow_form = forms.get("follow_up") or FollowUpForm(formdata=None, data={"day": tomorrow}, prefix="follow")
    return render("sales/prospect_detail.html", prospect=prospect, changeable=changeable,
                  actions=actions, action_forms=action_forms, labels=svc.ACTION_LABELS,
                  consents=svc.consents_in_force(prospect), consent_history=list(reversed(prospect.consents)),
                  email_allowed=svc.has_consent(prospect, ConsentChannel.EMAIL) and bool(prospect.email),
                  history=svc.history_of(prospect), contacts=svc.contacts_of(prospect),
                  follow_ups=svc.follow_ups_of(prospect), can_convert="convert" in svc.allowed_actions(prospect, current_user),
                  consent_form=forms.get("consent") or ConsentForm(formdata=None),
                  contact_form=forms.get("contact") or ContactForm(formdata=None),
                  email_form=forms.get("email") or EmailForm(formdata=None),
                  follow_form=follow_form, post_form=PostForm())


def _back(prospect):
    return redirect(url_for(".prospect_detail", prospect_id=prospect.id))


def _changeable_or_403(prospect_id: int):
    _guard()
    prospect = svc.get_or_404(current_user, prospect_id)
    if not svc.may_change(prospect, current_user):
        abort(403)
    return prospect


@bp.route("/prospects/<int:prospect_id>/action/<action>", methods=["POST"])
@sales_access
def prospect_act(prospect_id: int, action: str):
    _guard()
    prospect = svc.get_or_404(current_user, prospect_id)
    if action not in svc.PAGE_ACTIONS:
        abort(404)
    form = LoseForm() if action == "lose" else ActionForm()
    if not form.validate_on_submit():
        abort(400)
    reason = None
    if action == "lose" and form.lost_reason.data in LostReason.__members__.values():
        reason = LostReason(form.lost_reason.data)
    try:
        svc.transition(prospect, action, current_user, form.reason.data or "", reason=reason)
        flash(_("Done: %(action)s.", action=svc.ACTION_LABELS[action]), "success")
    except svc.ProspectError as exc:
        flash(str(exc), "danger")
    return _back(prospect)


@bp.route("/prospects/<int:prospect_id>/consent", methods=["POST"])
@sales_access
def prospect_consent(prospect_id: int):
    prospect = _changeable_or_403(prospect_id)
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400)
    channel, given = ConsentChannel(form.channel.data), form.given.data == "1"
    row = svc.set_consent(prospect, current_user, channel, given, ConsentSource(form.source.data))
    if row is None:
        flash(_("Nothing to change: the consent for %(channel)s is already so.", channel=channel.label), "info")
    elif given:
        flash(_("Consent to be contacted by %(channel)s recorded.", channel=channel.label), "success")
    else:
        flash(_("Consent to be contacted by %(channel)s revoked.", channel=channel.label), "success")
    return _back(prospect)


@bp.route("/prospects/<int:prospect_id>/contact", methods=["POST"])
@sales_access
def prospect_contact(prospect_id: int):
    prospect = _changeable_or_403(prospect_id)
    form = ContactForm()
    if not form.validate_on_submit():
        flash(_("Write what was said."), "danger")
        return _detail(prospect, contact=form), 422
    try:
        svc.log_contact(prospect, current_user, ContactKind(form.kind.data), form.notes.data)
        flash(_("Contact recorded."), "success")
    except svc.ProspectError as exc:
        flash(str(exc), "danger")
    return _back(prospect)


@bp.route("/prospects/<int:prospect_id>/email", methods=["POST"])
@sales_access
def prospect_email(prospect_id: int):
    prospect = _changeable_or_403(prospect_id)
    form = EmailForm()
    if not form.validate_on_submit():
        flash(_("Please correct the fields marked below."), "danger")
        return _detail(prospect, email=form), 422
    try:
        svc.send_email(prospect, current_user, form.subject.data, form.body.data)
        flash(_("E-mail queued for %(email)s.", email=prospect.email), "success")
    except svc.ProspectError as exc:
        flash(str(exc), "danger")
    return _back(prospect)


@bp.route("/prospects/<int:prospect_id>/follow-up", methods=["POST"])
@sales_access
def prospect_follow_up(prospect_id: int):
    prospect = _changeable_or_403(prospect_id)
    form = FollowUpForm(prefix="follow")  # its subject and note apart from the e-mail form's
    if not form.validate_on_submit():
        flash(_("Please correct the fields marked below."), "danger")
        return _detail(prospect, follow_up=form), 422
    try:
        svc.plan_follow_up(prospect, current_user, form.deadline(), form.subject.data, form.note.data or "")
        flash(_("Follow-up planned: the invitation is in your calendar e-mail."), "success")
    except svc.ProspectError as exc:
        flash(str(exc), "danger")
    return _back(prospect)


@bp.route("/prospects/<int:prospect_id>/follow-up/<int:activity_id>/close", methods=["POST"])
@sales_access
def prospect_follow_up_close(prospect_id: int, activity_id: int):
    prospect = _changeable_or_403(prospect_id)
    if not PostForm().validate_on_submit():
        abort(400)
    try:
        svc.close_follow_up(prospect, current_user, activity_id)
        flash(_("Follow-up done."), "success")
    except svc.ProspectError as exc:
        flash(str(exc), "danger")
    return _back(prospect)


@bp.route("/prospects/<int:prospect_id>/convert", methods=["POST"])
@sales_access
def prospect_convert(prospect_id: int):
    _guard()
    prospect = svc.get_or_404(current_user, prospect_id)
    if not PostForm().validate_on_submit():
        abort(400)
    try:
        contract = svc.convert(prospect, current_user)
    except svc.ProspectError as exc:
        flash(str(exc), "danger")
        return _back(prospect)
    flash(_("Contract %(number)s opened for %(name)s: complete the customer's data.",
            number=contract.number, name=prospect.display_name), "success")
    return redirect(url_for(".step", contract_id=contract.id, step="customer"))


# --- managers: statistics and export ---------------------------------------------------------------

@bp.route("/prospects/statistics")
@sales_access
def prospect_statistics():
    _guard()
    agent_id = request.args.get("agent", type=int)
    month = request.args.get("month", "")
    stats = svc.statistics(current_user, agent_id=agent_id, month=month)
    every = svc.sees_all(current_user)
    return render("sales/prospect_statistics.html", stats=stats, agent_id=agent_id, month=month,
                  agents=svc.agents_with_prospects() if every else [], percent=_percent, month_label=_month_label)


def _percent(value: float) -> str:
    from flask_babel import format_percent

    return format_percent(value, "#,##0.0%")


def _month_label(month: str) -> str:
    from app.formatting import format_date

    return format_date(dt.date(int(month[:4]), int(month[5:7]), 1), "MMMM y").capitalize()


@bp.route("/prospects/statistics.csv")
@sales_access
def prospect_statistics_csv():
    _guard()
    stats = svc.statistics(current_user, agent_id=request.args.get("agent", type=int),
                           month=request.args.get("month", ""))
    return _csv(svc.statistics_csv(stats), "prospect-statistics.csv")


@bp.route("/prospects/export.csv")
@sales_access
def prospects_csv():
    _guard()
    body = svc.prospects_csv(current_user, status=request.args.get("status", ""),
                             agent_id=request.args.get("agent", type=int))
    return _csv(body, "prospects.csv")


def _csv(body: str, name: str) -> Response:
    return Response("\ufeff" + body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
