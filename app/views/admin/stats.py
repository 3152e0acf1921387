"""Statistics page (F-24): filters, tables with SVG charts next to them, CSV export."""
from __future__ import annotations

from flask import Response, request
from flask_appbuilder import BaseView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional

from app.extensions import db
from app.i18n import gettext as _, lazy_gettext as _l
from app.models import ActivityKind, ActivityStatus, Channel
from app.roles import MANAGER
from app.services.crm import stats as svc
from app.services.crm.activities import assignable_users_query
from app.views.charts import bar_chart
from app.views.input_guard import ascii_int

ROLE_GRANTS = {MANAGER: {"StatisticsView": ("can_show", "can_export")}}


def _user_id(value) -> int:
    """A user id from the form: ASCII digits that fit the database (ValueError otherwise)."""
    number = value if isinstance(value, int) else ascii_int(value)
    if number is None:
        raise ValueError(value)
    return number


class StatsForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form: it changes nothing

    date_from = DateField(_l("Received from"), validators=[Optional()])
    date_to = DateField(_l("Received until"), validators=[Optional()])
    operator = SelectField(_l("Operator"), coerce=_user_id, validate_choice=False, validators=[Optional()])
    kind = SelectField(_l("Kind"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])
    channel = SelectField(_l("Channel"), validators=[Optional()])


def _form() -> StatsForm:
    form = StatsForm(request.args)
    users = db.session.scalars(assignable_users_query()).all()
    form.operator.choices = [(0, "—")] + [(u.id, f"{u.first_name} {u.last_name} ({u.username})".strip())
                                          for u in users]
    form.kind.choices = [("", "—")] + [(k.name, k.label) for k in ActivityKind]
    form.status.choices = [("", "—")] + [(k.name, k.label) for k in ActivityStatus]
    form.channel.choices = [("", "—")] + [(k.name, k.label) for k in Channel]
    return form


def _filters(form: StatsForm) -> svc.Filters:
    def member(enum_cls, name):
        return enum_cls[name] if name and name in enum_cls.__members__ else None

    return svc.Filters(date_from=form.date_from.data, date_to=form.date_to.data,
                       operator_id=form.operator.data or None,
                       kind=member(ActivityKind, form.kind.data),
                       status=member(ActivityStatus, form.status.data),
                       channel=member(Channel, form.channel.data))


class StatisticsView(BaseView):
    route_base = "/statistics"
    default_view = "show"

    @expose("/")
    @has_access
    def show(self):
        form = _form()
        form.validate()
        rep = svc.report(_filters(form))
        titles = {"kind": _("By kind"), "status": _("By status"), "channel": _("By channel"),
                  "operator": _("By operator"), "month": _("By month of receipt")}
        charts = {dim: bar_chart([r.label for r in rows], [r.count for r in rows], title=titles[dim])
                  for dim, rows in rep.groups.items() if rows}
        contact_titles = {"kind": _("Contacts by kind"), "channel": _("Contacts by channel"),
                          "operator": _("Contacts by operator"), "month": _("Contacts by month")}
        contact_headers = {"kind": _("Kind"), "channel": _("Channel"), "operator": _("Operator"),
                           "month": _("Month")}
        contact_charts = {dim: bar_chart([r.label for r in rows], [r.count for r in rows],
                                         title=contact_titles[dim])
                          for dim, rows in rep.contact_groups.items() if rows}
        return self.render_template("admin/statistics.html", form=form, report=rep, titles=titles,
                                    charts=charts, contact_titles=contact_titles, contact_headers=contact_headers,
                                    contact_charts=contact_charts,
                                    query=request.query_string.decode(), title=_("Statistics"))

    @expose("/csv")
    @has_access
    @permission_name("export")
    def csv(self):
        form = _form()
        form.validate()
        filters = _filters(form)
        if request.args.get("detail"):
            body, name = svc.activities_csv(filters), "requests.csv"
        else:
            body, name = svc.report_csv(svc.report(filters)), "statistics.csv"
        return Response("\ufeff" + body, mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def register(appbuilder) -> None:
    appbuilder.add_view(StatisticsView, "Statistics", label=_l("Statistics"), icon="fa-bar-chart",
                        category="CRM", category_label=_l("CRM"), category_icon="fa-tasks")
