"""The system status page (Admin only): this node's readiness checks, as `/readyz` makes them,
plus alignment age, outbox depth and the age of its oldest waiting row, e-mail failures, the
scheduler processes' heartbeats, the running version and the migration revision."""
from __future__ import annotations

import datetime as dt

from flask import current_app
from flask_appbuilder import BaseView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_timedelta

from app.i18n import gettext as _, lazy_gettext as _l
from app.services.ops import health, status
from app.services.ops.version import app_version
from app.views.display import OPERATION_LABELS, label_of

ROLE_GRANTS: dict = {}  # Admin only (Admin holds every permission)


def _checks(ready: health.Readiness) -> list[dict]:
    labels = {"database": _("Database"), "migrations": _("Database schema up to date"),
              "redis": _("Rate limiter storage (Redis)"), "billing": _("Billing system"),
              "smtp": _("Mail server (SMTP)")}
    effects = {"database": _("This node can't serve: the proxy takes it out of rotation."),
               "migrations": _("This node can't serve until `flask db upgrade` runs."),
               "redis": _("This node can't serve: rate limits could not be counted."),
               "billing": _("Pages show the local copy; writes wait in the outbox and go out when billing answers."),
               "smtp": _("E-mails wait in their queues and go out when the mail server answers.")}
    return [{"name": name, "label": labels.get(name, name), "ok": ok, "effect": "" if ok else effects.get(name, "")}
            for name, ok in ready.checks.items()]


def age(seconds: float | None) -> str:
    if seconds is None:
        return _("never")
    return format_timedelta(dt.timedelta(seconds=seconds), add_direction=False)


class SystemStatusView(BaseView):
    route_base = "/system-status"
    default_view = "show"

    @expose("/")
    @has_access
    def show(self):
        health.SOFT.clear()  # the admin sees the state now; the next probe asks again
        ready = health.readiness()
        depth = status.outbox_depth()
        context = {
            "ready": ready, "checks": _checks(ready),
            "alignment_age": status.alignment_age(), "outbox": depth,
            "outbox_total": sum(d.waiting for d in depth),
            "outbox_oldest": max((d.oldest_age for d in depth), default=None),
            "outbox_failed": status.outbox_failed(), "mail": status.mail_state(),
            "heartbeats": status.heartbeats(current_app.config.get("SCHEDULER_CHECK_SECONDS", 30)),
            "version": app_version(), "age": age,
            "operation_label": lambda key: label_of(key, OPERATION_LABELS),
        }
        return self.render_template("admin/system_status.html", title=_("System status"), **context)


def register(appbuilder) -> None:
    appbuilder.add_view(SystemStatusView, "System status", label=_l("System status"), icon="fa-heartbeat",
                        category="System", category_label=_l("System"), category_icon="fa-cogs")
